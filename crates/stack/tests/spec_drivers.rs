//! Every registered driver builds from a spec and works in a stack.

use irp::{Access, IoManager};
use stack::{BuildContext, DriverRegistry, StackSpec};

fn build(text: &str, ctx: &BuildContext) -> Result<irp::DeviceRef, String> {
    let spec: StackSpec = text.parse().map_err(|e: stack::SpecError| e.to_string())?;
    DriverRegistry::builtin().build(&spec, ctx).map_err(|e| e.to_string())
}

#[test]
fn a_full_stack_builds_and_round_trips_data() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = BuildContext::new().with_base_dir(dir.path());
    let top = build(
        "cache(size=1M,mode=writeback,interval=50ms) / stats(file=stats.json,interval=0s) / fault(op=write,rate=0) / crash(size=1M,sector=4K,path=disk.img)",
        &ctx,
    )
    .unwrap();
    assert_eq!(top.stack_size(), 4);
    assert_eq!(top.stack_names(), ["cache0", "stats1", "fault2", "crash3"]);
    let io = IoManager::new();
    io.register("d", &top).unwrap();
    let h = io.open("d", Access::READ_WRITE).unwrap();
    h.write(4096, &[42; 4096]).unwrap();
    h.flush_buffers().unwrap();
    assert_eq!(h.read(4096, 4096).unwrap().bytes(), &[42; 4096]);
    drop(h);
    io.shutdown().unwrap();
    drop(io);
    drop(top);
    let image = std::fs::read(dir.path().join("disk.img")).unwrap();
    assert_eq!(image[4096..8192], [42; 4096]);
    let stats = std::fs::read_to_string(dir.path().join("stats.json")).unwrap();
    assert!(stats.contains("flush"), "{stats}");
}

/// `prometheus=` writes the text exposition format beside the JSON report, relative paths
/// resolved in the base directory like `file=`; each sample line is `name{labels} value`.
#[test]
fn stats_write_prometheus_text_for_node_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = BuildContext::new().with_base_dir(dir.path());
    let top =
        build("stats(file=s.json,prometheus=irpstack.prom,interval=0s) / memory(size=1M)", &ctx).unwrap();
    let io = IoManager::new();
    io.register("d", &top).unwrap();
    let h = io.open("d", Access::READ_WRITE).unwrap();
    for i in 0..3 {
        h.write(i * 4096, &[1; 4096]).unwrap();
    }
    h.flush_buffers().unwrap();
    drop(h);
    io.shutdown().unwrap();
    let text = std::fs::read_to_string(dir.path().join("irpstack.prom")).unwrap();
    assert!(text.contains("irpstack_requests_total{device=\"stats0\",op=\"write\"} 3\n"), "{text}");
    assert!(text.contains("irpstack_bytes_total{device=\"stats0\",op=\"write\"} 12288\n"), "{text}");
    assert!(
        text.contains("irpstack_request_duration_seconds_count{device=\"stats0\",op=\"flush\"} 1\n"),
        "{text}"
    );
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        assert!(
            text.contains(&format!(
                "# TYPE {}",
                name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count")
            )),
            "{line}"
        );
    }
    assert!(dir.path().join("s.json").exists());
}

#[test]
fn driver_parameter_errors_are_clear() {
    let ctx = BuildContext::new();
    for (spec, needle) in [
        ("cache(mode=fast) / memory(size=1M)", "fast"),
        ("cache(block=3K) / memory(size=1M)", "block"),
        ("fault(error=EWHAT) / memory(size=1M)", "EWHAT"),
        ("crash(sector=4K)", "size"),
        ("cache(sise=1M) / memory(size=1M)", "size"),
    ] {
        let err = build(spec, &ctx).unwrap_err();
        assert!(err.contains(needle), "{spec}: {err}");
    }
}

#[test]
fn file_stacks_build_for_both_engines_and_keep_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = BuildContext::new().with_base_dir(dir.path()).with_default_size(1 << 20);
    for engine in ["pool", "uring"] {
        let spec = format!(
            "cache(size=256K) / file(path={engine}.img,direct=true,engine={engine},threads=2,queue-depth=32)"
        );
        {
            let top = build(&spec, &ctx).unwrap();
            let io = IoManager::new();
            io.register("d", &top).unwrap();
            let h = io.open("d", Access::READ_WRITE).unwrap();
            assert_eq!(h.query_size().unwrap(), 1 << 20, "the build's default size for a new file");
            h.write(8192, &[9; 4096]).unwrap();
            h.flush_buffers().unwrap();
        }
        let top = build(&spec, &ctx).unwrap();
        let io = IoManager::new();
        io.register("d", &top).unwrap();
        let h = io.open("d", Access::READ).unwrap();
        assert_eq!(h.read(8192, 4096).unwrap().bytes(), &[9; 4096], "{engine}");
    }
    let err = build("file(path=missing.img)", &BuildContext::new().with_base_dir(dir.path())).unwrap_err();
    assert!(err.contains("missing.img"), "{err}");
    let err = build("file(path=x.img,engine=aio,size=1M)", &ctx).unwrap_err();
    assert!(err.contains("aio"), "{err}");
}

#[test]
fn help_lists_every_driver() {
    let help = DriverRegistry::builtin().help();
    for name in
        ["cache", "crash", "fault", "file", "fs", "nbd", "pmem", "stats", "memory", "null", "passthrough"]
    {
        assert!(help.contains(name), "{name} missing from help:\n{help}");
    }
    // Every parameter line keeps its usage apart from its help (long usages, such as
    // `request_timeout=DURATION`, on a line of their own).
    for line in help.lines().filter(|l| l.starts_with("      ") && !l.starts_with("       ")) {
        let rest = &line[6..];
        let usage_len = rest.find(' ').unwrap_or(rest.len());
        assert!(usage_len < 24 || usage_len == rest.len(), "usage run into its help: {line:?}");
    }
}
