//! The `file` disk through the I/O manager: every engine × {buffered, O_DIRECT}, a
//! differential property test against the RAM disk, many IRPs in flight, durability
//! after a flush, clean shutdown, and bad input.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use disks::file::{Engine, FileDisk, FileDiskError, FileDiskOptions};
use disks::memory::MemoryDisk;
use irp::{
    Access, Characteristics, DeviceRef, FlushFlags, Handle, IoManager, Irp, LockOperation, MajorFunction,
    Mdl, Parameters, RequestFlags, Status,
};
use proptest::prelude::*;
use tempfile::TempDir;

const MIB: u64 = 1 << 20;
const SECTOR: u64 = 512;
const CONFIGS: [(Engine, bool); 4] =
    [(Engine::Pool, false), (Engine::Uring, false), (Engine::Pool, true), (Engine::Uring, true)];

/// A temporary directory for disk files; for `direct`, one whose file system takes
/// `O_DIRECT` (`None`, with the reason printed, when none does).
fn scratch(direct: bool) -> Option<TempDir> {
    let candidates = [std::env::temp_dir(), PathBuf::from(env!("CARGO_TARGET_TMPDIR"))];
    for base in candidates {
        let Ok(dir) = tempfile::tempdir_in(&base) else { continue };
        if !direct || direct_io_works(dir.path()) {
            return Some(dir);
        }
    }
    irp::testing::skip("no temporary directory on a file system that supports O_DIRECT");
    None
}

fn direct_io_works(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(dir.join("probe"))
        .is_ok()
}

fn options(path: &Path, engine: Engine, direct: bool) -> FileDiskOptions {
    FileDiskOptions { size: Some(MIB), engine, direct, ..FileDiskOptions::new(path) }
}

fn open(options: FileDiskOptions) -> (IoManager, DeviceRef, Handle) {
    let io = IoManager::new();
    let dev = FileDisk::create("disk", options).unwrap();
    io.register("disk", &dev).unwrap();
    let h = io.open("disk", Access::READ_WRITE).unwrap();
    (io, dev, h)
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| (seed.wrapping_mul(0x9E37_79B9).wrapping_add(i * 7) % 251) as u8 + 1).collect()
}

fn read(h: &Handle, offset: u64, len: usize) -> Result<Vec<u8>, Status> {
    h.read(offset, len).map(|m| m.bytes().to_vec())
}

