//! The oracle of DESIGN.md: after a crash, every sector holds its value as of the last
//! flush (or FUA write) that covered it, or a value written to it later — never an
//! older value, never garbage.

use disks::crash::Sectors;

use crate::pattern::Found;
use crate::workload::{Op, OpKind};

#[derive(Clone, Copy, Debug)]
struct SectorWrite {
    value: Found,
    invoked: u64,
    completed: u64,
    ok: bool,
    fua: bool,
}

/// Per-sector write histories and the flushes, ready to answer "what may this sector
/// hold after a crash at time T".
#[derive(Debug)]
pub struct Oracle {
    sectors: Vec<Vec<SectorWrite>>,
    /// (completed, invoked) of successful flushes, by completion time.
    flushes: Vec<(u64, u64)>,
    /// `(t, first sector, count)`: from crash time `t` on, the write to those sectors
    /// is durable (a FUA write that completed, or a write a completed flush covered),
    /// sorted by `t`.
    durable_from: Vec<(u64, u64, u64)>,
}

/// A sector whose value the oracle does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The sector.
    pub sector: u64,
    /// What it holds.
    pub found: Found,
    /// What it may hold.
    pub allowed: Vec<Found>,
    /// The write a completed flush or FUA made durable, if any.
    pub required: Option<Found>,
}

impl Oracle {
    /// Builds the oracle from every thread's operations. Each sector is written by one
    /// thread only, so its writes are totally ordered.
    pub fn new(ops: &[Op], sectors: u64) -> Oracle {
        let mut per_sector = vec![Vec::new(); sectors as usize];
        let mut flushes = Vec::new();
        let mut sorted: Vec<&Op> = ops.iter().collect();
        sorted.sort_by_key(|o| o.invoked);
        for op in sorted {
            match op.kind {
                OpKind::Flush => {
                    if op.ok {
                        flushes.push((op.completed, op.invoked));
                    }
                }
                kind => {
                    let value = if kind == OpKind::Discard { Found::Zero } else { Found::Op(op.id) };
                    for s in op.sector..op.sector + op.count {
                        per_sector[s as usize].push(SectorWrite {
                            value,
                            invoked: op.invoked,
                            completed: op.completed,
                            ok: op.ok,
                            fua: kind == OpKind::FuaWrite,
                        });
                    }
                }
            }
        }
        flushes.sort_unstable();
        let durable_from = durable_from(ops, &flushes);
        Oracle { sectors: per_sector, flushes, durable_from }
    }

    /// Sectors (repeats possible, in no order) a write to which becomes durable for a
    /// crash at some time in `after + 1..=upto` (`after <= upto`): the only sectors whose verdict can turn
    /// from pass to fail between a crash at `after` and one at `upto` while they hold
    /// the same value. (What a sector may hold after a crash at `t` is the last durable
    /// write to it, or a later write invoked before `t`: as `t` grows, the later writes
    /// only grow, until a later write becomes durable and its predecessors are out.)
    pub fn newly_durable(&self, after: u64, upto: u64) -> impl Iterator<Item = u64> + '_ {
        let from = self.durable_from.partition_point(|&(t, ..)| t <= after);
        let to = self.durable_from.partition_point(|&(t, ..)| t <= upto);
        self.durable_from[from..to.max(from)].iter().flat_map(|&(_, first, count)| first..first + count)
    }

    /// The latest invocation time of a flush that completed with success before `t`:
    /// every write that completed before it is covered.
    fn covered_before(&self, t: u64) -> Option<u64> {
        self.flushes.iter().take_while(|(completed, _)| *completed < t).map(|(_, invoked)| *invoked).max()
    }

    /// Checks `image` (every sector of the disk) as it must be after a crash at `t`.
    pub fn check(&self, image: &impl Sectors, t: u64) -> Result<(), Mismatch> {
        self.check_sectors(image, t, 0..self.sectors.len() as u64)
    }

    /// Checks only `sectors` of `image` (the others are known to be checked already),
    /// reading them through (an overlay or a crash state is never flattened).
    pub fn check_sectors(
        &self,
        image: &impl Sectors,
        t: u64,
        sectors: impl IntoIterator<Item = u64>,
    ) -> Result<(), Mismatch> {
        self.check_values(t, sectors.into_iter().map(|s| (s, crate::pattern::decode(image.sector(s), s))))
    }

    /// Checks sectors whose contents were already decoded: `(sector, what it holds)`.
    pub fn check_values(
        &self,
        t: u64,
        values: impl IntoIterator<Item = (u64, Found)>,
    ) -> Result<(), Mismatch> {
        let covered = self.covered_before(t);
        for (s, found) in values {
            let writes = &self.sectors[s as usize];
            let durable = |w: &SectorWrite| {
                w.ok && w.completed < t && (w.fua || covered.is_some_and(|c| w.completed < c))
            };
            let k = writes.iter().rposition(durable);
            let base = k.map_or(Found::Zero, |k| writes[k].value);
            let from = k.map_or(0, |k| k + 1);
            let mut later = writes[from..].iter().filter(|w| w.invoked < t).map(|w| w.value);
            if found == base || later.any(|v| v == found) {
                continue;
            }
            let mut allowed = vec![base];
            allowed.extend(writes[from..].iter().filter(|w| w.invoked < t).map(|w| w.value));
            allowed.dedup();
            return Err(Mismatch { sector: s, found, allowed, required: k.map(|k| writes[k].value) });
        }
        Ok(())
    }
}

/// When each successful write becomes durable for a crash (see `Oracle::newly_durable`),
/// by time. `durable` in `check_values`: completed before `t`, and FUA or completed
/// before the invocation of a flush that completed with success before `t`.
fn durable_from(ops: &[Op], flushes: &[(u64, u64)]) -> Vec<(u64, u64, u64)> {
    // Flushes by invocation, with the earliest completion among those invoked later.
    let mut by_invocation: Vec<(u64, u64)> = flushes.iter().map(|&(c, i)| (i, c)).collect();
    by_invocation.sort_unstable();
    let mut earliest = vec![u64::MAX; by_invocation.len() + 1];
    for (k, &(_, completed)) in by_invocation.iter().enumerate().rev() {
        earliest[k] = earliest[k + 1].min(completed);
    }
    let mut out: Vec<(u64, u64, u64)> = ops
        .iter()
        .filter(|o| o.ok && o.kind != OpKind::Flush)
        .filter_map(|o| {
            let t = if o.kind == OpKind::FuaWrite {
                o.completed.checked_add(1)?
            } else {
                let k = by_invocation.partition_point(|&(invoked, _)| invoked <= o.completed);
                earliest[k].max(o.completed).checked_add(1)?
            };
            Some((t, o.sector, o.count))
        })
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests;
