//! The file system passes the checker: the one-operation ACE set (a third of the crash
//! states besides losing and keeping every cached write, which are checked at every
//! point), seeded random histories (sampled), and a single state checked again from its
//! reproducer, its image written out.

use std::sync::Arc;

use crashcheck::fs::{FsConfig, FsReport, StateId, Workload, ace, check, random};

fn run(workloads: &[Workload], config: &FsConfig) -> FsReport {
    let report =
        check(workloads, config, &|lower| Ok(Arc::clone(lower)), &mut |_| {}).expect("the check runs");
    assert!(report.passed(), "{report}");
    report
}

#[test]
fn the_file_system_passes_the_one_operation_ace_set() {
    let workloads = ace::workloads(1);
    let config = FsConfig { every: 3, e2fsck_every: 100, ..FsConfig::default() };
    let report = run(&workloads, &config);
    eprintln!("{report}");
    assert_eq!(report.workloads, 52);
    assert!(report.states > 5000, "{report}");
    assert!(report.sampled_out > 0 && report.replay_states > 1000 && report.recovered > 1000, "{report}");
    if report.e2fsck_missing.is_none() {
        assert!(report.e2fsck_runs >= 10, "{report}");
    }
}

#[test]
fn seeded_random_histories_pass_with_roomy_and_with_tight_limits() {
    for (seed, tight) in [(1, false), (2, true)] {
        let w = random::workload(seed, 40);
        let config = FsConfig { seed, tight, max_points: 30, every: 3, ..FsConfig::default() };
        let report = run(&[w], &config);
        eprintln!("{report}");
        assert!(report.points >= 25 && report.states > 300, "{report}");
    }
}

/// Found by the checker: an fdatasync after a write into preallocated space did not commit
/// the extent's conversion to written, so after a crash the data read back as zeroes.
#[test]
fn fdatasync_keeps_data_written_into_preallocated_space() {
    let w = Workload::parse(
        "given",
        "fallocate A/foo 8192 8192; sync; write A/foo 8192 4096; fdatasync A/foo; \
         fallocate A/bar 0 8192 keep; sync; overwrite A/bar 4096 100; fdatasync A/bar",
    )
    .unwrap();
    run(&[w], &FsConfig::default());
}

#[test]
fn one_state_is_checked_again_and_its_image_written_out() {
    let w = Workload::parse("given", "create A/x; write A/x 0 6000; fsync A/x; rename A/x B/y; fsyncdir B")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = StateId { point: 9, plan: 1 };
    let config =
        FsConfig { only_state: Some(state), out_dir: Some(dir.path().into()), ..FsConfig::default() };
    let report = run(&[w], &config);
    assert_eq!((report.states, report.points), (1, 1), "{report}");
    let image = dir.path().join("given-state-9.1.img");
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 8 << 20, "{}", image.display());
    if report.e2fsck_missing.is_none() {
        assert_eq!(report.e2fsck_runs, 1, "the state asked for is always given to e2fsck");
    }
}
