//! Unit tests of the request machine (with simulated system-call results) and of the
//! sticky flush error through a whole device.

use irp::{Access, IoManager, Irp, Mdl, RequestFlags, Status};

use super::op::{Backing, Machine, Op, Progress, Step};
use super::{Engine, FileDisk, FileDiskOptions};
use crate::sticky::StickyError;

fn backing() -> Backing {
    Backing { file: tempfile::tempfile().unwrap(), sticky: StickyError::new() }
}

fn irp_with(len: usize, fill: u8) -> Irp {
    Irp::new(1).with_mdl(Mdl::from_slice(&vec![fill; len]).unwrap())
}

fn errno(e: i32) -> i64 {
    -i64::from(e)
}

#[test]
fn short_reads_continue_where_they_stopped() {
    let b = backing();
    let mut irp = irp_with(4096, 0);
    let base = irp.mdl().unwrap().virtual_address();
    let mut m = Machine::new(Op::Read { offset: 8192, len: 4096 });
    let Step::Read { buf, len, offset } = m.next(&mut irp).unwrap() else { panic!("not a read") };
    assert_eq!((buf.cast_const(), len, offset), (base, 4096, 8192));
    assert_eq!(m.advance(&mut irp, &b, 1000), Progress::Again);
    let Step::Read { buf, len, offset } = m.next(&mut irp).unwrap() else { panic!("not a read") };
    assert_eq!((buf.cast_const(), len, offset), (base.wrapping_add(1000), 3096, 9192));
    assert_eq!(m.advance(&mut irp, &b, errno(libc::EINTR)), Progress::Again);
    let Step::Read { len, offset, .. } = m.next(&mut irp).unwrap() else { panic!("not a read") };
    assert_eq!((len, offset), (3096, 9192), "EINTR retries the same step");
    assert_eq!(m.advance(&mut irp, &b, 3096), Progress::Done(Status::SUCCESS, 4096));
    irp.complete(Status::SUCCESS);
}

#[test]
fn a_read_hitting_end_of_file_zero_fills_the_rest() {
    let b = backing();
    let mut irp = irp_with(1024, 0xAA);
    let mut m = Machine::new(Op::Read { offset: 0, len: 1024 });
    m.next(&mut irp).unwrap();
    assert_eq!(m.advance(&mut irp, &b, 100), Progress::Again);
    m.next(&mut irp).unwrap();
    assert_eq!(m.advance(&mut irp, &b, 0), Progress::Done(Status::SUCCESS, 1024));
    let bytes = irp.mdl().unwrap().bytes();
    assert!(bytes[..100].iter().all(|&x| x == 0xAA), "what was read is kept");
    assert!(bytes[100..].iter().all(|&x| x == 0), "what is past the end reads as zeroes");
    irp.complete(Status::SUCCESS);
}

#[test]
fn write_errors_and_stalls_fail_the_request() {
    let b = backing();
    let mut irp = irp_with(512, 1);
    let mut m = Machine::new(Op::Write { offset: 0, len: 512, fua: false });
    let Step::Write { dsync, .. } = m.next(&mut irp).unwrap() else { panic!("not a write") };
    assert!(!dsync);
    assert_eq!(m.advance(&mut irp, &b, 0), Progress::Done(Status::IO_DEVICE_ERROR, 0));
    let mut m = Machine::new(Op::Write { offset: 0, len: 512, fua: false });
    m.next(&mut irp).unwrap();
    assert_eq!(m.advance(&mut irp, &b, errno(libc::ENOSPC)), Progress::Done(Status::DISK_FULL, 0));
    assert_eq!(b.sticky.get(), None, "a plain write error does not stick");
    irp.complete(Status::SUCCESS);
}

#[test]
fn persistent_eagain_gives_up() {
    let b = backing();
    let mut irp = irp_with(512, 1);
    let mut m = Machine::new(Op::Read { offset: 0, len: 512 });
    let mut rounds = 0;
    let outcome = loop {
        m.next(&mut irp).unwrap();
        rounds += 1;
        match m.advance(&mut irp, &b, errno(libc::EAGAIN)) {
            Progress::Again => assert!(rounds < 1000, "retries forever"),
            done => break done,
        }
    };
    assert_eq!(outcome, Progress::Done(Status::INSUFFICIENT_RESOURCES, 0));
    irp.complete(Status::SUCCESS);
}