#[test]
fn every_request_on_every_engine_and_mode() {
    for (engine, direct) in CONFIGS {
        let Some(dir) = scratch(direct) else { continue };
        let (_io, dev, h) = open(options(&dir.path().join("disk.img"), engine, direct));
        let what = format!("{engine} direct={direct}");
        assert_eq!(h.query_size(), Ok(MIB), "{what}");
        assert_eq!(dev.sector_size(), 512, "{what}");
        assert_eq!(dev.alignment() >= 512, direct, "{what}");
        assert!(
            dev.characteristics()
                .contains(Characteristics::VOLATILE_CACHE | Characteristics::SHUTDOWN_NOTIFY)
        );

        let data = pattern(1, 8192);
        assert_eq!(h.write(4096, &data), Ok(8192), "{what}");
        assert_eq!(read(&h, 4096, 8192).unwrap(), data, "{what}");
        assert_eq!(h.write_fua(0, &pattern(2, 4096)), Ok(4096), "{what}");
        assert_eq!(read(&h, 0, 4096).unwrap(), pattern(2, 4096), "{what}");
        h.flush_buffers().unwrap();
        // FileDataSyncOnly is refused on a volume handle (NtFlushBuffersFileEx); the disk's
        // handling of it is tested with the IRP itself.
        assert_eq!(h.flush_buffers_ex(FlushFlags::FileDataSyncOnly), Err(Status::INVALID_PARAMETER));
        let data_sync =
            Irp::for_device(&dev, MajorFunction::FlushBuffers).with_flush_flags(FlushFlags::FileDataSyncOnly);
        assert_eq!(dev.call_and_wait(data_sync).status(), Status::SUCCESS, "{what}");
        let no_sync = h.new_irp(MajorFunction::FlushBuffers).with_flush_flags(FlushFlags::NoSync);
        assert_eq!(h.call(no_sync).status(), Status::SUCCESS, "{what}");

        h.discard(4096, 4096).unwrap();
        let back = read(&h, 0, 16384).unwrap();
        assert_eq!(&back[..4096], &pattern(2, 4096)[..], "{what}");
        assert!(back[4096..8192].iter().all(|&b| b == 0), "{what}: discard reads back as zeroes here");
        assert_eq!(&back[8192..12288], &data[4096..], "{what}");

        for (i, flags) in [RequestFlags::NONE, RequestFlags::MAY_UNMAP, RequestFlags::FORCE_UNIT_ACCESS]
            .into_iter()
            .enumerate()
        {
            let at = 65536 * (i as u64 + 1);
            h.write(at, &pattern(3, 8192)).unwrap();
            h.write_zeroes(at + 512, 4096, flags).unwrap();
            let back = read(&h, at, 8192).unwrap();
            assert_eq!(&back[..512], &pattern(3, 512)[..], "{what} {flags:?}");
            assert!(back[512..4608].iter().all(|&b| b == 0), "{what} {flags:?}");
            assert_eq!(&back[4608..], &pattern(3, 8192)[4608..], "{what} {flags:?}");
        }

        assert_eq!(h.read(MIB - 512, 1024).unwrap_err(), Status::END_OF_FILE, "{what}");
        assert_eq!(h.read(MIB, 512).unwrap_err(), Status::END_OF_FILE, "{what}");
        assert_eq!(h.write(MIB - 512, &[1; 1024]), Err(Status::INVALID_PARAMETER), "{what}");
        assert_eq!(h.discard(MIB, 512), Err(Status::INVALID_PARAMETER), "{what}");
        assert_eq!(read(&h, MIB - 512, 512).unwrap(), vec![0; 512], "{what}: the last sector");

        let unaligned = [h.write(100, &[5; 300]).map(drop), read(&h, 100, 300).map(drop)];
        if direct {
            assert_eq!(unaligned, [Err(Status::INVALID_PARAMETER); 2], "{what}");
            assert_eq!(h.write(512, &[5; 100]), Err(Status::INVALID_PARAMETER), "{what}");
            assert_eq!(h.discard(100, 512), Err(Status::INVALID_PARAMETER), "{what}");
            assert_eq!(h.write_zeroes(0, 100, RequestFlags::NONE), Err(Status::INVALID_PARAMETER), "{what}");
        } else {
            assert_eq!(unaligned, [Ok(()), Ok(())], "{what}");
            assert_eq!(read(&h, 100, 300).unwrap(), vec![5; 300], "{what}");
        }
    }
}

/// tmpfs has no `FALLOC_FL_ZERO_RANGE`: write-zeroes falls back to writing zeroes.
#[test]
fn write_zeroes_writes_zeroes_where_fallocate_cannot() {
    let Ok(dir) = tempfile::tempdir_in("/dev/shm") else {
        irp::testing::skip("no /dev/shm (tmpfs)");
        return;
    };
    for engine in [Engine::Pool, Engine::Uring] {
        let (_io, _dev, h) = open(options(&dir.path().join(format!("{engine}.img")), engine, false));
        h.write(0, &pattern(5, MIB as usize)).unwrap();
        // Larger than the 256 KiB zero buffer, unaligned, with and without FUA.
        h.write_zeroes(1000, 600 * 1024, RequestFlags::NONE).unwrap();
        h.write_zeroes(700 * 1024 + 3, 5000, RequestFlags::FORCE_UNIT_ACCESS).unwrap();
        let back = read(&h, 0, MIB as usize).unwrap();
        let mut expected = pattern(5, MIB as usize);
        expected[1000..1000 + 600 * 1024].fill(0);
        expected[700 * 1024 + 3..700 * 1024 + 5003].fill(0);
        assert!(back == expected, "{engine}");
    }
}

