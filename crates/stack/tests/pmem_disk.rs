//! The `pmem` disk through the I/O manager: every request kind, data in the file after a
//! flush and after drop, `MAP_SYNC` versus the `msync` fallback (checked against what this
//! machine's file system really does), bad input, the spec factory, concurrent writers, and
//! a differential property test against the RAM disk.

use std::path::Path;

use disks::memory::MemoryDisk;
use disks::pmem::{PmemDisk, PmemDiskOptions, PmemError, SyncMode};
use irp::{Access, Characteristics, DeviceRef, Handle, IoManager, RequestFlags, Status};
use proptest::prelude::*;
use stack::factories::PMEM;
use stack::{BuildContext, DriverRegistry, StackSpec};
use tempfile::TempDir;

const MIB: u64 = 1 << 20;

/// Whether this machine's file system under `dir` accepts `MAP_SHARED_VALIDATE | MAP_SYNC`
/// (only DAX file systems do); asked of the kernel directly, independently of the driver.
fn map_sync_works(dir: &Path) -> bool {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("probe"))
        .unwrap();
    file.set_len(4096).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: a new 4 KiB mapping at a kernel-chosen address of an open 4 KiB file; it is
    // unmapped below and never accessed.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC,
            file.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        let errno = std::io::Error::last_os_error().raw_os_error();
        assert!(matches!(errno, Some(libc::EOPNOTSUPP | libc::EINVAL)), "unexpected mmap error {errno:?}");
        return false;
    }
    // SAFETY: `p` is the 4 KiB mapping made above, not used after this.
    unsafe { libc::munmap(p, 4096) };
    true
}

fn open(options: PmemDiskOptions) -> (IoManager, DeviceRef, Handle) {
    let io = IoManager::new();
    let dev = PmemDisk::create("pmem", options).unwrap();
    io.register("pmem", &dev).unwrap();
    let h = io.open("pmem", Access::READ_WRITE).unwrap();
    (io, dev, h)
}

fn sized(dir: &TempDir, size: u64) -> PmemDiskOptions {
    PmemDiskOptions { size: Some(size), ..PmemDiskOptions::new(dir.path().join("disk.pmem")) }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[test]
fn requests_round_trip_and_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let options = sized(&dir, MIB);
    let path = options.path.clone();
    let (io, dev, h) = open(options);
    let disk = dev.disk::<PmemDisk>().unwrap();
    // `auto` gets MAP_SYNC exactly where the kernel grants it.
    let map_sync = map_sync_works(dir.path());
    assert_eq!(disk.is_map_sync(), map_sync);
    assert_eq!(disk.info().volatile_cache, !map_sync);
    assert!(disk.info().durable);
    assert_eq!(dev.stack_has(Characteristics::VOLATILE_CACHE), !map_sync);
    assert!(dev.stack_has(Characteristics::SHUTDOWN_NOTIFY));
    assert_eq!(h.query_size().unwrap(), MIB);

    let data = pattern(10_000, 1);
    assert_eq!(h.write(4000, &data), Ok(data.len()));
    assert_eq!(h.read(4000, data.len()).unwrap().bytes(), &data[..]);
    h.flush_buffers().unwrap();
    let file = std::fs::read(&path).unwrap();
    assert_eq!(file.len() as u64, MIB);
    assert_eq!(&file[4000..14_000], &data[..]);

    let fua = pattern(512, 9);
    assert_eq!(h.write_fua(MIB - 512, &fua), Ok(512));
    assert_eq!(&std::fs::read(&path).unwrap()[(MIB - 512) as usize..], &fua[..]);

    h.discard(4096, 4096).unwrap();
    h.write_zeroes(12_000, 100, RequestFlags::FORCE_UNIT_ACCESS).unwrap();
    let back = h.read(4000, data.len()).unwrap();
    assert_eq!(&back.bytes()[..96], &data[..96]);
    assert!(back.bytes()[96..96 + 4096].iter().all(|&b| b == 0));
    assert_eq!(&back.bytes()[4192..8000], &data[4192..8000]);
    assert!(back.bytes()[8000..8100].iter().all(|&b| b == 0));
    assert_eq!(&back.bytes()[8100..], &data[8100..]);

    // Written, not flushed, then the disk is dropped: drop msyncs before munmap.
    h.write(MIB / 2, &[0xAB; 3000]).unwrap();
    drop((h, dev));
    io.shutdown().unwrap();
    drop(io);
    let file = std::fs::read(&path).unwrap();
    assert!(file[(MIB / 2) as usize..][..3000].iter().all(|&b| b == 0xAB));
    assert_eq!(&file[4000..4096], &data[..96]);

    // Reopened without a size: the file's size; the data is there.
    let (_io, _dev, h) = open(PmemDiskOptions::new(&path));
    assert_eq!(h.query_size().unwrap(), MIB);
    assert_eq!(h.read(MIB - 512, 512).unwrap().bytes(), &fua[..]);
}