#[test]
fn a_failed_fua_write_sticks() {
    let b = backing();
    let mut irp = irp_with(512, 1);
    let mut m = Machine::new(Op::Write { offset: 0, len: 512, fua: true });
    let Step::Write { dsync, .. } = m.next(&mut irp).unwrap() else { panic!("not a write") };
    assert!(dsync, "ForceUnitAccess is RWF_DSYNC");
    assert_eq!(m.advance(&mut irp, &b, errno(libc::EIO)), Progress::Done(Status::IO_DEVICE_ERROR, 0));
    let mut sync = Machine::new(Op::Sync);
    assert!(matches!(sync.next(&mut irp).unwrap(), Step::Sync));
    assert_eq!(sync.advance(&mut irp, &b, 0), Progress::Done(Status::IO_DEVICE_ERROR, 0));
    irp.complete(Status::SUCCESS);
}

#[test]
fn a_failed_sync_sticks() {
    let b = backing();
    let mut irp = Irp::new(1);
    let mut m = Machine::new(Op::Sync);
    m.next(&mut irp).unwrap();
    assert_eq!(m.advance(&mut irp, &b, errno(libc::EIO)), Progress::Done(Status::IO_DEVICE_ERROR, 0));
    let mut m = Machine::new(Op::Sync);
    m.next(&mut irp).unwrap();
    assert_eq!(m.advance(&mut irp, &b, 0), Progress::Done(Status::IO_DEVICE_ERROR, 0));
    irp.complete(Status::SUCCESS);
}

#[test]
fn write_zeroes_falls_back_to_writing_zeroes_then_syncs_for_fua() {
    let b = backing();
    let mut irp = Irp::new(1);
    let len = 600 * 1024;
    let mut m = Machine::new(Op::WriteZeroes { offset: 4096, len, unmap: false, fua: true });
    let Step::Fallocate { mode, offset, len: n } = m.next(&mut irp).unwrap() else { panic!("no fallocate") };
    assert_eq!((mode, offset, n), (libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE, 4096, len));
    assert_eq!(m.advance(&mut irp, &b, errno(libc::EOPNOTSUPP)), Progress::Again);
    let mut at = 4096;
    // Writes from the zero buffer until the range is covered; then the sync step.
    while let Step::Write { buf, len: n, offset, dsync } = m.next(&mut irp).unwrap() {
        assert_eq!((offset, dsync), (at, false));
        // SAFETY: the zero buffer is static and at least `n` bytes long.
        assert!(unsafe { std::slice::from_raw_parts(buf, n as usize) }.iter().all(|&x| x == 0));
        // Simulate a short write now and then.
        let wrote = if at == 4096 { u64::from(n) / 2 } else { u64::from(n) };
        at += wrote;
        assert_eq!(m.advance(&mut irp, &b, wrote as i64), Progress::Again);
    }
    assert_eq!(at, 4096 + len, "the whole range was written");
    assert_eq!(m.advance(&mut irp, &b, 0), Progress::Done(Status::SUCCESS, 0), "then the FUA sync");
    irp.complete(Status::SUCCESS);
}

#[test]
fn unsupported_discard_succeeds_doing_nothing_and_unmap_punches_holes() {
    let b = backing();
    let mut irp = Irp::new(1);
    let mut m = Machine::new(Op::Discard { offset: 0, len: 4096 });
    let Step::Fallocate { mode, .. } = m.next(&mut irp).unwrap() else { panic!("no fallocate") };
    assert_eq!(mode, libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE);
    assert_eq!(m.advance(&mut irp, &b, errno(libc::EOPNOTSUPP)), Progress::Done(Status::SUCCESS, 0));
    let mut m = Machine::new(Op::WriteZeroes { offset: 0, len: 4096, unmap: true, fua: false });
    let Step::Fallocate { mode, .. } = m.next(&mut irp).unwrap() else { panic!("no fallocate") };
    assert_eq!(mode, libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE);
    assert_eq!(m.advance(&mut irp, &b, 0), Progress::Done(Status::SUCCESS, 0));
    let mut m = Machine::new(Op::Discard { offset: 0, len: 4096 });
    m.next(&mut irp).unwrap();
    assert_eq!(m.advance(&mut irp, &b, errno(libc::EIO)), Progress::Done(Status::IO_DEVICE_ERROR, 0));
    irp.complete(Status::SUCCESS);
}

/// A read needs a writable MDL. (One whose memory a partial MDL shares can no longer reach a
/// driver: a partial MDL borrows its source, so the IRP cannot be used mutably, or sent, while
/// one lives.)
#[test]
fn a_read_without_a_writable_mdl_is_refused() {
    let mut irp = Irp::new(1);
    let mut m = Machine::new(Op::Read { offset: 0, len: 4096 });
    assert_eq!(m.next(&mut irp).unwrap_err(), Status::INVALID_PARAMETER);
    irp.complete(Status::SUCCESS);
    let mut irp = Irp::new(1).with_mdl(Mdl::with_len(512).unwrap());
    let mut m = Machine::new(Op::Read { offset: 0, len: 4096 });
    assert_eq!(m.next(&mut irp).unwrap_err(), Status::INVALID_PARAMETER, "shorter than the read");
    irp.complete(Status::SUCCESS);
}

