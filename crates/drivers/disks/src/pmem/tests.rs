//! Unit tests of the mapping and of what the disk tracks between flushes.

use std::os::unix::fs::MetadataExt;

use irp::{Access, FlushFlags, IoManager, MajorFunction, RequestFlags, Status};

use super::map::{MapKind, Mapping};
use super::{PmemDisk, PmemDiskOptions, SyncMode};

const MIB: u64 = 1 << 20;

fn options(dir: &tempfile::TempDir, size: u64) -> PmemDiskOptions {
    PmemDiskOptions { size: Some(size), sync: SyncMode::Msync, ..PmemDiskOptions::new(dir.path().join("d")) }
}

#[test]
fn mapping_copies_in_and_out_and_finds_zeroes() {
    let file = tempfile::tempfile().unwrap();
    file.set_len(3 * 4096).unwrap();
    let map = Mapping::new(&file, 3 * 4096, MapKind::Shared).unwrap();
    assert_eq!((map.kind(), map.len()), (MapKind::Shared, 3 * 4096));
    assert!(map.is_zero(0, 3 * 4096));
    map.write(4095, &[1, 2, 3]);
    map.write_back(4095, 3);
    let mut out = [0u8; 5];
    map.read(4094, &mut out);
    assert_eq!(out, [0, 1, 2, 3, 0]);
    assert!(!map.is_zero(0, 3 * 4096));
    assert!(map.is_zero(4098, 8190));
    map.zero(4096, 2);
    assert!(map.is_zero(4096, 8192));
    map.msync(4095, 3).unwrap();
    map.msync(0, 3 * 4096).unwrap();
    map.msync(5, 0).unwrap();
}

#[test]
#[should_panic(expected = "outside")]
fn mapping_refuses_ranges_past_its_end() {
    let file = tempfile::tempfile().unwrap();
    file.set_len(4096).unwrap();
    let map = Mapping::new(&file, 4096, MapKind::Shared).unwrap();
    map.write(4095, &[1, 2]);
}

#[test]
fn an_empty_mapping_is_refused() {
    let file = tempfile::tempfile().unwrap();
    assert!(Mapping::new(&file, 0, MapKind::Shared).is_err());
}

#[test]
fn flushes_take_exactly_the_written_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let disk = PmemDisk::open(&options(&dir, MIB)).unwrap();
    assert!(!disk.is_map_sync());
    assert!(!disk.dirty.any());
    let io = IoManager::new();
    let dev =
        irp::DeviceBuilder::new("pmem").sector_size(512).build(irp::block::DiskDriver::new(disk)).unwrap();
    io.register("pmem", &dev).unwrap();
    let h = io.open("pmem", Access::READ_WRITE).unwrap();
    let disk = dev.disk::<PmemDisk>().unwrap();

    h.write(8192 + 10, &[7; 100]).unwrap();
    assert!(disk.dirty.any());
    let no_sync = h.new_irp(MajorFunction::FlushBuffers).with_flush_flags(FlushFlags::NoSync);
    assert_eq!(h.call(no_sync).status(), Status::SUCCESS);
    assert!(disk.dirty.any(), "a flush without a device sync does not msync");
    h.flush_buffers().unwrap();
    assert!(!disk.dirty.any());
    // A write-zeroes over a hole changes nothing, so nothing becomes dirty.
    h.write_zeroes(65536, 65536, RequestFlags::NONE).unwrap();
    h.discard(65536, 4096).unwrap();
    assert!(!disk.dirty.any());
    h.write_zeroes(8192, 512, RequestFlags::NONE).unwrap();
    assert!(disk.dirty.any());
    h.flush_buffers().unwrap();
    assert_eq!(disk.sticky_error(), None);
}

#[test]
fn zeroing_holes_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d");
    let blocks = || std::fs::metadata(&path).unwrap().blocks();
    let io = IoManager::new();
    let dev = PmemDisk::create("pmem", options(&dir, 4 * MIB)).unwrap();
    io.register("pmem", &dev).unwrap();
    let h = io.open("pmem", Access::READ_WRITE).unwrap();
    h.discard(0, 4 * MIB).unwrap();
    h.write_zeroes(0, 4 * MIB, RequestFlags::FORCE_UNIT_ACCESS).unwrap();
    h.flush_buffers().unwrap();
    assert_eq!(blocks(), 0, "the file stays sparse");
    h.write(MIB, &[1; 4096]).unwrap();
    h.flush_buffers().unwrap();
    assert!(blocks() > 0);
}

#[test]
fn preallocate_allocates_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = PmemDiskOptions { preallocate: true, ..options(&dir, MIB) };
    let disk = PmemDisk::open(&o).unwrap();
    assert!(std::fs::metadata(&o.path).unwrap().blocks() * 512 >= MIB);
    drop(disk);
}

#[test]
fn sync_modes_parse_and_print() {
    for mode in [SyncMode::Auto, SyncMode::Msync, SyncMode::MapSync] {
        assert_eq!(mode.to_string().parse::<SyncMode>(), Ok(mode));
    }
    assert!("fast".parse::<SyncMode>().unwrap_err().contains("map-sync"));
}
