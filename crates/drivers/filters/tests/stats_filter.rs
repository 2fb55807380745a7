//! The stats filter: counts, bytes, latency of synchronous and pended IRPs, reports.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use disks::memory::MemoryDisk;
use filters::stats::{Stats, StatsError, StatsOptions, StatsSnapshot};
use irp::{Access, Device, DeviceRef, Driver, Handle, IoManager, Irp, MajorFunction, RequestFlags, Status};

const SIZE: u64 = 1 << 20;

/// A filter that pends every IRP and completes it from another thread after
/// forwarding it: after `delay` in a thread of its own, or when the test releases it.
#[derive(Default)]
struct Deferred {
    delay: Duration,
    hold: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<Irp>>>,
}

fn forward_and_complete(irp: Irp, lower: &DeviceRef) {
    let irp = irp.forward_synchronously(lower);
    let st = irp.io_status();
    irp.complete_with(st.status, st.information);
}

impl Driver for Deferred {
    fn write(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.defer(device, irp)
    }
    fn read(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.defer(device, irp)
    }
    fn flush_buffers(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.defer(device, irp)
    }
}

impl Deferred {
    fn defer(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        irp.mark_pending();
        let lower = Arc::clone(device.lower().unwrap());
        if self.hold.load(Ordering::SeqCst) {
            self.held.lock().unwrap().push(irp);
        } else {
            let delay = self.delay;
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                forward_and_complete(irp, &lower);
            });
        }
        Status::PENDING
    }

    fn release(&self, lower: &DeviceRef) -> usize {
        let held = std::mem::take(&mut *self.held.lock().unwrap());
        let n = held.len();
        for irp in held {
            forward_and_complete(irp, lower);
        }
        n
    }
}

struct Rig {
    handle: Handle,
    io: IoManager,
    stats: DeviceRef,
}

impl Rig {
    fn snapshot(&self) -> StatsSnapshot {
        self.stats.driver_as::<Stats>().unwrap().snapshot()
    }
}

fn rig_over(lower: &DeviceRef, options: StatsOptions) -> Rig {
    let stats = Stats::create("stats", options, lower).unwrap();
    let io = IoManager::new();
    io.register("disk", &stats).unwrap();
    let handle = io.open("disk", Access::READ_WRITE).unwrap();
    Rig { handle, io, stats }
}

fn workload(h: &Handle) {
    for i in 0..10 {
        h.write(i * 4096, &[1; 4096]).unwrap();
    }
    for i in 0..5 {
        h.read(i * 8192, 8192).unwrap();
    }
    for _ in 0..3 {
        h.flush_buffers().unwrap();
    }
    h.discard(0, 65536).unwrap();
    h.discard(65536, 65536).unwrap();
    h.write_zeroes(0, 512, RequestFlags::NONE).unwrap();
    assert_eq!(h.read(SIZE, 512).unwrap_err(), Status::END_OF_FILE);
}

#[test]
fn counts_and_bytes_after_a_known_workload() {
    let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
    let r = rig_over(&mem, StatsOptions::default());
    workload(&r.handle);
    let s = r.snapshot();
    let w = s.op(MajorFunction::Write);
    assert_eq!((w.count, w.bytes, w.errors, w.in_flight), (10, 40960, 0, 0));
    let rd = s.op(MajorFunction::Read);
    assert_eq!((rd.count, rd.bytes, rd.errors), (6, 40960, 1));
    assert_eq!((s.flush().count, s.flush().errors), (3, 0));
    assert_eq!((s.op(MajorFunction::Discard).count, s.op(MajorFunction::Discard).bytes), (2, 131072));
    assert_eq!(s.op(MajorFunction::WriteZeroes).bytes, 512);
    assert_eq!(s.op(MajorFunction::Create).count, 1, "the open went through the filter");
    assert_eq!(w.latency.count, 10);
    assert!(w.latency.min_ns <= w.latency.max_ns && w.latency.p50().is_some());
}

