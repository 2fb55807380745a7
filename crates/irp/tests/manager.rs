//! The I/O manager and handles: named devices, access checks, flushes, shutdown.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use irp::{
    Access, Characteristics, Device, DeviceBuilder, FlushFlags, IoError, IoManager, Irp, MajorFunction,
    Status,
};

fn manager_with_ram(characteristics: Characteristics) -> (IoManager, irp::DeviceRef) {
    let io = IoManager::new();
    let top = ram_stack(1 << 20, 2, characteristics);
    io.register("disk0", &top).unwrap();
    (io, top)
}

fn ram(top: &irp::DeviceRef) -> &RamDisk {
    RamDisk::of(top)
}

#[test]
fn open_write_read_flush() {
    let (io, top) = manager_with_ram(Characteristics::NONE);
    let h = io.open("disk0", Access::READ_WRITE).unwrap();
    assert_eq!(h.write(4096, b"hello, stack").unwrap(), 12);
    assert_eq!(h.write_fua(8192, b"fua").unwrap(), 3);
    let mut buf = [0u8; 12];
    assert_eq!(h.read_into(4096, &mut buf).unwrap(), 12);
    assert_eq!(&buf, b"hello, stack");
    assert_eq!(h.read(8192, 3).unwrap().bytes(), b"fua");
    h.flush_buffers().unwrap();
    // FileDataSyncOnly is for files (a volume handle refuses it): sent to the disk directly.
    let data_sync =
        Irp::for_device(&top, MajorFunction::FlushBuffers).with_flush_flags(FlushFlags::FileDataSyncOnly);
    assert_eq!(top.call_and_wait(data_sync).status(), Status::SUCCESS);
    assert_eq!(ram(&top).flushes.load(Ordering::SeqCst), 2);
    assert_eq!(h.query_size().unwrap(), 1 << 20);
    h.close().unwrap();
}

#[test]
fn unknown_names_and_collisions_are_clear_errors() {
    let (io, top) = manager_with_ram(Characteristics::NONE);
    let err = io.open("disk1", Access::READ).unwrap_err();
    assert!(matches!(err, IoError::NoSuchDevice { .. }));
    assert!(err.to_string().contains("disk1") && err.to_string().contains("disk0"), "{err}");
    assert!(matches!(io.register("disk0", &top), Err(IoError::NameCollision { .. })));
    assert_eq!(io.names(), ["disk0"]);
}

#[test]
fn flushing_without_write_access_is_access_denied() {
    let (io, top) = manager_with_ram(Characteristics::NONE);
    let h = io.open("disk0", Access::READ).unwrap();
    assert_eq!(h.flush_buffers(), Err(Status::ACCESS_DENIED));
    assert_eq!(h.flush_buffers_ex(FlushFlags::FileDataSyncOnly), Err(Status::ACCESS_DENIED));
    assert_eq!(h.write(0, b"x"), Err(Status::ACCESS_DENIED));
    assert_eq!(ram(&top).flushes.load(Ordering::SeqCst), 0);
    let w = io.open("disk0", Access::WRITE).unwrap();
    assert_eq!(w.read(0, 1).unwrap_err(), Status::ACCESS_DENIED);
    // Append access is enough to flush, as in NtFlushBuffersFile.
    let a = io.open("disk0", Access::APPEND).unwrap();
    a.flush_buffers().unwrap();
}

#[test]
fn a_read_only_volume_answers_flush_with_success_at_once() {
    let (io, top) = manager_with_ram(Characteristics::READ_ONLY);
    let h = io.open("disk0", Access::READ_WRITE).unwrap();
    h.flush_buffers().unwrap();
    assert_eq!(ram(&top).flushes.load(Ordering::SeqCst), 0, "no IRP was sent");
    assert_eq!(h.write(0, b"x"), Err(Status::MEDIA_WRITE_PROTECTED));
    assert_eq!(h.discard(0, 512), Err(Status::MEDIA_WRITE_PROTECTED));
    // The access check still comes first.
    let r = io.open("disk0", Access::READ).unwrap();
    assert_eq!(r.flush_buffers(), Err(Status::ACCESS_DENIED));
}