/// The sticky error through a whole device: once an `fdatasync` failed, flushes and FUA writes fail until the disk is reopened. (A real `fdatasync`
/// failure needs a failing device; the record is fed the failure directly.)
#[test]
fn sticky_flush_error_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    for (engine, direct) in [(Engine::Pool, false), (Engine::Uring, false), (Engine::Uring, true)] {
        let options = FileDiskOptions { size: Some(1 << 20), engine, direct, ..FileDiskOptions::new(&path) };
        let io = IoManager::new();
        let dev = match FileDisk::create("sticky", options.clone()) {
            Err(super::FileDiskError::DirectUnsupported { .. }) => continue,
            created => created.unwrap(),
        };
        io.register("sticky", &dev).unwrap();
        let h = io.open("sticky", Access::READ_WRITE).unwrap();
        h.write(0, &[7; 4096]).unwrap();
        h.flush_buffers().unwrap();
        let disk = dev.disk::<FileDisk>().unwrap();
        assert_eq!(
            disk.backing.sticky.sync_result(Err(libc::EIO), "fdatasync"),
            Err(Status::IO_DEVICE_ERROR)
        );
        assert_eq!(disk.sticky_error(), Some(Status::IO_DEVICE_ERROR));
        assert_eq!(h.flush_buffers(), Err(Status::IO_DEVICE_ERROR));
        let data_sync = Irp::for_device(&dev, irp::MajorFunction::FlushBuffers)
            .with_flush_flags(irp::FlushFlags::FileDataSyncOnly);
        assert_eq!(dev.call_and_wait(data_sync).status(), Status::IO_DEVICE_ERROR);
        assert_eq!(h.write_fua(0, &[8; 512]), Err(Status::IO_DEVICE_ERROR));
        assert_eq!(h.write_zeroes(0, 512, RequestFlags::FORCE_UNIT_ACCESS), Err(Status::IO_DEVICE_ERROR));
        // Plain writes and reads go on; only durability promises fail.
        assert_eq!(h.write(0, &[9; 512]), Ok(512));
        assert_eq!(h.read(0, 512).unwrap().bytes(), &[9; 512][..]);
        drop(h);
        // Shutdown (when the manager drops) fails too; that is logged, not panicked on.
        drop(io);
        drop(dev);

        let io = IoManager::new();
        let dev = FileDisk::create("sticky", FileDiskOptions { size: None, ..options }).unwrap();
        io.register("sticky", &dev).unwrap();
        let h = io.open("sticky", Access::READ_WRITE).unwrap();
        h.flush_buffers().expect("a reopened disk starts clean");
    }
}

/// A NoSync flush completes at once, having started the device writes of what was
/// written since the last full flush (which forgets them).
#[test]
fn a_flush_without_device_sync_starts_the_writes_since_the_last_sync() {
    let dir = tempfile::tempdir().unwrap();
    let options =
        FileDiskOptions { size: Some(4 << 20), ..FileDiskOptions::new(dir.path().join("disk.img")) };
    let io = IoManager::new();
    let dev = FileDisk::create("nosync", options).unwrap();
    io.register("nosync", &dev).unwrap();
    let h = io.open("nosync", Access::READ_WRITE).unwrap();
    let disk = dev.disk::<FileDisk>().unwrap();
    h.write(65536, &[7; 4096]).unwrap();
    h.write(8192, &[8; 512]).unwrap();
    assert_eq!(disk.unsynced.span_to_start(), Some((8192, 65536 + 4096 - 8192)));
    let no_sync = || h.new_irp(irp::MajorFunction::FlushBuffers).with_flush_flags(irp::FlushFlags::NoSync);
    assert_eq!(h.call(no_sync()).status(), Status::SUCCESS);
    assert_eq!(h.read(65536, 4096).unwrap().bytes(), &[7; 4096][..]);
    h.flush_buffers().unwrap();
    assert_eq!(disk.unsynced.span_to_start(), None, "a full flush covers them");
    // More than START_AT_MOST since the sync: the kernel and the next fdatasync deal with it.
    h.write(0, &vec![1; 2 << 20]).unwrap();
    assert_eq!(disk.unsynced.span_to_start(), None);
    assert_eq!(h.call(no_sync()).status(), Status::SUCCESS);
    h.flush_buffers().unwrap();
}
