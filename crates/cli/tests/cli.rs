//! Runs the built `irpstack` binary: help, usage errors, and the benchmarks' JSON output
//! (never their speed).

use std::process::{Command, Output};

use serde_json::Value;

fn irpstack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_irpstack")).args(args).output().expect("the irpstack binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// Every stdout line as a JSON object.
fn json_lines(output: &Output) -> Vec<serde_json::Map<String, Value>> {
    stdout(output)
        .lines()
        .map(|line| match serde_json::from_str(line) {
            Ok(Value::Object(object)) => object,
            other => panic!("not a JSON object: {line:?} ({other:?})"),
        })
        .collect()
}

fn assert_usage_error(args: &[&str], expected: &str) {
    let output = irpstack(args);
    let err = stderr(&output);
    assert!(!output.status.success(), "{args:?} succeeded");
    assert!(err.contains(expected), "{args:?}: stderr {err:?} does not mention {expected:?}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(stdout(&output).is_empty(), "{args:?} wrote to stdout");
}

#[test]
fn help_describes_irpstack_and_lists_subcommands() {
    let output = irpstack(&["--help"]);
    assert!(output.status.success());
    let help = stdout(&output);
    for needle in ["I/O manager", "IRP", "flush", "bench"] {
        assert!(help.contains(needle), "--help does not mention {needle:?}:\n{help}");
    }
    let output = irpstack(&["bench", "--help"]);
    assert!(output.status.success());
    let help = stdout(&output);
    assert!(help.contains("dispatch") && help.contains("cacheflush"), "{help}");
}

#[test]
fn version_prints_the_version() {
    let output = irpstack(&["--version"]);
    assert!(output.status.success());
    assert!(stdout(&output).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_non_zero_without_panicking() {
    assert_usage_error(&["frobnicate"], "frobnicate");
    assert_usage_error(&["bench", "dispatch", "--bogus"], "--bogus");
    assert_usage_error(&["bench", "dispatch", "--irps", "0"], "--irps");
    assert_usage_error(&["bench", "dispatch", "--irps", "many"], "--irps");
    assert_usage_error(&["bench", "cacheflush", "--repeats", "0"], "--repeats");
    assert_usage_error(&["bench", "nothing"], "nothing");
    let output = irpstack(&[]);
    assert!(!output.status.success());
    assert!(!stderr(&output).contains("panicked"));
}

#[test]
fn bench_dispatch_json_has_one_row_per_stack() {
    let output = irpstack(&["bench", "dispatch", "--json", "--irps", "2000", "--repeats", "1"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let rows = json_lines(&output);
    assert!(rows.len() == 3 || rows.len() == 4, "{} rows", rows.len());
    let mut layers = Vec::new();
    for row in &rows {
        for key in ["layers", "ns_per_irp", "ns_per_layer", "allocs_per_irp"] {
            assert!(row.get(key).is_some_and(Value::is_number), "row {row:?} lacks number {key}");
        }
        assert!(row["ns_per_irp"].as_f64().unwrap() > 0.0, "{row:?}");
        assert!(row["ns_per_layer"].as_f64().unwrap() >= 0.0, "{row:?}");
        layers.push(row["layers"].as_u64().expect("layers is an integer"));
    }
    for expected in [1, 4, 16] {
        assert!(layers.contains(&expected), "no row for {expected} layers: {layers:?}");
    }
}

#[test]
fn bench_cacheflush_json_has_every_size_and_method() {
    let output = irpstack(&["bench", "cacheflush", "--json", "--repeats", "1"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let rows = json_lines(&output);
    for row in &rows {
        assert!(row.get("bytes").is_some_and(Value::is_u64), "{row:?}");
        assert!(row.get("method").is_some_and(Value::is_string), "{row:?}");
        assert!(row["gbps"].as_f64().is_some_and(|gbps| gbps > 0.0), "{row:?}");
        assert_eq!(row.len(), 3, "{row:?}");
    }
    for bytes in [4096, 1 << 20, 64 << 20] {
        for method in ["persist", "memcpy"] {
            assert!(
                rows.iter().any(|row| row["bytes"] == bytes && row["method"] == method),
                "no row for {method} over {bytes} bytes"
            );
        }
    }
}

fn crash_test(stack: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .args(["crash-test", "--stack", stack, "--ops", "150", "--seed", "5", "--threads", "3"])
        .output()
        .expect("run irpstack")
}

/// The reproducer the crash checker printed when a failed write-around dropped dirty data
/// the cache alone held (fixed: write-around only when none of its blocks is dirty).
#[test]
fn crash_test_passes_write_around_with_failing_writes_below() {
    let stack = "cache(size=32K,bypass=8K) / fault(op=write+flush,rate=0.1,seed=7) / crash(size=256K)";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .args(["crash-test", "--stack", stack, "--ops", "1000", "--seed", "7", "--threads", "4"])
        .output()
        .expect("run irpstack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("crash-test passed"), "{stdout}");
}

#[test]
fn crash_test_passes_correct_stacks_even_with_failing_writes_and_flushes() {
    for stack in [
        "cache(size=256K) / stats / crash(size=256K)",
        "cache(size=256K,bypass=8K) / crash(size=256K)",
        "cache(size=128K) / fault(op=write+flush,rate=0.2,seed=9) / crash(size=256K)",
        "cache(size=256K,mode=writethrough) / crash(size=256K,sector=512)",
    ] {
        let out = crash_test(stack);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stack}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("crash-test passed") && stdout.contains("crash states checked"), "{stdout}");
    }
}

#[test]
fn crash_test_catches_lying_stacks_with_a_reproducer() {
    for stack in ["fault(flush=drop) / crash(size=256K)", "cache(size=256K,mode=unsafe) / crash(size=256K)"] {
        let out = crash_test(stack);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stack}: {stdout}");
        for part in ["--seed 5", "crash point", "crash mode", "sector", "found", "rerun"] {
            assert!(stdout.contains(part), "{stack}: {part} missing:\n{stdout}");
        }
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn crash_test_rejects_a_stack_without_a_crash_disk() {
    let out = crash_test("cache(size=256K) / memory(size=256K)");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("crash(size=...)"), "{stderr}");
    let out = crash_test("cache(size=256K) / crahs(size=256K)");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stats_prints_a_report_written_by_a_stats_layer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.json");
    {
        use stack::{BuildContext, DriverRegistry};
        let spec = format!("stats(file={},interval=0s) / memory(size=1M)", file.display());
        let top = DriverRegistry::builtin().build_str(&spec, &BuildContext::new()).unwrap();
        let io = irp::IoManager::new();
        io.register("d", &top).unwrap();
        let h = io.open("d", irp::Access::READ_WRITE).unwrap();
        h.write(0, &[1; 4096]).unwrap();
        h.flush_buffers().unwrap();
    }
    let out = irpstack(&["stats", file.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("write") && text.contains("flush") && text.contains("4096"), "{text}");
    let out = irpstack(&["stats", dir.path().join("nope.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.json"));
}

/// A fresh directory under the test target directory for `--dir` (a real file system, where
/// `O_DIRECT` works).
fn bench_parent_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the --dir directory");
    dir
}

#[test]
fn bench_flush_json_is_one_object_with_positive_rates() {
    let parent = bench_parent_dir("bench-flush-json");
    let output = irpstack(&[
        "bench",
        "flush",
        "--threads",
        "2",
        "--seconds",
        "0.3",
        "--json",
        "--dir",
        parent.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let rows = json_lines(&output);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    for key in ["flushes_per_s", "baseline_flushes_per_s", "ratio", "device_syncs"] {
        assert!(row.get(key).and_then(Value::as_f64).is_some_and(|v| v > 0.0), "{key} in {row:?}");
    }
    assert!(row["device_syncs"].is_u64(), "{row:?}");
    assert_eq!(row["threads"], 2, "{row:?}");
    let left: Vec<_> = std::fs::read_dir(&parent).unwrap().collect();
    assert!(left.is_empty(), "the bench directory was not removed: {left:?}");
    std::fs::remove_dir(&parent).unwrap();
}

#[test]
fn bench_io_json_has_a_row_per_stack_and_workload() {
    let parent = bench_parent_dir("bench-io-json");
    let dir = parent.to_str().unwrap();
    let args = ["bench", "io", "--seconds", "0.3", "--no-fio", "--json", "--size", "64M", "--dir", dir];
    let output = irpstack(&args);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let rows = json_lines(&output);
    assert_eq!(rows.len(), 4, "{rows:?}");
    for row in &rows {
        assert!(row["stack"].as_str().is_some_and(|s| s.contains("file(")), "{row:?}");
        let workload = row["workload"].as_str().unwrap_or_default();
        assert!(["randwrite-4k-qd32", "write-1m-qd8"].contains(&workload), "{row:?}");
        assert!(row["iops"].as_f64().is_some_and(|v| v > 0.0), "{row:?}");
        assert!(row["gbps"].as_f64().is_some_and(|v| v > 0.0), "{row:?}");
        assert!(row.get("fio_iops").is_none() && row.get("ratio").is_none(), "fio ran: {row:?}");
    }
    assert!(rows.iter().any(|r| r["stack"].as_str().unwrap().starts_with("cache(")), "{rows:?}");

    let stack = "cache(size=8M) / file(path=DIR/mine.img,size=16M,direct=true)";
    let output =
        irpstack(&["bench", "io", "--stack", stack, "--seconds", "0.2", "--no-fio", "--json", "--dir", dir]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let rows = json_lines(&output);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["stack"] == stack), "{rows:?}");
    let left: Vec<_> = std::fs::read_dir(&parent).unwrap().collect();
    assert!(left.is_empty(), "the bench directory was not removed: {left:?}");
    std::fs::remove_dir(&parent).unwrap();
}

#[test]
fn bench_flush_and_io_reject_bad_input_cleanly() {
    assert_usage_error(&["bench", "flush", "--threads", "0"], "--threads");
    assert_usage_error(&["bench", "flush", "--seconds", "0"], "--seconds");
    assert_usage_error(&["bench", "flush", "--seconds", "NaN"], "--seconds");
    assert_usage_error(&["bench", "io", "--seconds", "soon"], "--seconds");
    assert_usage_error(&["bench", "io", "--size", "12Q"], "--size");
    assert_usage_error(&["bench", "io", "--size", "4K"], "--size");
    assert_usage_error(&["bench", "io", "--bogus"], "--bogus");
    let bad_stack =
        ["bench", "io", "--stack", "cahce(size=1M) / memory(size=1M)", "--no-fio", "--seconds", "0.1"];
    assert_usage_error(&bad_stack, "did you mean");
    assert_usage_error(
        &["bench", "flush", "--seconds", "0.1", "--dir", "/nonexistent/irpstack"],
        "/nonexistent",
    );
}

#[test]
fn drivers_lists_every_driver_and_its_parameters() {
    let output = irpstack(&["drivers"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let registry = stack::DriverRegistry::builtin();
    for name in registry.names() {
        assert!(text.contains(&format!("\n  {name} ")), "{name} missing:\n{text}");
        for param in registry.get(name).unwrap().params {
            assert!(text.contains(&format!("{}=", param.key)), "{name}: {} missing", param.key);
        }
    }
}