#[test]
fn o_direct_refuses_unaligned_buffers() {
    let Some(dir) = scratch(true) else { return };
    for engine in [Engine::Pool, Engine::Uring] {
        let (_io, dev, h) = open(options(&dir.path().join(format!("{engine}.img")), engine, true));
        let mut mdl = Mdl::with_len(8192).unwrap();
        mdl.probe_and_lock(LockOperation::ReadAccess).unwrap();
        // An owned partial MDL (the source consumed) at an unaligned address.
        let partial = mdl.into_partial(100, 512).unwrap();
        let irp = h
            .new_irp(MajorFunction::Write)
            .with_parameters(Parameters::Write { offset: 0, length: 512 })
            .with_mdl(partial);
        assert_eq!(dev.call_and_wait(irp).status(), Status::INVALID_PARAMETER, "{engine}");
    }
}

/// One operation of the differential test, in sectors of a 1 MiB disk.
#[derive(Clone, Debug)]
enum TestOp {
    Write { sector: u64, count: u64, seed: u64, fua: bool },
    Read { sector: u64, count: u64 },
    Discard { sector: u64, count: u64 },
    Zeroes { sector: u64, count: u64, unmap: bool, fua: bool },
    Flush,
}

fn test_op() -> impl Strategy<Value = TestOp> {
    let range = (0..MIB / SECTOR, 1..=64u64).prop_map(|(s, c)| (s, c.min(MIB / SECTOR - s)));
    prop_oneof![
        4 => (range.clone(), any::<u64>(), any::<bool>())
            .prop_map(|((sector, count), seed, fua)| TestOp::Write { sector, count, seed, fua }),
        3 => range.clone().prop_map(|(sector, count)| TestOp::Read { sector, count }),
        1 => range.clone().prop_map(|(sector, count)| TestOp::Discard { sector, count }),
        1 => (range, any::<bool>(), any::<bool>())
            .prop_map(|((sector, count), unmap, fua)| TestOp::Zeroes { sector, count, unmap, fua }),
        1 => Just(TestOp::Flush),
    ]
}

/// What one operation returned, to compare across disks.
fn apply(h: &Handle, op: &TestOp) -> Result<Vec<u8>, Status> {
    match *op {
        TestOp::Write { sector, count, seed, fua } => {
            let flags = if fua { RequestFlags::FORCE_UNIT_ACCESS } else { RequestFlags::NONE };
            h.write_with(sector * SECTOR, &pattern(seed, (count * SECTOR) as usize), flags)
                .map(|n| vec![n as u8])
        }
        TestOp::Read { sector, count } => read(h, sector * SECTOR, (count * SECTOR) as usize),
        TestOp::Discard { sector, count } => h.discard(sector * SECTOR, count * SECTOR).map(|()| vec![]),
        TestOp::Zeroes { sector, count, unmap, fua } => {
            let mut flags = RequestFlags::NONE;
            if unmap {
                flags = flags | RequestFlags::MAY_UNMAP;
            }
            if fua {
                flags = flags | RequestFlags::FORCE_UNIT_ACCESS;
            }
            h.write_zeroes(sector * SECTOR, count * SECTOR, flags).map(|()| vec![])
        }
        TestOp::Flush => h.flush_buffers().map(|()| vec![]),
    }
}