#[test]
fn sync_modes_fall_back_or_fail_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let map_sync = map_sync_works(dir.path());
    let msync = PmemDisk::open(&PmemDiskOptions { sync: SyncMode::Msync, ..sized(&dir, MIB) }).unwrap();
    assert!(!msync.is_map_sync());
    assert!(msync.info().volatile_cache);
    drop(msync);
    match PmemDisk::open(&PmemDiskOptions { sync: SyncMode::MapSync, ..sized(&dir, MIB) }) {
        Ok(disk) => assert!(map_sync && disk.is_map_sync() && !disk.info().volatile_cache),
        Err(err @ PmemError::MapSyncUnsupported { .. }) => {
            assert!(!map_sync);
            assert!(err.to_string().contains("disk.pmem"), "{err}");
        }
        Err(err) => panic!("unexpected error {err}"),
    }
}

#[test]
fn bad_files_and_sizes_are_refused_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.pmem");
    let err = PmemDisk::open(&PmemDiskOptions::new(&path)).unwrap_err();
    assert!(matches!(err, PmemError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("x.pmem"), "{err}");
    assert!(!path.exists());
    for size in [1000, 0] {
        let err =
            PmemDisk::open(&PmemDiskOptions { size: Some(size), ..PmemDiskOptions::new(&path) }).unwrap_err();
        assert!(matches!(err, PmemError::SizeNotAligned { .. }), "{err}");
        assert!(err.to_string().contains("x.pmem") && err.to_string().contains("512"), "{err}");
    }
    std::fs::write(&path, b"").unwrap();
    let err = PmemDisk::open(&PmemDiskOptions::new(&path)).unwrap_err();
    assert!(matches!(err, PmemError::Empty { len: 0, .. }), "{err}");
    std::fs::write(&path, [1u8; 100]).unwrap();
    let err = PmemDisk::open(&PmemDiskOptions::new(&path)).unwrap_err();
    assert!(matches!(err, PmemError::Empty { len: 100, .. }), "{err}");
    let err = PmemDisk::open(&PmemDiskOptions::new(dir.path())).unwrap_err();
    assert!(matches!(err, PmemError::NotAFile { kind: "directory", .. }), "{err}");

    // A file of 1000 bytes is a one-sector disk; a given size extends it sparsely.
    std::fs::write(&path, [7u8; 1000]).unwrap();
    assert_eq!(PmemDisk::open(&PmemDiskOptions::new(&path)).unwrap().info().size, 512);
    let disk = PmemDisk::open(&PmemDiskOptions { size: Some(MIB), ..PmemDiskOptions::new(&path) }).unwrap();
    assert_eq!(disk.info().size, MIB);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), MIB);
}

#[test]
fn out_of_range_requests_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (_io, _dev, h) = open(sized(&dir, 4096));
    assert_eq!(h.write(4000, &[1; 200]), Err(Status::INVALID_PARAMETER));
    assert_eq!(h.read(4000, 200).unwrap_err(), Status::END_OF_FILE);
    assert_eq!(h.discard(u64::MAX - 1, 10), Err(Status::INVALID_PARAMETER));
    assert_eq!(h.write(0, &[]), Ok(0));
}

