//! What a crash keeps of the volatile write cache.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use super::overlay::{Layer, OverlayImage, Sectors};

/// A write in the crash disk's volatile cache (also used for discards and zeroes,
/// whose data is zeroes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnflushedWrite {
    /// Order of arrival at the disk.
    pub seq: u64,
    /// Byte offset.
    pub offset: u64,
    /// The data.
    pub data: Arc<[u8]>,
    /// Written with ForceUnitAccess: already durable.
    pub fua: bool,
}

/// Which cached writes a crash keeps. Kept writes are applied in arrival order over
/// the durable image; FUA writes are durable and always re-applied in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrashPlan {
    /// Every unflushed write is lost.
    LoseAll,
    /// Every unflushed write made it.
    KeepAll,
    /// `keep[i]` says whether cached write `i` (oldest first) made it; missing entries
    /// are lost.
    Subset {
        /// One flag per cached write.
        keep: Vec<bool>,
    },
    /// Like `Subset`, but write `torn` was torn: only the sectors with `sectors[j]`
    /// set made it.
    Torn {
        /// One flag per cached write (the torn one's flag is ignored).
        keep: Vec<bool>,
        /// Index of the torn write.
        torn: usize,
        /// One flag per sector of the torn write.
        sectors: Vec<bool>,
    },
    /// A pseudo-random subset (and, if `torn`, a torn write) drawn from `seed`: what
    /// an outside trigger asks for.
    Seeded {
        /// The seed.
        seed: u64,
        /// Also tear one write.
        torn: bool,
    },
}

impl fmt::Display for CrashPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = |v: &[bool]| v.iter().map(|&b| if b { '1' } else { '0' }).collect::<String>();
        match self {
            CrashPlan::LoseAll => f.write_str("lose-all"),
            CrashPlan::KeepAll => f.write_str("keep-all"),
            CrashPlan::Subset { keep } => write!(f, "subset {}", bits(keep)),
            CrashPlan::Torn { keep, torn, sectors } => {
                write!(f, "torn write #{torn} sectors {} of subset {}", bits(sectors), bits(keep))
            }
            CrashPlan::Seeded { seed, torn: false } => write!(f, "subset seed {seed}"),
            CrashPlan::Seeded { seed, torn: true } => write!(f, "torn seed {seed}"),
        }
    }
}

/// A small deterministic generator (SplitMix64) for seeded plans.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl CrashPlan {
    /// Parses the text of a control file: `lose-all`, `keep-all`, `subset SEED`,
    /// `torn SEED` (surrounding whitespace ignored; empty means lose-all).
    pub fn parse(text: &str) -> Option<CrashPlan> {
        let mut words = text.split_whitespace();
        let plan = match (words.next(), words.next()) {
            (None, _) | (Some("lose-all"), None) => CrashPlan::LoseAll,
            (Some("keep-all"), None) => CrashPlan::KeepAll,
            (Some("subset"), Some(seed)) => CrashPlan::Seeded { seed: seed.parse().ok()?, torn: false },
            (Some("torn"), Some(seed)) => CrashPlan::Seeded { seed: seed.parse().ok()?, torn: true },
            _ => return None,
        };
        words.next().is_none().then_some(plan)
    }

    /// Turns a seeded plan into an explicit one for `cache` (others are returned as is).
    pub fn resolve(&self, cache: &[UnflushedWrite], sector: u32) -> CrashPlan {
        let CrashPlan::Seeded { seed, torn } = *self else { return self.clone() };
        let mut state = seed;
        let keep: Vec<bool> = cache.iter().map(|_| splitmix(&mut state) & 1 == 1).collect();
        if !torn || cache.is_empty() {
            return CrashPlan::Subset { keep };
        }
        let index = (splitmix(&mut state) % cache.len() as u64) as usize;
        let sectors = cache[index].data.len().div_ceil(sector as usize);
        let sectors = (0..sectors).map(|_| splitmix(&mut state) & 1 == 1).collect();
        CrashPlan::Torn { keep, torn: index, sectors }
    }

    /// Visits what survives of `cache` under this plan, in the order a crash applies
    /// it over the durable image: `(write, byte range of its data)` — the whole write,
    /// or one sector of a torn write. FUA writes always survive.
    pub fn for_each_kept(
        &self,
        cache: &[UnflushedWrite],
        sector: u32,
        mut kept: impl FnMut(&UnflushedWrite, Range<usize>),
    ) {
        let resolved;
        let plan = if let CrashPlan::Seeded { .. } = self {
            resolved = self.resolve(cache, sector);
            &resolved
        } else {
            self
        };
        let sector = sector as usize;
        for (i, w) in cache.iter().enumerate() {
            let whole = w.fua
                || match plan {
                    CrashPlan::LoseAll => false,
                    CrashPlan::KeepAll => true,
                    CrashPlan::Subset { keep } | CrashPlan::Torn { keep, .. } => {
                        keep.get(i).copied().unwrap_or(false)
                    }
                    CrashPlan::Seeded { .. } => unreachable!("resolved above"),
                };
            match plan {
                CrashPlan::Torn { torn, sectors, .. } if *torn == i && !w.fua => {
                    for j in 0..w.data.len().div_ceil(sector) {
                        if sectors.get(j).copied().unwrap_or(false) {
                            kept(w, j * sector..((j + 1) * sector).min(w.data.len()));
                        }
                    }
                }
                _ if whole => kept(w, 0..w.data.len()),
                _ => {}
            }
        }
    }

    /// Applies the plan: `image` holds the durable data (FUA writes included) and
    /// becomes what survives.
    pub fn apply(&self, image: &mut [u8], cache: &[UnflushedWrite], sector: u32) {
        self.for_each_kept(cache, sector, |w, r| {
            let at = w.offset as usize + r.start;
            image[at..at + r.len()].copy_from_slice(&w.data[r]);
        });
    }

    /// What the plan changes over the durable image `durable`, as a layer: the crash
    /// state is `durable.stacked(&layer)`. Copies no byte of a sector-aligned write.
    pub fn layer(&self, durable: &OverlayImage, cache: &[UnflushedWrite]) -> Layer {
        let sector = durable.sector_size();
        let mut layer = Layer::new(sector);
        self.for_each_kept(cache, sector as u32, |w, r| {
            layer.write(durable, w.offset + r.start as u64, &w.data, r);
        });
        layer
    }
}
