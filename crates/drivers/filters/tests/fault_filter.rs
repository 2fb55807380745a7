//! The fault filter over the crash disk and the memory disk, through the I/O manager.

use std::sync::Arc;
use std::time::{Duration, Instant};

use disks::crash::{CrashDisk, CrashDiskOptions, CrashPlan};
use disks::memory::MemoryDisk;
use filters::fault::{Fault, FaultControl, FaultError, FaultOptions, FaultRule, OpSet};
use irp::{Access, Characteristics, DeviceRef, Handle, IoManager, MajorFunction, Status};

const SIZE: u64 = 1 << 20;

struct Rig {
    handle: Handle,
    _io: IoManager,
    top: DeviceRef,
    disk: Arc<CrashDisk>,
}

impl Rig {
    fn control(&self) -> Arc<FaultControl> {
        Arc::clone(self.top.driver_as::<Fault>().expect("a fault filter on top").control())
    }
}

fn rig(options: FaultOptions) -> Rig {
    let disk =
        CrashDisk::new(&CrashDiskOptions { size: Some(SIZE), sector_size: Some(512), ..Default::default() })
            .unwrap();
    let bottom = CrashDisk::create("crash", Arc::clone(&disk)).unwrap();
    let top = Fault::create("fault", options, &bottom).unwrap();
    let io = IoManager::new();
    io.register("disk", &top).unwrap();
    let handle = io.open("disk", Access::READ_WRITE).unwrap();
    Rig { handle, _io: io, top, disk }
}

fn params(pairs: &[(&str, &str)]) -> Result<FaultOptions, FaultError> {
    FaultOptions::from_params(pairs.iter().copied())
}

#[test]
fn rate_one_fails_every_write_and_nothing_else() {
    let r = rig(params(&[("op", "write"), ("rate", "1")]).unwrap());
    for i in 0..5 {
        assert_eq!(r.handle.write(i * 512, &[1; 512]), Err(Status::IO_DEVICE_ERROR));
    }
    assert_eq!(r.handle.read(0, 512).unwrap().bytes(), &[0; 512]);
    r.handle.flush_buffers().unwrap();
    assert!(r.disk.unflushed().is_empty(), "no failed write reached the disk");
    let c = r.control().counts(MajorFunction::Write);
    assert_eq!((c.seen, c.matched, c.failed), (5, 5, 5));
    assert_eq!(r.control().counts(MajorFunction::Read).matched, 0);
}

#[test]
fn nth_fails_only_that_flush() {
    let r = rig(params(&[("op", "flush"), ("nth", "3")]).unwrap());
    let results: Vec<_> = (0..5)
        .map(|i| {
            r.handle.write(i * 512, &[i as u8 + 1; 512]).unwrap();
            r.handle.flush_buffers()
        })
        .collect();
    assert_eq!(results, [Ok(()), Ok(()), Err(Status::IO_DEVICE_ERROR), Ok(()), Ok(())]);
    assert_eq!(r.disk.flush_count(), 4);
    assert_eq!(r.control().counts(MajorFunction::FlushBuffers).failed, 1);
    assert_eq!(r.control().counts(MajorFunction::Write).failed, 0);
}

#[test]
fn after_n_fails_every_later_request() {
    let r = rig(params(&[("ops", "write+zero"), ("after", "2"), ("error", "ENOSPC")]).unwrap());
    let results: Vec<_> = (0..5).map(|i| r.handle.write(i * 512, &[7; 512]).map(|_| ())).collect();
    assert_eq!(
        results,
        [Ok(()), Ok(()), Err(Status::DISK_FULL), Err(Status::DISK_FULL), Err(Status::DISK_FULL)]
    );
    // The rule numbers every request of its set together: this is request 6.
    assert_eq!(r.handle.write_zeroes(0, 512, irp::RequestFlags::NONE), Err(Status::DISK_FULL));
    assert_eq!(r.handle.discard(0, 512), Ok(()), "not in the set");
    // Numbering starts over after a rearm.
    r.control().rearm();
    assert_eq!(r.handle.write(0, &[8; 512]), Ok(512));
}