#[test]
fn latency_is_recorded_for_irps_completed_later_on_another_thread() {
    let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
    let delay = Duration::from_millis(15);
    let deferred = Device::attach("deferred", Deferred { delay, ..Deferred::default() }, &mem).unwrap();
    let r = rig_over(&deferred, StatsOptions::default());
    r.handle.write(0, &[2; 4096]).unwrap();
    r.handle.write(4096, &[3; 4096]).unwrap();
    r.handle.flush_buffers().unwrap();
    assert_eq!(r.handle.read(0, 4096).unwrap().bytes(), &[2; 4096]);
    let s = r.snapshot();
    let w = s.op(MajorFunction::Write);
    assert_eq!((w.count, w.bytes, w.in_flight), (2, 8192, 0));
    assert!(w.latency.min_ns >= delay.as_nanos() as u64, "{:?}", w.latency);
    assert!(s.flush().latency.mean().unwrap() >= delay);
    assert!(w.latency.p99().unwrap() >= delay);
    assert!(r.stats.verifier().violations().is_empty());
}

#[test]
fn snapshots_are_readable_while_requests_are_in_flight() {
    let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
    let hold = Arc::new(AtomicBool::new(true));
    let held = Arc::new(Mutex::new(Vec::new()));
    let driver = Deferred { delay: Duration::ZERO, hold: Arc::clone(&hold), held: Arc::clone(&held) };
    let deferred = Device::attach("deferred", driver, &mem).unwrap();
    let r = Arc::new(rig_over(&deferred, StatsOptions::default()));
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let r = Arc::clone(&r);
            std::thread::spawn(move || r.handle.write(t * 4096, &[t as u8; 4096]).unwrap())
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while r.snapshot().op(MajorFunction::Write).in_flight < 4 {
        assert!(Instant::now() < deadline, "writes never showed as in flight: {}", r.snapshot());
        std::thread::sleep(Duration::from_millis(1));
    }
    let s = r.snapshot();
    assert_eq!((s.op(MajorFunction::Write).count, s.op(MajorFunction::Write).in_flight), (0, 4));
    hold.store(false, Ordering::SeqCst);
    let released = deferred.driver_as::<Deferred>().unwrap().release(&mem);
    assert_eq!(released, 4);
    for w in writers {
        assert_eq!(w.join().unwrap(), 4096);
    }
    let w = r.snapshot().op(MajorFunction::Write);
    assert_eq!((w.count, w.in_flight, w.bytes), (4, 0, 16384));
}

#[test]
fn the_table_has_a_flush_line() {
    let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
    let r = rig_over(&mem, StatsOptions::default());
    workload(&r.handle);
    let table = r.snapshot().to_string();
    assert!(table.lines().any(|l| l.starts_with("flush: 3 completed, 0 failed")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("write ") && l.contains("40960")), "{table}");
    assert!(table.contains("p99"), "{table}");
}

// A minimal JSON reader: enough to check the report is well formed and read values.
#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(m) => m.get(key).unwrap_or_else(|| panic!("no key {key:?}")),
            _ => panic!("not an object"),
        }
    }
    fn num(&self) -> f64 {
        match self {
            Json::Num(n) => *n,
            other => panic!("not a number: {other:?}"),
        }
    }
}

fn parse_json(text: &str) -> Json {
    fn ws(s: &mut &str) {
        *s = s.trim_start();
    }
    fn value(s: &mut &str) -> Json {
        ws(s);
        let c = s.chars().next().expect("value expected");
        match c {
            '{' | '[' => {
                *s = &s[1..];
                let (close, mut map, mut arr) =
                    (if c == '{' { '}' } else { ']' }, BTreeMap::new(), Vec::new());
                ws(s);
                if let Some(rest) = s.strip_prefix(close) {
                    *s = rest;
                } else {
                    loop {
                        if c == '{' {
                            let Json::Str(k) = value(s) else { panic!("object key must be a string") };
                            ws(s);
                            *s = s.strip_prefix(':').expect("':' expected");
                            map.insert(k, value(s));
                        } else {
                            arr.push(value(s));
                        }
                        ws(s);
                        match s.chars().next() {
                            Some(',') => *s = &s[1..],
                            Some(x) if x == close => {
                                *s = &s[1..];
                                break;
                            }
                            other => panic!("',' or {close:?} expected, got {other:?}"),
                        }
                    }
                }
                if c == '{' { Json::Obj(map) } else { Json::Arr(arr) }
            }
            '"' => {
                let end = s[1..].find('"').expect("unterminated string") + 1;
                let v = s[1..end].to_owned();
                *s = &s[end + 1..];
                Json::Str(v)
            }
            'n' => {
                *s = s.strip_prefix("null").expect("null");
                Json::Null
            }
            _ => {
                let end = s.find(|c: char| !(c.is_ascii_digit() || "-+.eE".contains(c))).unwrap_or(s.len());
                let n = s[..end].parse().unwrap_or_else(|_| panic!("bad number {:?}", &s[..end]));
                *s = &s[end..];
                Json::Num(n)
            }
        }
    }
    let mut s = text;
    let v = value(&mut s);
    assert!(s.trim().is_empty(), "trailing text {s:?}");
    v
}

