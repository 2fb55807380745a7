//! The seeded workload and the history of what its callers saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use irp::Handle;

use crate::pattern;

/// One operation of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Write `count` sectors at `sector`.
    Write,
    /// Write with ForceUnitAccess.
    FuaWrite,
    /// Discard `count` sectors at `sector`.
    Discard,
    /// Flush the stack.
    Flush,
}

/// An operation and what happened to it.
#[derive(Clone, Debug)]
pub struct Op {
    /// Id (from 1), also written into the sectors.
    pub id: u64,
    /// Which thread ran it.
    pub thread: usize,
    /// Index in its thread's sequence.
    pub index: usize,
    /// What it does.
    pub kind: OpKind,
    /// First sector.
    pub sector: u64,
    /// Sector count (0 for flushes).
    pub count: u64,
    /// Clock when it was sent.
    pub invoked: u64,
    /// Clock when it completed.
    pub completed: u64,
    /// Whether it completed with success.
    pub ok: bool,
}

/// SplitMix64: small, seedable, good enough for workloads.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Generates thread `thread`'s operations: writes, overwrites, FUA writes and
/// discards inside its own sectors `[first, first + sectors)`, and flushes.
pub fn generate(seed: u64, thread: usize, count: usize, first: u64, sectors: u64, id_base: u64) -> Vec<Op> {
    let mut rng = Rng::new(seed ^ (thread as u64).wrapping_mul(0xA076_1D64_78BD_642F));
    let mut written: Vec<u64> = Vec::new();
    (0..count)
        .map(|index| {
            let roll = rng.below(100);
            let kind = match roll {
                0..=39 => OpKind::Write,
                40..=54 => OpKind::Write, // an overwrite, below
                55..=64 => OpKind::FuaWrite,
                65..=71 => OpKind::Discard,
                _ => OpKind::Flush,
            };
            let (sector, n) = if kind == OpKind::Flush {
                (0, 0)
            } else {
                let n = 1 + rng.below(4.min(sectors));
                let start = if (40..=54).contains(&roll) && !written.is_empty() {
                    written[rng.below(written.len() as u64) as usize].min(first + sectors - n)
                } else {
                    first + rng.below(sectors - n + 1)
                };
                written.push(start);
                (start, n)
            };
            Op {
                id: id_base + index as u64,
                thread,
                index,
                kind,
                sector,
                count: n,
                invoked: 0,
                completed: 0,
                ok: false,
            }
        })
        .collect()
}

/// Runs `ops` in order through `handle`, stamping each from `clock`.
pub fn run(handle: &Handle, ops: &mut [Op], sector_size: u64, clock: &Arc<AtomicU64>) {
    let mut buf = Vec::new();
    for op in ops {
        let offset = op.sector * sector_size;
        if matches!(op.kind, OpKind::Write | OpKind::FuaWrite) {
            buf.resize((op.count * sector_size) as usize, 0);
            for (i, chunk) in buf.chunks_mut(sector_size as usize).enumerate() {
                pattern::encode(chunk, op.id, op.sector + i as u64);
            }
        }
        op.invoked = clock.fetch_add(1, Ordering::SeqCst);
        let result = match op.kind {
            OpKind::Write => handle.write(offset, &buf).map(drop),
            OpKind::FuaWrite => handle.write_fua(offset, &buf).map(drop),
            OpKind::Discard => handle.discard(offset, op.count * sector_size),
            OpKind::Flush => handle.flush_buffers(),
        };
        op.completed = clock.fetch_add(1, Ordering::SeqCst);
        op.ok = result.is_ok();
    }
}
