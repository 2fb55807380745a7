//! Which crash states to try at one point: all subsets of the cache when it is
//! small, a seeded sample otherwise, plus torn writes.

use disks::crash::{CrashPlan, UnflushedWrite};

use crate::workload::Rng;

/// Crash plans for a cache of `cache.len()` writes.
pub fn plans(
    cache: &[UnflushedWrite],
    sector: usize,
    exhaustive_limit: usize,
    samples: usize,
    rng: &mut Rng,
) -> Vec<CrashPlan> {
    let n = cache.len();
    let mut plans = vec![CrashPlan::LoseAll];
    if n == 0 {
        return plans;
    }
    plans.push(CrashPlan::KeepAll);
    if n <= exhaustive_limit {
        for mask in 1..(1u64 << n) - 1 {
            plans.push(CrashPlan::Subset { keep: (0..n).map(|i| mask >> i & 1 == 1).collect() });
        }
    } else {
        for _ in 0..samples {
            plans.push(CrashPlan::Subset { keep: (0..n).map(|_| rng.next_u64() & 1 == 1).collect() });
        }
    }
    // Tear each of the last few multi-sector writes: keep everything before it, and a
    // prefix or a suffix of its sectors.
    for (torn, write) in cache.iter().enumerate().skip(n.saturating_sub(4)) {
        let sectors = write.data.len().div_ceil(sector);
        if sectors < 2 {
            continue;
        }
        let keep: Vec<bool> = (0..n).map(|i| i < torn).collect();
        for cut in 1..sectors {
            plans.push(CrashPlan::Torn {
                keep: keep.clone(),
                torn,
                sectors: (0..sectors).map(|j| j < cut).collect(),
            });
            plans.push(CrashPlan::Torn {
                keep: keep.clone(),
                torn,
                sectors: (0..sectors).map(|j| j >= cut).collect(),
            });
        }
    }
    plans
}