#[test]
fn volume_handles_refuse_flags_nt_refuses() {
    let (io, top) = manager_with_ram(Characteristics::NONE);
    let h = io.open("disk0", Access::READ_WRITE).unwrap();
    assert_eq!(h.flush_buffers_ex(FlushFlags::FileDataOnly), Err(Status::INVALID_PARAMETER));
    assert_eq!(h.flush_buffers_ex(FlushFlags::NoSync), Err(Status::INVALID_PARAMETER));
    // FLUSH_FLAGS_FILE_DATA_SYNC_ONLY: "not valid with volume or directory handles".
    assert_eq!(h.flush_buffers_ex(FlushFlags::FileDataSyncOnly), Err(Status::INVALID_PARAMETER));
    assert_eq!(ram(&top).flushes.load(Ordering::SeqCst), 0, "no IRP was sent");
    h.flush_buffers_ex(FlushFlags::Full).unwrap();
    assert_eq!(ram(&top).flushes.load(Ordering::SeqCst), 1);
}

#[test]
fn a_flush_that_fails_below_fails_at_the_handle() {
    let io = IoManager::new();
    let disk = Device::new("broken", Fixed(Status::IO_DEVICE_ERROR));
    io.register("broken", &disk).unwrap();
    let h = io.open("broken", Access::READ_WRITE).unwrap();
    assert_eq!(h.flush_buffers(), Err(Status::IO_DEVICE_ERROR));
    assert_eq!(h.write(0, b"abc"), Err(Status::IO_DEVICE_ERROR));
}

#[test]
fn shutdown_reaches_every_registered_device_once_on_shutdown_or_drop() {
    let (io, top) = manager_with_ram(Characteristics::SHUTDOWN_NOTIFY);
    let plain = ram_stack(4096, 0, Characteristics::NONE);
    io.register("plain", &plain).unwrap();
    io.shutdown().unwrap();
    io.shutdown().unwrap();
    assert_eq!(ram(&top).shutdowns.load(Ordering::SeqCst), 1);
    assert_eq!(ram(&plain).shutdowns.load(Ordering::SeqCst), 0, "not registered for shutdown");
    assert!(matches!(io.open("disk0", Access::READ), Err(IoError::ShutDown)));

    let (io, top) = manager_with_ram(Characteristics::SHUTDOWN_NOTIFY);
    drop(io);
    assert_eq!(ram(&top).shutdowns.load(Ordering::SeqCst), 1);
}

#[test]
fn shutdown_reports_a_failing_device_and_still_tells_the_others() {
    let io = IoManager::new();
    let bad = DeviceBuilder::new("bad")
        .characteristics(Characteristics::SHUTDOWN_NOTIFY)
        .build(FailShutdown)
        .unwrap();
    let good = ram_stack(4096, 0, Characteristics::SHUTDOWN_NOTIFY);
    io.register("bad", &bad).unwrap();
    io.register("good", &good).unwrap();
    let err = io.shutdown().unwrap_err();
    assert!(err.to_string().contains("bad"), "{err}");
    assert_eq!(ram(&good).shutdowns.load(Ordering::SeqCst), 1);
}

struct FailShutdown;
impl irp::Driver for FailShutdown {
    fn shutdown(&self, _: &irp::DeviceRef, irp: irp::Irp) -> Status {
        irp.complete(Status::IO_DEVICE_ERROR)
    }
}

#[test]
fn a_raw_device_without_create_can_be_opened() {
    let io = IoManager::new();
    let disk = Device::new("raw", Nothing);
    io.register("raw", &disk).unwrap();
    let h = io.open("raw", Access::READ_WRITE).unwrap();
    assert_eq!(h.flush_buffers(), Err(Status::INVALID_DEVICE_REQUEST));
}
