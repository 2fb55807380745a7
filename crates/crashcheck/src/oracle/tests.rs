use super::*;
use crate::workload::{Rng, generate};

/// A history with overlapping operations on few sectors: random invocation and
/// completion times, some failures.
fn history(seed: u64) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    let mut ops = generate(seed, 0, 60, 0, 6, 1);
    for op in &mut ops {
        op.invoked = 1 + rng.below(200);
        op.completed = op.invoked + 1 + rng.below(40);
        op.ok = rng.below(10) != 0;
    }
    ops
}

fn passes(oracle: &Oracle, t: u64, s: u64, found: Found) -> bool {
    oracle.check_values(t, [(s, found)]).is_ok()
}

/// The incremental check of the durable image rests on this: between crash times
/// `t1 <= t2`, a sector outside `newly_durable(t1, t2)` that may hold a value at `t1`
/// may still hold it at `t2`.
#[test]
fn only_sectors_with_a_newly_durable_write_can_turn_from_pass_to_fail() {
    let mut turned = 0;
    for seed in 1..=6 {
        let ops = history(seed);
        let oracle = Oracle::new(&ops, 6);
        let values: Vec<Found> =
            [Found::Zero, Found::Garbage].into_iter().chain(ops.iter().map(|o| Found::Op(o.id))).collect();
        for t1 in (0..260).step_by(3) {
            for t2 in (t1..260).step_by(13) {
                let newly: Vec<u64> = oracle.newly_durable(t1, t2).collect();
                for s in 0..6 {
                    for &found in &values {
                        if passes(&oracle, t1, s, found) && !passes(&oracle, t2, s, found) {
                            assert!(
                                newly.contains(&s),
                                "seed {seed}: sector {s} {found:?} from {t1} to {t2}"
                            );
                            turned += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(turned > 50, "the histories make verdicts turn ({turned} times)");
}

/// `newly_durable` names the sector when its write becomes durable, not before.
#[test]
fn a_write_becomes_durable_when_its_flush_or_its_fua_completes() {
    let op = |id, kind, sector, invoked, completed| Op {
        id,
        thread: 0,
        index: id as usize,
        kind,
        sector,
        count: 1,
        invoked,
        completed,
        ok: true,
    };
    let ops = [
        op(1, OpKind::Write, 0, 1, 2),
        op(2, OpKind::FuaWrite, 1, 3, 4),
        op(3, OpKind::Flush, 0, 5, 6),
        Op { ok: false, ..op(4, OpKind::Write, 2, 7, 8) },
    ];
    let oracle = Oracle::new(&ops, 3);
    let newly = |a, b| oracle.newly_durable(a, b).collect::<Vec<_>>();
    assert_eq!(newly(0, 4), Vec::<u64>::new(), "nothing is durable before its completion");
    assert_eq!(newly(4, 5), [1], "the FUA write, for a crash after it completed");
    assert_eq!(newly(5, 7), [0], "the write, for a crash after the flush completed");
    assert_eq!(newly(7, u64::MAX), Vec::<u64>::new(), "a failed write never is");
}