#[test]
fn json_is_well_formed_and_has_the_numbers() {
    let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
    let r = rig_over(&mem, StatsOptions::default());
    workload(&r.handle);
    let json = parse_json(&r.snapshot().to_json());
    assert_eq!(json.get("device"), &Json::Str("stats".into()));
    let ops = json.get("ops");
    assert_eq!(ops.get("write").get("count").num(), 10.0);
    assert_eq!(ops.get("write").get("bytes").num(), 40960.0);
    assert_eq!(ops.get("read").get("errors").num(), 1.0);
    assert!(ops.get("write").get("latency_ns").get("p99").num() > 0.0);
    assert_eq!(json.get("flush").get("count").num(), 3.0);
    let Json::Arr(buckets) = ops.get("flush").get("latency_ns").get("buckets") else { panic!("buckets") };
    assert_eq!(buckets.iter().map(Json::num).sum::<f64>(), 3.0);
    // Unused data-path requests are present with null latencies.
    let idle = parse_json(
        &Stats::create("s", StatsOptions::default(), &mem)
            .unwrap()
            .driver_as::<Stats>()
            .unwrap()
            .snapshot()
            .to_json(),
    );
    assert_eq!(idle.get("ops").get("discard").get("latency_ns").get("mean"), &Json::Null);
}

#[test]
fn the_file_is_written_at_shutdown_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.json");
    let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
    let r = rig_over(
        &mem,
        StatsOptions { file: Some(file.clone()), interval: Duration::ZERO, ..StatsOptions::default() },
    );
    let read = || parse_json(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(read().get("ops").get("write").get("count").num(), 0.0, "written at creation");
    workload(&r.handle);
    assert_eq!(read().get("ops").get("write").get("count").num(), 0.0, "no periodic writes at interval 0");
    r.io.shutdown().unwrap();
    let json = read();
    assert_eq!(json.get("ops").get("write").get("count").num(), 10.0);
    assert_eq!(json.get("ops").get("shutdown").get("count").num(), 1.0);
    // After shutdown the handle still works; dropping the stack writes the final report.
    r.handle.write(0, &[1; 512]).unwrap();
    drop(r);
    drop(mem);
    assert_eq!(read().get("ops").get("write").get("count").num(), 11.0);
}

#[test]
fn the_file_is_rewritten_every_interval() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.json");
    let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
    let options =
        StatsOptions::from_params([("file", file.to_str().unwrap()), ("interval", "10ms")]).unwrap();
    let r = rig_over(&mem, options);
    r.handle.write(0, &[1; 512]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&file).unwrap();
        if parse_json(&text).get("ops").get("write").get("count").num() == 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the periodic writer never wrote the write: {text}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn bad_settings_are_clear_errors() {
    let e = StatsOptions::from_params([("colour", "red")]).unwrap_err().to_string();
    assert!(e.contains("colour") && e.contains("interval"), "{e}");
    let e = StatsOptions::from_params([("interval", "10")]).unwrap_err().to_string();
    assert!(e.contains("interval") && e.contains("unit"), "{e}");
    let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
    let options = StatsOptions {
        file: Some("/nonexistent-dir/x/stats.json".into()),
        interval: Duration::ZERO,
        ..StatsOptions::default()
    };
    let err = Stats::create("s", options, &mem).unwrap_err();
    assert!(matches!(err, StatsError::File { .. }) && err.to_string().contains("nonexistent-dir"), "{err}");
}