#[test]
fn a_trigger_file_switches_the_rule_on_while_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let trigger = dir.path().join("fail-now");
    let r = rig(params(&[("op", "write"), ("trigger", trigger.to_str().unwrap())]).unwrap());
    assert_eq!(r.handle.write(0, &[1; 512]), Ok(512));
    std::fs::write(&trigger, "").unwrap();
    assert_eq!(r.handle.write(0, &[2; 512]), Err(Status::IO_DEVICE_ERROR));
    std::fs::remove_file(&trigger).unwrap();
    assert_eq!(r.handle.write(0, &[3; 512]), Ok(512));
    let c = r.control().counts(MajorFunction::Write);
    assert_eq!((c.seen, c.matched, c.failed), (3, 1, 1));
}

#[test]
fn set_enabled_switches_every_rule() {
    let r = rig(FaultOptions::rule(FaultRule::fail(OpSet::ALL, Status::IO_DEVICE_ERROR)));
    assert!(r.handle.read(0, 512).is_err());
    r.control().set_enabled(false);
    r.handle.write(0, &[1; 512]).unwrap();
    r.handle.flush_buffers().unwrap();
    r.control().set_enabled(true);
    assert_eq!(r.handle.discard(0, 512), Err(Status::IO_DEVICE_ERROR));
}

#[test]
fn errno_names_select_the_status() {
    for (name, status) in [
        ("EIO", Status::IO_DEVICE_ERROR),
        ("enospc", Status::DISK_FULL),
        ("EPERM", Status::ACCESS_DENIED),
        ("EROFS", Status::MEDIA_WRITE_PROTECTED),
        ("ENOMEM", Status::NO_MEMORY),
        ("ESHUTDOWN", Status::CONNECTION_RESET),
    ] {
        let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
        let options = params(&[("op", "write|flush"), ("error", name)]).unwrap();
        let top = Fault::create("fault", options, &mem).unwrap();
        let io = IoManager::new();
        io.register("m", &top).unwrap();
        let h = io.open("m", Access::READ_WRITE).unwrap();
        assert_eq!(h.write(0, &[1; 512]), Err(status), "{name}");
        assert_eq!(h.flush_buffers(), Err(status), "{name}");
        assert_eq!(h.read(0, 512).unwrap().bytes(), &[0; 512]);
    }
}

#[test]
fn a_delay_adds_at_least_the_delay() {
    let r = rig(params(&[("op", "read|flush"), ("delay", "20ms")]).unwrap());
    let start = Instant::now();
    r.handle.read(0, 512).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(20), "{:?}", start.elapsed());
    let start = Instant::now();
    r.handle.flush_buffers().unwrap();
    assert!(start.elapsed() >= Duration::from_millis(20), "{:?}", start.elapsed());
    r.handle.write(0, &[1; 512]).unwrap();
    let c = r.control();
    assert_eq!(c.counts(MajorFunction::Read).delayed, 1);
    assert_eq!(c.counts(MajorFunction::Write).delayed, 0);
    assert_eq!(r.disk.flush_count(), 1, "a delayed flush is still forwarded");
}

#[test]
fn flush_drop_lies_and_the_crash_disk_shows_it_without_a_verifier_report() {
    let r = rig(params(&[("flush", "drop")]).unwrap());
    assert!(r.top.characteristics().contains(Characteristics::UNSAFE_FLUSH));
    let before = r.disk.durable_image();
    r.handle.write(4096, &[9; 4096]).unwrap();
    r.handle.flush_buffers().expect("flush=drop reports success");
    assert_eq!(r.disk.flush_count(), 0, "the flush never reached the disk");
    assert_eq!(r.disk.durable_image(), before, "nothing was made durable");
    assert_eq!(r.control().counts(MajorFunction::FlushBuffers).dropped, 1);
    let image = r.disk.crash(&CrashPlan::LoseAll).unwrap();
    assert_eq!(image[4096..8192], [0; 4096], "the acknowledged write is lost");
    assert!(r.top.verifier().violations().is_empty(), "{:?}", r.top.verifier().violations());
}

#[test]
fn a_failed_flush_at_the_top_is_no_verifier_violation() {
    let r = rig(FaultOptions::rule(FaultRule::fail(
        OpSet::only(MajorFunction::FlushBuffers),
        Status::DATA_ERROR,
    )));
    r.handle.write(0, &[1; 512]).unwrap();
    assert_eq!(r.handle.flush_buffers(), Err(Status::DATA_ERROR));
    assert!(r.disk.durable_image()[..512].iter().all(|&b| b == 0));
    assert!(r.top.verifier().violations().is_empty());
}