fn differential(direct: bool, ops: &[TestOp]) -> Result<(), TestCaseError> {
    let Some(dir) = scratch(direct) else { return Ok(()) };
    let io = IoManager::new();
    let memory = MemoryDisk::create("memory", MIB, 512).unwrap();
    io.register("memory", &memory).unwrap();
    let mut handles = vec![io.open("memory", Access::READ_WRITE).unwrap()];
    let mut paths = Vec::new();
    for engine in [Engine::Pool, Engine::Uring] {
        let path = dir.path().join(format!("{engine}.img"));
        let name = engine.to_string();
        let options = FileDiskOptions { threads: 2, queue_depth: 16, ..options(&path, engine, direct) };
        io.register(name.clone(), &FileDisk::create(&name, options).unwrap()).unwrap();
        handles.push(io.open(&name, Access::READ_WRITE).unwrap());
        paths.push(path);
    }
    for (i, op) in ops.iter().enumerate() {
        let expected = apply(&handles[0], op);
        prop_assert!(expected.is_ok(), "the RAM disk failed op {i} {op:?}: {expected:?}");
        for h in &handles[1..] {
            let got = apply(h, op);
            prop_assert!(got == expected, "{} differs from the RAM disk at op {i} {op:?}", h.device().name());
        }
    }
    let image = read(&handles[0], 0, MIB as usize).unwrap();
    for h in &handles[1..] {
        prop_assert!(read(h, 0, MIB as usize).unwrap() == image, "final image of {}", h.device().name());
        h.flush_buffers().unwrap();
    }
    drop(handles);
    drop(io);
    for path in paths {
        prop_assert!(std::fs::read(&path).unwrap() == image, "file {}", path.display());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn uring_pool_and_memory_agree_buffered(ops in prop::collection::vec(test_op(), 1..48)) {
        differential(false, &ops)?;
    }

    #[test]
    fn uring_pool_and_memory_agree_direct(ops in prop::collection::vec(test_op(), 1..48)) {
        differential(true, &ops)?;
    }
}

/// Sends `count` IRPs at once with `submit_to` and collects their completions.
fn many_in_flight(
    dev: &DeviceRef,
    major: MajorFunction,
    count: u64,
    fill: bool,
) -> Vec<(u64, Status, Vec<u8>)> {
    let (tx, rx) = mpsc::channel();
    for i in 0..count {
        let offset = i * 4096;
        let (parameters, mdl) = if major == MajorFunction::Write {
            (Parameters::Write { offset, length: 4096 }, Mdl::from_slice(&pattern(i, 4096)).unwrap())
        } else {
            (Parameters::Read { offset, length: 4096 }, Mdl::with_len(4096).unwrap())
        };
        let irp = Irp::for_device(dev, major).with_parameters(parameters).with_mdl(mdl).with_user_data(i);
        let status = dev.submit_to(irp, tx.clone());
        assert!(status == Status::PENDING || status == Status::SUCCESS, "{status:?}");
    }
    let mut done: Vec<_> = (0..count)
        .map(|_| {
            let mut c = rx.recv_timeout(Duration::from_secs(20)).expect("every IRP completes");
            assert_eq!(c.information(), if c.status().is_success() { 4096 } else { 0 });
            let bytes = if fill { c.take_mdl().unwrap().bytes().to_vec() } else { vec![] };
            (c.user_data(), c.status(), bytes)
        })
        .collect();
    done.sort_by_key(|d| d.0);
    done
}

#[test]
fn hundreds_of_irps_in_flight() {
    for (engine, direct) in CONFIGS {
        let Some(dir) = scratch(direct) else { continue };
        // A queue depth below the number of IRPs exercises requests waiting for a slot.
        for depth in [8, 128] {
            let path = dir.path().join(format!("{engine}-{depth}.img"));
            let dev = FileDisk::create(
                "many",
                FileDiskOptions { queue_depth: depth, ..options(&path, engine, direct) },
            )
            .unwrap();
            let writes = many_in_flight(&dev, MajorFunction::Write, 256, false);
            assert!(writes.iter().all(|w| w.1 == Status::SUCCESS), "{engine} direct={direct}");
            for (i, status, bytes) in many_in_flight(&dev, MajorFunction::Read, 256, true) {
                assert_eq!(status, Status::SUCCESS);
                assert!(bytes == pattern(i, 4096), "{engine} direct={direct} block {i}");
            }
        }
    }
}

#[test]
fn flushed_data_is_in_the_file_after_the_disk_is_gone() {
    for (engine, direct) in CONFIGS {
        let Some(dir) = scratch(direct) else { continue };
        let path = dir.path().join("durable.img");
        let image = pattern(42, MIB as usize);
        {
            let (io, dev, h) = open(options(&path, engine, direct));
            for chunk in 0..16 {
                let at = chunk * 65536;
                h.write(at, &image[at as usize..(at + 65536) as usize]).unwrap();
            }
            h.flush_buffers().unwrap();
            drop(h);
            drop(io);
            drop(dev);
        }
        assert!(std::fs::read(&path).unwrap() == image, "{engine} direct={direct}");
        // And it opens again without a size, at the same size, with the same data.
        let (_io, _dev, h) = open(FileDiskOptions { size: None, ..options(&path, engine, direct) });
        assert_eq!(h.query_size(), Ok(MIB));
        assert!(read(&h, 12345 & !511, 4096).unwrap() == image[12288..12288 + 4096]);
    }
}

#[test]
fn dropping_the_disk_with_irps_in_flight_completes_them_all() {
    for (engine, direct) in CONFIGS {
        let Some(dir) = scratch(direct) else { continue };
        let dev = FileDisk::create("drop", options(&dir.path().join("drop.img"), engine, direct)).unwrap();
        let (tx, rx) = mpsc::channel();
        for i in 0..64u64 {
            let irp = Irp::for_device(&dev, MajorFunction::Write)
                .with_parameters(Parameters::Write { offset: i * 4096, length: 4096 })
                .with_mdl(Mdl::from_slice(&pattern(i, 4096)).unwrap());
            dev.submit_to(irp, tx.clone());
        }
        drop(dev);
        for _ in 0..64 {
            let c = rx.recv_timeout(Duration::from_secs(20)).expect("completed before the engine stopped");
            assert_eq!(c.status(), Status::SUCCESS, "{engine} direct={direct}");
        }
    }
}

#[test]
fn the_last_reference_may_go_away_on_an_io_thread() {
    let dir = scratch(false).unwrap();
    for engine in [Engine::Pool, Engine::Uring] {
        let dev = FileDisk::create("last", options(&dir.path().join(format!("{engine}.img")), engine, false))
            .unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        let keep = dev.clone();
        let irp = Irp::for_device(&dev, MajorFunction::FlushBuffers);
        dev.submit(irp, move |c| {
            go_rx.recv().unwrap();
            drop(keep); // the disk, its engine and this thread's handle go here
            done_tx.send(c.status()).unwrap();
        });
        drop(dev);
        go_tx.send(()).unwrap();
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(20)), Ok(Status::SUCCESS), "{engine}");
    }
}

