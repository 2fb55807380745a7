//! The checker catches each deliberately broken file system (`fs::breakage`): a flush that
//! does not commit the journal, data written after the commit that points to it, a commit
//! block written before its transaction's blocks are durable, a replay that ignores
//! revoke records. The same workloads pass on the correct file system, and each failure
//! comes with an image file and a reproducer that finds it again.

use std::sync::Arc;

use crashcheck::fs::{FsConfig, FsFailure, Workload, check};
use fs::breakage::{Breakage, Broken};

fn report(text: &str, breakage: Breakage, out: Option<&std::path::Path>) -> crashcheck::fs::FsReport {
    let w = Workload::parse("given", text).unwrap();
    let config = FsConfig { breakage, out_dir: out.map(Into::into), ..FsConfig::default() };
    check(&[w], &config, &|lower| Ok(Arc::clone(lower)), &mut |_| {}).expect("the check runs")
}

/// Passes on the correct file system, fails on `broken`; returns the failure.
fn caught(text: &str, broken: Broken) -> FsFailure {
    let correct = report(text, Breakage::NONE, None);
    assert!(correct.passed(), "the correct file system fails `{text}`:\n{correct}");
    let dir = tempfile::tempdir().unwrap();
    let r = report(text, Breakage::new(broken), Some(dir.path()));
    let f = r.failures.first().unwrap_or_else(|| panic!("{broken} not caught by `{text}`:\n{r}")).clone();
    eprintln!("{broken}: {f}");
    let state = f.state.expect("a crash state failed, not the workload itself");
    let image = f.image.as_ref().expect("the failing state is written out");
    assert_eq!(std::fs::metadata(image).unwrap().len(), 8 << 20);
    let line = f.reproducer();
    assert!(line.contains(&format!("--state {state}")) && line.contains("--workload '"), "{line}");
    // The reproducer's state alone fails the same way.
    let w = Workload::parse("given", text).unwrap();
    let again = FsConfig { breakage: Breakage::new(broken), only_state: Some(state), ..FsConfig::default() };
    let r = check(&[w], &again, &|lower| Ok(Arc::clone(lower)), &mut |_| {}).unwrap();
    assert_eq!(r.states, 1);
    assert_eq!(r.failures.first().map(|g| &g.what), Some(&f.what), "{r}");
    f
}

#[test]
fn an_fsync_that_does_not_commit_the_journal_is_caught() {
    let f = caught("create A/new; write A/new 0 5000; fsync A/new", Broken::FsyncSkipsCommit);
    assert!(f.what.contains("had completed") && f.what.contains("was lost"), "{}", f.what);
}

#[test]
fn data_written_after_the_commit_that_points_to_it_is_caught() {
    let f = caught("write A/bar 4096 8192; fsync A/bar", Broken::DataAfterCommit);
    assert!(f.what.contains("never held"), "{}", f.what);
}

#[test]
fn a_commit_block_written_before_its_transaction_is_durable_is_caught() {
    let f = caught("mkdir A/d; create A/d/f; fsync A/d/f", Broken::CommitWithoutFlush);
    assert!(!matches!(f.plan, Some(disks::crash::CrashPlan::LoseAll | disks::crash::CrashPlan::KeepAll)));
}

#[test]
fn a_replay_that_ignores_revoke_records_is_caught() {
    // An attribute block is logged, freed (revoked) and reused for file data; replaying
    // its old image over the data shows bytes the file never held.
    let f = caught(
        "setxattr A/foo user.big 3000; sync; removexattr A/foo user.big; sync; create A/new; \
         write A/new 0 8192; fsync A/new",
        Broken::ReplayIgnoresRevoke,
    );
    assert!(f.what.contains("never held"), "{}", f.what);
}
