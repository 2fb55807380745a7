//! The `file` disk's allocation query (`FSCTL_QUERY_ALLOCATED_RANGES`) through the I/O
//! manager, against what was written: data where writes landed (both engines, buffered
//! and `O_DIRECT`, small inline writes and large engine ones), holes elsewhere and where a
//! discard or an unmapping write-zeroes punched them; a block device (a loop device) is
//! all data.

use std::path::Path;
use std::process::Command;

use disks::file::{Engine, FileDisk, FileDiskOptions};
use irp::block::lower::query_allocated_ranges;
use irp::block::{AllocatedRange, Allocation};
use irp::{Access, DeviceRef, Handle, IoManager, RequestFlags};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

fn open(path: &Path, engine: Engine, direct: bool, size: Option<u64>) -> (IoManager, DeviceRef, Handle) {
    let options = FileDiskOptions { size, engine, direct, ..FileDiskOptions::new(path) };
    let io = IoManager::new();
    let dev = FileDisk::create("disk", options).unwrap();
    io.register("disk", &dev).unwrap();
    let h = io.open("disk", Access::READ_WRITE).unwrap();
    (io, dev, h)
}

fn ranges(dev: &DeviceRef, offset: u64, length: u64) -> Allocation {
    query_allocated_ranges(dev, AllocatedRange::new(offset, length), 64).unwrap()
}

/// Whether files in `dir` keep holes (ext4, xfs, tmpfs do): a fresh sparse file has none
/// of its bytes allocated.
fn keeps_holes(dir: &Path) -> bool {
    let probe = dir.join("probe");
    std::fs::File::create(&probe).and_then(|f| f.set_len(MIB)).unwrap();
    let blocks = std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&probe).unwrap());
    std::fs::remove_file(&probe).unwrap();
    blocks == 0
}

fn direct_io_works(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let probe = dir.join("direct-probe");
    let works = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe)
        .is_ok();
    let _ = std::fs::remove_file(&probe);
    works
}

#[test]
fn data_where_written_and_holes_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    if !keeps_holes(dir.path()) {
        irp::testing::skip("the temporary directory's file system keeps no holes");
        return;
    }
    let direct_ok = direct_io_works(dir.path());
    for (engine, direct) in [(Engine::Pool, false), (Engine::Uring, false), (Engine::Pool, true)] {
        if direct && !direct_ok {
            irp::testing::skip("O_DIRECT is not supported in the temporary directory");
            continue;
        }
        let path = dir.path().join(format!("{engine}-{direct}.img"));
        let (_io, dev, h) = open(&path, engine, direct, Some(16 * MIB));
        assert!(ranges(&dev, 0, 16 * MIB).ranges().is_empty(), "{engine}: a new image is one hole");

        h.write(64 * KIB, &[1; 4096]).unwrap(); // small: inline when buffered
        h.write(4 * MIB, &vec![2; (2 * MIB) as usize]).unwrap(); // large: the engine
        h.write_fua(12 * MIB, &[3; 8192]).unwrap();
        let want = [
            AllocatedRange::new(64 * KIB, 4 * KIB),
            AllocatedRange::new(4 * MIB, 2 * MIB),
            AllocatedRange::new(12 * MIB, 8 * KIB),
        ];
        let all = ranges(&dev, 0, 16 * MIB);
        assert_eq!(all.ranges(), want, "{engine} direct={direct}");
        assert!(all.is_complete());

        // A query starting inside data, and one with room for one range only.
        assert_eq!(ranges(&dev, 5 * MIB, MIB).ranges(), [AllocatedRange::new(5 * MIB, MIB)]);
        let one = query_allocated_ranges(&dev, AllocatedRange::new(0, 16 * MIB), 1).unwrap();
        assert_eq!((one.ranges(), one.end()), (&want[..1], 68 * KIB), "cut after the first range");

        // A discard and an unmapping write-zeroes punch holes. A write-zeroes that must not
        // unmap allocates (ext4: unwritten extents, which SEEK_DATA counts as holes, since
        // they read as zeroes; a file system without ZERO_RANGE gets zeroes written: data).
        h.discard(4 * MIB, MIB).unwrap();
        h.write_zeroes(12 * MIB, 8 * KIB, RequestFlags::MAY_UNMAP).unwrap();
        h.write_zeroes(8 * MIB, 64 * KIB, RequestFlags::NONE).unwrap();
        let after = ranges(&dev, 0, 16 * MIB);
        let punched = [AllocatedRange::new(64 * KIB, 4 * KIB), AllocatedRange::new(5 * MIB, MIB)];
        let zeroed = AllocatedRange::new(8 * MIB, 64 * KIB);
        assert!(
            after.ranges() == punched || after.ranges() == [punched[0], punched[1], zeroed],
            "{engine} direct={direct}: {:?}",
            after.ranges()
        );
        h.close().unwrap();
    }
}

#[test]
fn a_block_device_is_all_data() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("loop.img");
    std::fs::File::create(&image).and_then(|f| f.set_len(4 * MIB)).unwrap();
    let attach = Command::new("losetup").args(["--find", "--show"]).arg(&image).output();
    let device = match attach {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => {
            irp::testing::skip(format_args!(
                "losetup failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return;
        }
        Err(e) => {
            irp::testing::skip(format_args!("losetup not available: {e}"));
            return;
        }
    };
    let result = std::panic::catch_unwind(|| {
        let (_io, dev, h) = open(Path::new(&device), Engine::Pool, false, None);
        let answer = ranges(&dev, 4096, 2 * MIB);
        assert!(answer.is_known() && answer.is_complete());
        assert_eq!(
            answer.ranges(),
            [AllocatedRange::new(4096, 2 * MIB)],
            "the backing file is sparse, the device is not"
        );
        h.close().unwrap();
    });
    let detached = Command::new("losetup").arg("-d").arg(&device).status();
    assert!(detached.is_ok_and(|s| s.success()), "losetup -d {device}");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
