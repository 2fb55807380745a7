//! A crash state costs what differs, not the disk's size: the same workload on a 1 MiB
//! and on a 64 MiB disk builds and checks the same states for the same bytes.

use std::sync::Arc;

use crashcheck::{Config, Report};

/// The workload writes the first 256 KiB of either disk.
const SPAN: u64 = 256 << 10;

/// The bare crash disk with one workload thread: the record is the same run to run.
fn run(disk_size: u64) -> Report {
    let config = Config {
        ops: 300,
        seed: 3,
        threads: 1,
        disk_size,
        span: Some(SPAN),
        restart_every: 8,
        ..Config::default()
    };
    crashcheck::check(&config, &|lower| Ok(Arc::clone(lower))).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_cost_of_a_crash_state_does_not_grow_with_the_disk() {
    let small = run(1 << 20);
    let large = run(64 << 20);
    assert_eq!((small.events, small.points, small.states), (large.events, large.points, large.states));
    assert!(small.states > 1000, "{small}");
    assert!(small.cost.layered > 0 && small.cost.compared > 0, "the counters count: {:?}", small.cost);
    assert_eq!(small.cost, large.cost, "same workload, same bytes per state, whatever the disk's size");
    assert_eq!(large.cost.copied, 0, "sector-aligned writes are shared, never copied");
    // What a state costs follows the workload: the sectors its plan keeps (shared, not
    // copied), those it decodes, and on a restarted state (one in 8) every sector the
    // workload touched, read back. Copying the 64 MiB image once per restarted state
    // would alone cost 8 MiB per state; we stay under 1/64 of the image.
    let per_state = large.cost.per_state(large.states);
    assert!(per_state < (1 << 20) as f64, "{per_state:.0} bytes per state: {:?}", large.cost);
}
