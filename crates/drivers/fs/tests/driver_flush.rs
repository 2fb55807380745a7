//! Flushes through the read-write driver, observed at the disk: a crash disk below counts
//! the flushes that reach it and keeps the durable image (what a power cut leaves), which a
//! fresh mount of the write path reads back. Each flag does what the flush contract says:
//! none is the file's fsync (journal up to its last change, then the flush below),
//! `FileDataSyncOnly` fdatasync (no commit for a time alone), `NoSync` the commit without a
//! device sync, `FileDataOnly` nothing (data is below already); a directory's and the
//! volume's flush commit everything. Failures: a flush below that fails is reported once to
//! every handle open then (errseq), never to a handle opened later; a failed write reports
//! itself and changes nothing.

mod rw_support;

use std::sync::Arc;

use disks::crash::{CrashDisk, CrashDiskOptions};
use filters::fault::{Fault, FaultOptions, FaultRule, OpSet};
use fs::driver::MountOptions;
use fs::{BlockDevice, Filesystem, MemoryDevice, ROOT};
use irp::file::{CreateDisposition as D, CreateOptions as O};
use irp::{Access, FlushFlags, IoManager, Irp, MajorFunction, Status};
use rw_support::{Disk, Formatted, assert_e2fsck_clean, format, pattern, read_handle, request};