#[test]
fn concurrent_writers_to_different_ranges_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let options = sized(&dir, MIB);
    let path = options.path.clone();
    let (_io, _dev, h) = open(options);
    let h = std::sync::Arc::new(h);
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let h = std::sync::Arc::clone(&h);
            std::thread::spawn(move || {
                for i in 0..32u64 {
                    let offset = (u64::from(t) * 32 + i) * 8192 + 100;
                    h.write(offset, &pattern(5000, t ^ i as u8)).unwrap();
                    if i % 8 == 0 {
                        h.flush_buffers().unwrap();
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    h.flush_buffers().unwrap();
    let file = std::fs::read(&path).unwrap();
    for t in 0..4u8 {
        for i in 0..32u64 {
            let offset = ((u64::from(t) * 32 + i) * 8192 + 100) as usize;
            assert_eq!(&file[offset..offset + 5000], &pattern(5000, t ^ i as u8)[..]);
        }
    }
}

#[test]
fn the_factory_builds_a_pmem_stack() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = DriverRegistry::builtin();
    registry.register(PMEM);
    let ctx = BuildContext::new().with_base_dir(dir.path()).with_default_size(MIB);
    let spec = StackSpec::parse("pmem(path=d.pmem,sync=msync)").unwrap();
    let top = registry.build(&spec, &ctx).unwrap();
    assert!(!top.disk::<PmemDisk>().unwrap().is_map_sync());
    let io = IoManager::new();
    io.register("d", &top).unwrap();
    let h = io.open("d", Access::READ_WRITE).unwrap();
    assert_eq!(h.query_size().unwrap(), MIB, "the build's default size for a new file");
    h.write(0, b"spec").unwrap();
    h.flush_buffers().unwrap();
    assert_eq!(&std::fs::read(dir.path().join("d.pmem")).unwrap()[..4], b"spec");
    for (text, needle) in [
        ("pmem(path=missing.pmem)", "missing.pmem"),
        ("pmem(path=d.pmem,sync=fast)", "sync"),
        ("pmem(size=1M)", "path"),
    ] {
        let spec = StackSpec::parse(text).unwrap();
        let err = registry.build(&spec, &BuildContext::new().with_base_dir(dir.path())).unwrap_err();
        assert!(err.to_string().contains(needle), "{text}: {err}");
    }
}

#[derive(Clone, Debug)]
enum Op {
    Write { sector: u64, sectors: u64, seed: u8, fua: bool },
    Read { offset: u64, len: u64 },
    Discard { offset: u64, len: u64 },
    Zeroes { offset: u64, len: u64, fua: bool },
    Flush,
}

const DISK: u64 = 64 * 1024;

fn op() -> impl Strategy<Value = Op> {
    let range = (0..DISK).prop_flat_map(|o| (Just(o), 0..=(DISK - o).min(20_000)));
    prop_oneof![
        4 => (0..DISK / 512, 1..24u64, any::<u8>(), any::<bool>()).prop_map(|(sector, n, seed, fua)| {
            Op::Write { sector, sectors: n.min(DISK / 512 - sector), seed, fua }
        }),
        3 => range.clone().prop_map(|(offset, len)| Op::Read { offset, len }),
        1 => range.clone().prop_map(|(offset, len)| Op::Discard { offset, len }),
        1 => (range, any::<bool>()).prop_map(|((offset, len), fua)| Op::Zeroes { offset, len, fua }),
        1 => Just(Op::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The pmem disk and the RAM disk answer every request sequence the same way, and the
    /// file holds the RAM disk's bytes at the end.
    #[test]
    fn behaves_like_the_memory_disk(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let options = sized(&dir, DISK);
        let path = options.path.clone();
        let (_io, _dev, pmem) = open(options);
        let io = IoManager::new();
        let mem_dev = MemoryDisk::create("mem", DISK, 512).unwrap();
        io.register("mem", &mem_dev).unwrap();
        let mem = io.open("mem", Access::READ_WRITE).unwrap();
        for op in ops {
            match op {
                Op::Write { sector, sectors, seed, fua } => {
                    let data = pattern((sectors * 512) as usize, seed);
                    let flags = if fua { RequestFlags::FORCE_UNIT_ACCESS } else { RequestFlags::NONE };
                    prop_assert_eq!(pmem.write_with(sector * 512, &data, flags), mem.write(sector * 512, &data));
                }
                Op::Read { offset, len } => {
                    let (a, b) = (pmem.read(offset, len as usize), mem.read(offset, len as usize));
                    prop_assert_eq!(a.map(|m| m.bytes().to_vec()), b.map(|m| m.bytes().to_vec()));
                }
                Op::Discard { offset, len } => prop_assert_eq!(pmem.discard(offset, len), mem.discard(offset, len)),
                Op::Zeroes { offset, len, fua } => {
                    let flags = if fua { RequestFlags::FORCE_UNIT_ACCESS } else { RequestFlags::NONE };
                    prop_assert_eq!(pmem.write_zeroes(offset, len, flags), mem.write_zeroes(offset, len, flags));
                }
                Op::Flush => prop_assert_eq!(pmem.flush_buffers(), Ok(())),
            }
        }
        pmem.flush_buffers().unwrap();
        let whole = mem.read(0, DISK as usize).unwrap();
        prop_assert_eq!(&std::fs::read(&path).unwrap()[..], whole.bytes());
    }
}
