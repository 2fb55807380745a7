//! Progress on long work reaches stderr as lines when stderr is not a terminal: the
//! write-back of a dirty cache at shutdown, and the rows of `bench io`; stdout stays the
//! command's output.

mod serve_support;

use std::process::Command;

use serve_support::{have, run, serve};

#[test]
fn a_slow_shutdown_write_back_reports_its_progress() {
    if !have("qemu-io") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nbd.sock");
    // 10 separate MiB dirty in a cache that writes nothing behind by itself and ignores
    // qemu-io's closing flush (mode=unsafe), over a disk whose every write takes 250 ms: the
    // write-back at shutdown takes seconds.
    let stack = "cache(size=64M,mode=unsafe,eager=0,interval=1h,bypass=0) / fault(op=write,delay=250ms) / memory(size=64M)";
    let server = serve(dir.path(), &["--stack", stack, "--socket", socket.to_str().unwrap()]);
    // -t writeback: qemu-io's default (writethrough) would make every write FUA.
    let mut args = vec!["-f".to_owned(), "raw".to_owned(), "-t".to_owned(), "writeback".to_owned()];
    for i in 0..10 {
        args.extend(["-c".to_owned(), format!("write -P 7 {}M 1M", 2 * i)]);
    }
    args.push(server.uri.clone());
    run("qemu-io", &args.iter().map(String::as_str).collect::<Vec<_>>());
    let (status, stderr) = server.signal_and_collect("TERM");
    assert!(status.success(), "{status:?}\n{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("writing caches back:")).collect();
    assert!(!lines.is_empty(), "no progress line in:\n{stderr}");
    assert!(lines.iter().all(|l| l.contains("of 10 MiB written")), "{lines:?}");
}

#[test]
fn bench_io_names_each_row_on_stderr_and_keeps_json_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .args(["bench", "io", "--seconds", "0.1", "--no-fio", "--json", "--stack", "memory(size=16M)"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let steps: Vec<&str> = stderr.lines().filter(|l| l.starts_with("irpstack bench io: [")).collect();
    assert_eq!(steps.len(), 2, "{stderr}");
    assert!(steps[0].starts_with("irpstack bench io: [1/2] "), "{steps:?}");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        assert!(line.starts_with('{'), "not JSON on stdout: {line}");
    }
}

#[test]
fn crash_test_reports_its_progress_on_stderr_and_its_verdict_on_stdout() {
    let out = Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .args([
            "crash-test",
            "--stack",
            "cache(size=64K) / crash(size=1M)",
            "--ops",
            "200",
            "--seed",
            "3",
            "--threads",
            "1",
        ])
        .env("IRPSTACK_PROGRESS_MS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("crash-test: crash point ")).collect();
    assert!(!lines.is_empty(), "{stderr}");
    assert!(
        lines.iter().all(|l| l.contains(" of ") && l.contains("crash states") && l.contains("left")),
        "{lines:?}"
    );
    assert!(stdout.contains("crash-test passed") && !stdout.contains("crash point "), "{stdout}");
}