#[test]
fn read_only_disks_refuse_writes_and_flush_at_once() {
    let dir = scratch(false).unwrap();
    let path = dir.path().join("ro.img");
    std::fs::write(&path, pattern(9, 65536)).unwrap();
    for engine in [Engine::Pool, Engine::Uring] {
        let options = FileDiskOptions { read_only: true, engine, ..FileDiskOptions::new(&path) };
        let (_io, dev, h) = open(options);
        assert!(dev.characteristics().contains(Characteristics::READ_ONLY));
        assert_eq!(read(&h, 0, 65536).unwrap(), pattern(9, 65536));
        assert_eq!(h.write(0, &[1; 512]), Err(Status::MEDIA_WRITE_PROTECTED));
        h.flush_buffers().unwrap();
        // Straight to the device, past the handle's own check.
        let irp = Irp::for_device(&dev, MajorFunction::Write)
            .with_parameters(Parameters::Write { offset: 0, length: 512 })
            .with_mdl(Mdl::with_len(512).unwrap());
        assert_eq!(dev.call_and_wait(irp).status(), Status::MEDIA_WRITE_PROTECTED);
        let irp = Irp::for_device(&dev, MajorFunction::Discard)
            .with_parameters(Parameters::Discard { offset: 0, length: 512 });
        assert_eq!(dev.call_and_wait(irp).status(), Status::MEDIA_WRITE_PROTECTED);
    }
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = scratch(false).unwrap();
    let missing = dir.path().join("missing.img");
    let err = FileDisk::create("bad", FileDiskOptions::new(&missing)).unwrap_err();
    assert!(matches!(err, FileDiskError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.img") && err.to_string().contains("does not exist"), "{err}");
    let ro = FileDiskOptions { size: Some(MIB), read_only: true, ..FileDiskOptions::new(&missing) };
    assert!(matches!(FileDisk::create("bad", ro), Err(FileDiskError::Missing { .. })));
    assert!(!missing.exists());

    let err = FileDisk::create("bad", FileDiskOptions { size: Some(1000), ..FileDiskOptions::new(&missing) })
        .unwrap_err();
    assert!(matches!(err, FileDiskError::SizeNotAligned { size: 1000, sector_size: 512, .. }), "{err:?}");
    for broken in [
        FileDiskOptions { threads: 0, size: Some(MIB), ..FileDiskOptions::new(&missing) },
        FileDiskOptions { queue_depth: 0, size: Some(MIB), ..FileDiskOptions::new(&missing) },
        FileDiskOptions { size: Some(0), ..FileDiskOptions::new(&missing) },
    ] {
        let err = FileDisk::create("bad", broken).unwrap_err();
        assert!(matches!(err, FileDiskError::InvalidOption { .. }), "{err:?}");
    }

    let ro_dir = FileDiskOptions { read_only: true, ..FileDiskOptions::new(dir.path()) };
    let err = FileDisk::create("bad", ro_dir).unwrap_err();
    assert!(matches!(err, FileDiskError::NotADisk { kind: "directory", .. }), "{err:?}");

    // An existing file that is not a whole number of sectors: the tail is left out.
    let odd = dir.path().join("odd.img");
    std::fs::write(&odd, vec![3; 1000]).unwrap();
    {
        // Closed at the end of the block: the image is locked while a disk has it open.
        let (_io, _dev, h) = open(FileDiskOptions::new(&odd));
        assert_eq!(h.query_size(), Ok(512));
    }
    let empty = dir.path().join("empty.img");
    std::fs::write(&empty, b"").unwrap();
    let err = FileDisk::create("bad", FileDiskOptions::new(&empty)).unwrap_err();
    assert!(matches!(err, FileDiskError::TooSmall { .. }), "{err:?}");
    // A read-only file cannot be extended to a larger size.
    let err = FileDisk::create(
        "bad",
        FileDiskOptions { size: Some(MIB), read_only: true, ..FileDiskOptions::new(&odd) },
    )
    .unwrap_err();
    assert!(matches!(err, FileDiskError::TooSmall { available: 1000, .. }), "{err:?}");
    // A writable one is extended, sparsely.
    let (_io, _dev, h) = open(FileDiskOptions { size: Some(64 * MIB), ..FileDiskOptions::new(&odd) });
    assert_eq!(h.query_size(), Ok(64 * MIB));
    let meta = std::fs::metadata(&odd).unwrap();
    assert_eq!(meta.len(), 64 * MIB);
    assert!(std::os::unix::fs::MetadataExt::blocks(&meta) * 512 < MIB, "extension is sparse");
}

/// A panic in the engine thread serving a request (a pool worker, the io_uring thread)
/// fails that request with STATUS_INTERNAL_ERROR — its sender is not left waiting — and
/// the engine goes on serving the next ones.
#[test]
fn a_panic_in_the_engine_fails_the_request_and_the_engine_goes_on() {
    let Some(dir) = scratch(false) else { return };
    for (engine, point) in [(Engine::Pool, "file-pool-worker"), (Engine::Uring, "file-uring-reaper")] {
        let name = format!("panicky-{engine}");
        let path = dir.path().join(format!("{engine}.img"));
        let options = FileDiskOptions {
            size: Some(MIB),
            engine,
            threads: 1,
            inline_writes: 0,
            ..FileDiskOptions::new(&path)
        };
        let dev = match FileDisk::create(&name, options) {
            Ok(dev) => dev,
            Err(FileDiskError::UringUnavailable { .. }) => {
                irp::testing::skip("io_uring is unavailable");
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        irp::testing::panics::arm(point, &name, 1);
        // Submitted, not called: an IRP whose sender waits runs in the sender's thread.
        let done = many_in_flight(&dev, MajorFunction::Write, 1, false);
        assert_eq!(done[0].1, Status::INTERNAL_ERROR, "{engine}: the request in the panicking thread fails");
        assert_eq!(irp::testing::panics::pending(point, &name), 0, "{engine}: the panic fired");
        let again = many_in_flight(&dev, MajorFunction::Write, 4, false);
        assert!(again.iter().all(|d| d.1 == Status::SUCCESS), "{engine}: the engine goes on: {again:?}");
        let read = many_in_flight(&dev, MajorFunction::Read, 4, true);
        assert!(read.iter().all(|d| d.2 == pattern(d.0, 4096)), "{engine}: and serves reads");
    }
}
