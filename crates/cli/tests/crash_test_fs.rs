//! `irpstack crash-test --fs`: the file-system crash checker from the command line — a
//! workload that passes, a summary in text and JSON, a bad workload refused, and `--help`.

use std::process::{Command, Output};

fn irpstack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_irpstack")).args(args).output().expect("the irpstack binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_workload_passes_with_a_summary() {
    let out = irpstack(&[
        "crash-test",
        "--fs",
        "--workload",
        "create A/x; write A/x 0 9000; fsync A/x; unlink A/bar; sync",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for needle in [
        "stack: crash(size=8M,sector=512)",
        "crash-test --fs passed: 1 workloads",
        "states/s",
        "0 failure(s)",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
}

#[test]
fn json_gives_the_counts_and_a_random_history_runs_over_a_cache() {
    let out = irpstack(&[
        "crash-test",
        "--fs",
        "--stack",
        "cache(size=256K) / crash(size=8M,sector=512)",
        "--seed",
        "4",
        "--ops",
        "12",
        "--json",
    ]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["result"], "pass", "{v}");
    assert_eq!(v["workloads"], 1);
    assert!(v["crash_states"].as_u64().unwrap() > 10, "{v}");
    assert!(v["states_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_workloads_and_stacks_are_refused_with_the_reason() {
    let out = irpstack(&["crash-test", "--fs", "--workload", "create A/x; frobnicate A/x"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("step 2") && err.contains("unknown verb"), "{err}");
    let out = irpstack(&["crash-test", "--fs", "--stack", "cache(size=1M) / memory(size=8M)"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("crash(size=...)"), "{}", text(&out.stderr));
    let out = irpstack(&["crash-test", "--fs", "--ace", "3"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses --ace 3");
    let out = irpstack(&["crash-test", "--ace", "1"]);
    assert_eq!(out.status.code(), Some(2), "--ace needs --fs");
}

#[test]
fn help_explains_the_file_system_checker() {
    let out = irpstack(&["crash-test", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in ["--fs", "--ace", "--workload", "--state", "fsync", "e2fsck", "POINT.PLAN"] {
        assert!(help.contains(needle), "crash-test --help does not mention {needle:?}");
    }
}
