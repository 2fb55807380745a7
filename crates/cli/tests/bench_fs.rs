//! `irpstack bench fs` runs both sides and prints one JSON row per measurement (never a
//! speed check: the figures live in docs/BENCHMARKS.md).

use std::process::Command;

#[test]
fn bench_fs_json_has_every_row_for_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .args([
            "bench",
            "fs",
            "--files",
            "300",
            "--seconds",
            "0.2",
            "--durable",
            "20",
            "--write-file",
            "16M",
            "--json",
        ])
        .args(["--stack", "cache(size=16M) / file(path=DIR/ours.img,size=256M)", "--kernel-size", "256M"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r["row"].as_str().unwrap()).collect();
    assert_eq!(names, ["create", "lookup", "stat", "unlink", "randwrite-4k-flush16", "durable-create"]);
    for r in &rows {
        assert!(r["ours_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    let kernel_ran = rows.iter().all(|r| r["kernel_per_s"].as_f64().is_some_and(|k| k > 0.0));
    if kernel_ran {
        for r in &rows {
            let expected = r["ours_per_s"].as_f64().unwrap() / r["kernel_per_s"].as_f64().unwrap();
            assert!((r["ratio"].as_f64().unwrap() - expected).abs() < 1e-6 * expected.max(1.0), "{r}");
        }
    } else {
        assert!(stderr.contains("the kernel's side did not run"), "{stderr}");
        irp::testing::skip(format_args!("the kernel's side (loop mount) did not run: {stderr}"));
    }
    // Nothing left mounted or attached in the bench directory.
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(dir.path().to_str().unwrap()), "left mounted");
}