#[test]
fn seeded_rates_are_reproducible() {
    let pattern = |seed: &str| {
        let r = rig(params(&[("op", "write"), ("rate", "50%"), ("seed", seed)]).unwrap());
        (0..200).map(|i| r.handle.write((i % 64) * 512, &[1; 512]).is_err()).collect::<Vec<bool>>()
    };
    let a = pattern("42");
    assert_eq!(a, pattern("42"));
    assert_ne!(a, pattern("43"));
    let failed = a.iter().filter(|&&f| f).count();
    assert!((60..=140).contains(&failed), "{failed} of 200 failed at rate 0.5");
    let none = rig(params(&[("op", "write"), ("rate", "0")]).unwrap());
    assert!((0..50).all(|i| none.handle.write(i * 512, &[1; 512]).is_ok()));
}

#[test]
fn two_stacked_fault_filters_apply_two_rules() {
    let disk =
        CrashDisk::new(&CrashDiskOptions { size: Some(SIZE), sector_size: Some(512), ..Default::default() })
            .unwrap();
    let bottom = CrashDisk::create("crash", Arc::clone(&disk)).unwrap();
    let lower = Fault::create("f1", params(&[("op", "write"), ("nth", "1")]).unwrap(), &bottom).unwrap();
    let upper = Fault::create("f2", params(&[("op", "flush"), ("error", "EROFS")]).unwrap(), &lower).unwrap();
    let io = IoManager::new();
    io.register("d", &upper).unwrap();
    let h = io.open("d", Access::READ_WRITE).unwrap();
    assert_eq!(h.write(0, &[1; 512]), Err(Status::IO_DEVICE_ERROR));
    assert_eq!(h.write(0, &[1; 512]), Ok(512));
    assert_eq!(h.flush_buffers(), Err(Status::MEDIA_WRITE_PROTECTED));
}

#[test]
fn from_params_errors_are_clear() {
    let err = |pairs: &[(&str, &str)]| params(pairs).unwrap_err().to_string();
    let e = err(&[("colour", "red")]);
    assert!(e.contains("unknown key \"colour\"") && e.contains("trigger"), "{e}");
    let e = err(&[("error", "EWHAT")]);
    assert!(e.contains("EWHAT") && e.contains("ENOSPC"), "{e}");
    let e = err(&[("op", "write|fsync")]);
    assert!(e.contains("fsync") && e.contains("discard"), "{e}");
    assert!(err(&[("rate", "2")]).contains("0 to 1"));
    assert!(err(&[("nth", "0")]).contains("from 1"));
    assert!(err(&[("delay", "5")]).contains("unit"));
    assert!(err(&[("delay", "5 fortnights")]).contains("fortnights"));
    assert!(err(&[("flush", "keep")]).contains("flush=drop"));
    assert!(err(&[("error", "EIO"), ("delay", "1ms")]).contains("exclude each other"));
    assert!(err(&[("flush", "drop"), ("op", "write")]).contains("flushes only"));
    assert!(err(&[("op", "read"), ("ops", "write")]).contains("given twice"));
    assert!(err(&[("seed", "x")]).contains("integer"));
    // Defaults: all data requests, EIO, every time.
    let options = params(&[]).unwrap();
    assert_eq!(options, FaultOptions::rule(FaultRule::fail(OpSet::ALL, Status::IO_DEVICE_ERROR)));
    let options = params(&[("delay", "1.5ms"), ("seed", "0x10")]).unwrap();
    assert_eq!(options.rules[0], FaultRule::delay(OpSet::ALL, Duration::from_micros(1500)).with_seed(16));
    // Programmatic rules are checked at creation.
    let mem = MemoryDisk::create("mem", SIZE, 512).unwrap();
    let bad = FaultOptions::rule(FaultRule::fail(OpSet::ALL, Status::IO_DEVICE_ERROR).with_rate(1.5));
    assert!(matches!(Fault::create("f", bad, &mem), Err(FaultError::Invalid(_))));
}