/// A volume on a crash disk, mounted read-write with a long commit interval (only flushes
/// commit), and the crash disk to look at.
fn on_crash_disk() -> (rw_support::Volume, Arc<CrashDisk>) {
    let crash = CrashDisk::new(&CrashDiskOptions { size: Some(64 << 20), ..Default::default() }).unwrap();
    let disk = CrashDisk::create("crash", Arc::clone(&crash)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("fs.img");
    fs::mkfs::mkfs(&fs::lower_device::LowerDevice::new(&disk).unwrap(), &fs::mkfs::MkfsOptions::from_seed(3))
        .unwrap();
    irp::block::lower::flush(&disk, FlushFlags::Full).ok().unwrap();
    let f = Formatted { dir, disk: disk.clone(), image, kind: Disk::Memory, size: 64 << 20 };
    let options =
        MountOptions { commit_interval: std::time::Duration::from_secs(3600), ..MountOptions::default() };
    let top = fs::driver::FsDriver::attach("fs", &disk, options).unwrap();
    let io = IoManager::new();
    io.register("vol", &top).unwrap();
    (rw_support::Volume { io, top, formatted: f }, crash)
}

/// What a power cut now would leave: the durable image, mounted by the write path (its
/// journal replayed).
fn after_power_cut(crash: &CrashDisk) -> Filesystem {
    let dev = Arc::new(MemoryDevice::from_image(crash.durable_image()));
    Filesystem::mount(dev as Arc<dyn BlockDevice>, fs::MountOptions::default())
        .expect("the durable image mounts")
}

fn survives(crash: &CrashDisk, name: &str) -> Option<Vec<u8>> {
    let fs = after_power_cut(crash);
    let attr = fs.lookup(ROOT, name.as_bytes()).ok()?;
    let mut buf = vec![0u8; attr.size as usize];
    let n = fs.read(attr.ino, 0, &mut buf).unwrap();
    buf.truncate(n);
    Some(buf)
}

/// Flushes that reached the disk while `f` ran.
fn flushes(crash: &CrashDisk, f: impl FnOnce()) -> u64 {
    let before = crash.flush_count();
    f();
    crash.flush_count() - before
}

#[test]
fn each_flush_flag_does_what_it_says_at_the_disk() {
    let (v, crash) = on_crash_disk();
    let rw = |path: &str, d: D| v.create(&request(path, Access::READ_WRITE, d, O::NONE)).unwrap();
    let f = rw("f", D::Create);
    f.write(0, b"first version").unwrap();
    assert_eq!(survives(&crash, "f"), None, "nothing flushed yet");
    assert!(flushes(&crash, || f.flush_buffers().unwrap()) >= 2, "a commit and the flush below");
    assert_eq!(survives(&crash, "f").as_deref(), Some(&b"first version"[..]));

    // Nothing pending: a full flush is the one flush below; NoSync and FileDataOnly send none.
    assert_eq!(flushes(&crash, || f.flush_buffers().unwrap()), 1);
    assert_eq!(flushes(&crash, || f.flush_buffers_ex(FlushFlags::NoSync).unwrap()), 0);
    assert_eq!(flushes(&crash, || f.flush_buffers_ex(FlushFlags::FileDataOnly).unwrap()), 0);

    // An overwrite in place changes a time only: fdatasync needs no commit, just the data synced.
    f.write(0, b"FIRST").unwrap();
    assert_eq!(flushes(&crash, || f.flush_buffers_ex(FlushFlags::FileDataOnly).unwrap()), 0);
    assert_eq!(survives(&crash, "f").as_deref(), Some(&b"first version"[..]), "FileDataOnly syncs nothing");
    assert_eq!(flushes(&crash, || f.flush_buffers_ex(FlushFlags::FileDataSyncOnly).unwrap()), 1);
    assert_eq!(survives(&crash, "f").as_deref(), Some(&b"FIRST version"[..]));
    // The time is still pending: a full flush commits it.
    assert!(flushes(&crash, || f.flush_buffers().unwrap()) >= 2);
    // A size change matters to reading the data back: fdatasync commits it.
    f.write(13, b" and more").unwrap();
    assert!(flushes(&crash, || f.flush_buffers_ex(FlushFlags::FileDataSyncOnly).unwrap()) >= 2);
    assert_eq!(survives(&crash, "f").as_deref(), Some(&b"FIRST version and more"[..]));

    // NoSync commits (the journal's own ordering flushes) but sends no flush of its own.
    let g = rw("g", D::Create);
    g.write(0, b"g").unwrap();
    let commit_only = flushes(&crash, || g.flush_buffers_ex(FlushFlags::NoSync).unwrap());
    assert!(commit_only >= 1, "the commit's barriers");
    assert_eq!(survives(&crash, "g").as_deref(), Some(&b"g"[..]), "metadata committed");
    let h = rw("h", D::Create);
    h.write(0, b"h").unwrap();
    let full = flushes(&crash, || h.flush_buffers().unwrap());
    assert_eq!(full, commit_only + 1, "a full flush is the same commit plus the flush below");

    // A directory's flush commits its entries; fdatasync is not for directories.
    v.mkdir("d");
    rw("d/x", D::Create).write(0, b"in d").unwrap();
    let d = v.open("d", Access::READ_WRITE).unwrap();
    assert_eq!(d.flush_buffers_ex(FlushFlags::FileDataSyncOnly).err(), Some(Status::INVALID_PARAMETER));
    d.flush_buffers().unwrap();
    let fs = after_power_cut(&crash);
    let dino = fs.lookup(ROOT, b"d").unwrap().ino;
    assert_eq!(fs.lookup(dino, b"x").unwrap().size, 4);
    drop(fs);

    // The volume's flush, and a flush without a file object: everything.
    rw("v1", D::Create).write(0, b"v1").unwrap();
    v.open("", Access::READ_WRITE).unwrap().flush_buffers().unwrap();
    assert_eq!(survives(&crash, "v1").as_deref(), Some(&b"v1"[..]));
    rw("v2", D::Create).write(0, b"v2").unwrap();
    let own = Irp::for_device(&v.top, MajorFunction::FlushBuffers);
    assert_eq!(v.top.call_and_wait(own).status(), Status::SUCCESS);
    assert_eq!(survives(&crash, "v2").as_deref(), Some(&b"v2"[..]));

    // No write access, no flush.
    let ro = v.open("f", Access::READ).unwrap();
    assert_eq!(ro.flush_buffers().err(), Some(Status::ACCESS_DENIED));
    assert_eq!(v.top.verifier().violations(), vec![]);
    drop((f, g, h, d, ro));
    let image = crash.durable_image();
    let formatted = v.shut_down();
    assert!(crash.durable_image() != image, "the shutdown wrote the checkpoint");
    std::fs::write(&formatted.image, crash.durable_image()).unwrap();
    assert_e2fsck_clean(&formatted.image, "after the flushes");
}

/// `fs / fault(op=flush) / memory`, the fault filter off until a test turns it on.
fn over_failing_flushes() -> (rw_support::Volume, Arc<filters::fault::FaultControl>) {
    let f = format(Disk::Memory, 64 << 20);
    let rule = FaultRule::fail(OpSet::only(MajorFunction::FlushBuffers), Status::IO_DEVICE_ERROR);
    let fault = Fault::create("fault", FaultOptions::rule(rule), &f.disk).unwrap();
    let control = Arc::clone(fault.driver_as::<Fault>().unwrap().control());
    control.set_enabled(false);
    let options =
        MountOptions { commit_interval: std::time::Duration::from_secs(3600), ..MountOptions::default() };
    let top = fs::driver::FsDriver::attach("fs", &fault, options).unwrap();
    let io = IoManager::new();
    io.register("vol", &top).unwrap();
    (rw_support::Volume { io, top, formatted: f }, control)
}

#[test]
fn a_failed_write_back_is_reported_once_to_each_handle_open_then() {
    let (v, fault) = over_failing_flushes();
    let rw = |path: &str| v.create(&request(path, Access::READ_WRITE, D::OpenIf, O::NONE)).unwrap();
    let a = rw("f");
    a.write(0, &pattern(9, 8192)).unwrap();
    a.flush_buffers().unwrap();
    let (b, closing) = (rw("f"), rw("f"));
    let other_file = rw("other");
    // An overwrite in place: fdatasync commits nothing, so the one flush it sends below is
    // the one that fails.
    a.write(0, b"changed").unwrap();
    fault.set_enabled(true);
    assert_eq!(a.flush_buffers_ex(FlushFlags::FileDataSyncOnly).err(), Some(Status::IO_DEVICE_ERROR));
    fault.set_enabled(false);
    let later = rw("f");
    assert_eq!(a.flush_buffers(), Ok(()), "the handle that saw it is not told twice");
    assert_eq!(b.flush_buffers().err(), Some(Status::IO_DEVICE_ERROR), "open when it failed: told once");
    assert_eq!(b.flush_buffers(), Ok(()));
    assert_eq!(other_file.flush_buffers().err(), Some(Status::IO_DEVICE_ERROR), "the volume's data failed");
    assert_eq!(closing.close().err(), Some(Status::IO_DEVICE_ERROR), "a close reports it too");
    assert_eq!(later.flush_buffers(), Ok(()), "opened after the failure: never told");
    // A second failure is news to everyone open again.
    fault.set_enabled(true);
    assert_eq!(later.flush_buffers_ex(FlushFlags::FileDataSyncOnly).err(), Some(Status::IO_DEVICE_ERROR));
    fault.set_enabled(false);
    assert_eq!(a.flush_buffers().err(), Some(Status::IO_DEVICE_ERROR));
    assert_eq!(b.flush_buffers().err(), Some(Status::IO_DEVICE_ERROR));
    assert_eq!((a.flush_buffers(), b.flush_buffers(), later.flush_buffers()), (Ok(()), Ok(()), Ok(())));
    // The data was not dropped: the retried flushes made it durable.
    assert_eq!(&read_handle(&a)[..7], b"changed");
    drop((a, b, other_file, later));
    let formatted = v.shut_down();
    assert_e2fsck_clean(&formatted.image, "after failed flushes");
    assert_eq!(&rw_support::debugfs_cat(&formatted.image, "/f")[..7], b"changed");
}

#[test]
fn a_failed_data_write_reports_itself_and_changes_nothing() {
    let f = format(Disk::Memory, 64 << 20);
    let rule = FaultRule::fail(OpSet::only(MajorFunction::Write), Status::IO_DEVICE_ERROR);
    let fault = Fault::create("fault", FaultOptions::rule(rule), &f.disk).unwrap();
    let control = Arc::clone(fault.driver_as::<Fault>().unwrap().control());
    control.set_enabled(false);
    let v = rw_support::mount_over(f, &fault);
    v.put("f", b"before");
    let h = v.open("f", Access::READ_WRITE).unwrap();
    control.set_enabled(true);
    assert_eq!(h.write(6, &pattern(10, 100_000)).err(), Some(Status::IO_DEVICE_ERROR));
    control.set_enabled(false);
    assert_eq!(read_handle(&h), b"before", "the failed write changed neither size nor data");
    h.write(6, b" and after").unwrap();
    h.flush_buffers().unwrap();
    drop(h);
    let formatted = v.shut_down();
    assert_e2fsck_clean(&formatted.image, "after a failed write");
    assert_eq!(rw_support::debugfs_cat(&formatted.image, "/f"), b"before and after");
}

#[test]
fn the_periodic_commit_makes_changes_durable_without_a_flush() {
    let crash = CrashDisk::new(&CrashDiskOptions { size: Some(64 << 20), ..Default::default() }).unwrap();
    let disk = CrashDisk::create("crash", Arc::clone(&crash)).unwrap();
    fs::mkfs::mkfs(&fs::lower_device::LowerDevice::new(&disk).unwrap(), &fs::mkfs::MkfsOptions::from_seed(4))
        .unwrap();
    irp::block::lower::flush(&disk, FlushFlags::Full).ok().unwrap();
    let options =
        MountOptions { commit_interval: std::time::Duration::from_millis(50), ..MountOptions::default() };
    let top = fs::driver::FsDriver::attach("fs", &disk, options).unwrap();
    let io = IoManager::new();
    io.register("vol", &top).unwrap();
    let h = io.create("vol", &request("unflushed", Access::READ_WRITE, D::Create, O::NONE)).unwrap();
    h.write(0, b"committed by the timer").unwrap();
    // The commit thread looks every half interval; give it plenty of time on a busy machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while survives(&crash, "unflushed").is_none() {
        assert!(std::time::Instant::now() < deadline, "no periodic commit within 10 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(survives(&crash, "unflushed").as_deref(), Some(&b"committed by the timer"[..]));
    drop(h);
    io.shutdown().unwrap();
}

#[test]
fn a_write_through_write_is_durable_when_it_completes() {
    let (v, crash) = on_crash_disk();
    let fua = v.create(&request("fua", Access::READ_WRITE, D::Create, O::NONE)).unwrap();
    fua.write(0, b"not yet").unwrap();
    assert_eq!(survives(&crash, "fua"), None);
    let synced = flushes(&crash, || {
        fua.write_with(0, b"durable", irp::RequestFlags::FORCE_UNIT_ACCESS).unwrap();
    });
    assert!(synced >= 2, "the file's fsync: a commit and a device flush");
    assert_eq!(survives(&crash, "fua").as_deref(), Some(&b"durable"[..]), "name, size and data");
    let wt = v.create(&request("wt", Access::READ_WRITE, D::Create, O::WRITE_THROUGH)).unwrap();
    wt.write(0, b"every write").unwrap();
    assert_eq!(survives(&crash, "wt").as_deref(), Some(&b"every write"[..]), "FILE_WRITE_THROUGH");
    drop((fua, wt));
    v.io.shutdown().unwrap();
}
