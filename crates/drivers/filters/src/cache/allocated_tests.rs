//! The cache's allocation answer: the blocks it holds count as data (dirty, being written
//! back, being written around it), a device below that cannot tell makes everything data,
//! and — the promise — every hole it reports reads as zeroes through the cache.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use disks::crash::{CrashDisk, CrashDiskOptions};
use disks::memory::MemoryDisk;
use irp::block::lower::query_allocated_ranges;
use irp::block::{AllocatedRange, Allocation};
use irp::{Access, Device, DeviceRef, Driver, Handle, IoManager, Irp};
use proptest::prelude::*;

use super::super::{Cache, CacheOptions};

const SIZE: u64 = 4 << 20;
const KIB: u64 = 1 << 10;

/// Holds writes on their way down (in their dispatching thread) while closed, for at most
/// 30 s so that a test that goes wrong fails instead of hanging.
#[derive(Default)]
struct Hold {
    /// (closed, writes that arrived)
    state: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl Hold {
    const PATIENCE: Duration = Duration::from_secs(30);

    fn set_closed(&self, closed: bool) {
        self.state.lock().unwrap().0 = closed;
        self.changed.notify_all();
    }

    fn wait_for_arrivals(&self, n: usize) {
        let state = self.state.lock().unwrap();
        let (state, _) =
            self.changed.wait_timeout_while(state, Self::PATIENCE, |(_, arrived)| *arrived < n).unwrap();
        assert!(state.1 >= n, "{} of {n} writes reached the hold", state.1);
    }
}

struct HoldFilter(Arc<Hold>);

impl Driver for HoldFilter {
    fn write(&self, device: &DeviceRef, mut irp: Irp) -> irp::Status {
        let hold = &self.0;
        let mut state = hold.state.lock().unwrap();
        state.1 += 1;
        hold.changed.notify_all();
        drop(hold.changed.wait_timeout_while(state, Hold::PATIENCE, |(closed, _)| *closed).unwrap());
        irp.skip_current_location();
        device.lower().unwrap().call(irp)
    }
}

struct Rig {
    _io: IoManager,
    handle: Handle,
    memory: DeviceRef,
    cache: DeviceRef,
    hold: Arc<Hold>,
}

/// cache (nothing written behind until a flush) / hold / memory (which reports its
/// allocated 64 KiB chunks).
fn rig() -> Rig {
    let memory = MemoryDisk::create("memory", SIZE, 512).unwrap();
    let hold = Arc::new(Hold::default());
    let held = Device::attach("hold", HoldFilter(Arc::clone(&hold)), &memory).unwrap();
    let options =
        CacheOptions { lazy_interval: Duration::from_secs(3600), eager: 0, ..CacheOptions::default() };
    let cache = Cache::create("cache", options, &held).unwrap();
    let io = IoManager::new();
    io.register("disk", &cache).unwrap();
    let handle = io.open("disk", Access::READ_WRITE).unwrap();
    Rig { _io: io, handle, memory, cache, hold }
}

fn query(device: &DeviceRef, offset: u64, length: u64, max: usize) -> Allocation {
    query_allocated_ranges(device, AllocatedRange::new(offset, length), max).unwrap()
}

fn r(offset: u64, length: u64) -> AllocatedRange {
    AllocatedRange::new(offset, length)
}

#[test]
fn dirty_blocks_are_data_before_and_after_they_go_below() {
    let rig = rig();
    rig.handle.write(200 * KIB + 5, &[7; 10]).unwrap();
    assert!(query(&rig.memory, 0, SIZE, 8).ranges().is_empty(), "nothing below yet");
    let answer = query(&rig.cache, 0, SIZE, 8);
    assert_eq!(answer.ranges(), [r(200 * KIB, 4 * KIB)], "the dirty block, whole");
    assert!(answer.is_complete() && answer.is_known());

    rig.handle.flush_buffers().unwrap();
    let below = query(&rig.memory, 0, SIZE, 8);
    assert_eq!(below.ranges(), [r(192 * KIB, 64 * KIB)], "the memory disk's chunk");
    assert_eq!(query(&rig.cache, 0, SIZE, 8).ranges(), below.ranges(), "clean now: what is below");

    // Two dirty runs and room for one: the answer ends after the first.
    rig.handle.write(0, &[1; 8192]).unwrap();
    rig.handle.write(3 << 20, &[2; 4096]).unwrap();
    let cut = query(&rig.cache, 0, SIZE, 1);
    assert_eq!((cut.ranges(), cut.end()), (&[r(0, 8 * KIB)][..], 8 * KIB));
    let all = query(&rig.cache, 0, SIZE, 8);
    assert_eq!(all.ranges(), [r(0, 8 * KIB), r(192 * KIB, 64 * KIB), r(3 << 20, 4 * KIB)]);
    // A query inside a dirty block is clipped to the query.
    assert_eq!(query(&rig.cache, 100, 50, 8).ranges(), [r(100, 50)]);
}

#[test]
fn blocks_being_written_back_or_around_are_data() {
    let rig = rig();
    rig.handle.write(64 * KIB, &[3; 4096]).unwrap();
    rig.hold.set_closed(true);
    let flusher = {
        let cache = Arc::clone(&rig.cache);
        std::thread::spawn(move || irp::block::lower::flush(&cache, irp::FlushFlags::Full))
    };
    rig.hold.wait_for_arrivals(1);
    assert!(query(&rig.memory, 0, SIZE, 8).ranges().is_empty(), "the write-back is held");
    assert_eq!(
        query(&rig.cache, 0, SIZE, 8).ranges(),
        [r(64 * KIB, 4 * KIB)],
        "still dirty while written back"
    );
    rig.hold.set_closed(false);
    assert!(flusher.join().unwrap().is_success());
    assert_eq!(query(&rig.cache, 0, SIZE, 8).ranges(), [r(64 * KIB, 64 * KIB)], "below now");

    // A write around the cache (block-aligned, at least 1 MiB), held on its way down.
    rig.hold.set_closed(true);
    let writer = {
        let cache = Arc::clone(&rig.cache);
        std::thread::spawn(move || irp::block::lower::write(&cache, 2 << 20, &vec![4; 1 << 20]))
    };
    rig.hold.wait_for_arrivals(2);
    assert_eq!(query(&rig.memory, 2 << 20, 1 << 20, 8).ranges(), [], "the write around is held");
    let answer = query(&rig.cache, 0, SIZE, 8);
    assert_eq!(answer.ranges(), [r(64 * KIB, 64 * KIB), r(2 << 20, 1 << 20)], "the write around is data too");
    rig.hold.set_closed(false);
    writer.join().unwrap().unwrap();
    assert_eq!(query(&rig.cache, 0, SIZE, 8).ranges(), [r(64 * KIB, 64 * KIB), r(2 << 20, 1 << 20)]);
}

#[test]
fn a_device_below_that_cannot_tell_makes_everything_data() {
    let disk =
        CrashDisk::new(&CrashDiskOptions { size: Some(SIZE), sector_size: Some(512), ..Default::default() })
            .unwrap();
    let bottom = CrashDisk::create("crash", disk).unwrap();
    let cache = Cache::create("cache", CacheOptions::default(), &bottom).unwrap();
    let answer = query(&cache, 4096, 8192, 8);
    assert!(!answer.is_known(), "the crash disk cannot tell, so neither can the cache");
    assert_eq!(answer.ranges(), [r(4096, 8192)]);
}

#[derive(Clone, Debug)]
enum Op {
    Write { offset: u64, len: u64 },
    Zero { offset: u64, len: u64 },
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    let range = (0..SIZE / 512 - 1, 1u64..600).prop_map(|(sector, sectors)| {
        let offset = sector * 512;
        (offset, (sectors * 512).min(SIZE - offset))
    });
    prop_oneof![
        4 => range.clone().prop_map(|(offset, len)| Op::Write { offset, len }),
        2 => range.prop_map(|(offset, len)| Op::Zero { offset, len }),
        1 => Just(Op::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever was written, zeroed and flushed, every hole the cache reports reads as
    /// zeroes through it, and every byte written nonzero and not zeroed since lies in a
    /// range it reports.
    #[test]
    fn every_reported_hole_reads_as_zeroes(ops in prop::collection::vec(op(), 1..24)) {
        let rig = rig();
        let mut model = vec![0u8; SIZE as usize];
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Write { offset, len } => {
                    let fill = (i % 250) as u8 + 1;
                    rig.handle.write(offset, &vec![fill; len as usize]).unwrap();
                    model[offset as usize..(offset + len) as usize].fill(fill);
                }
                Op::Zero { offset, len } => {
                    rig.handle.write_zeroes(offset, len, irp::RequestFlags::MAY_UNMAP).unwrap();
                    model[offset as usize..(offset + len) as usize].fill(0);
                }
                Op::Flush => rig.handle.flush_buffers().unwrap(),
            }
        }
        let answer = query(&rig.cache, 0, SIZE, 4096);
        prop_assert!(answer.is_complete());
        for extent in answer.extents() {
            let (at, len) = (extent.range.offset as usize, extent.range.length as usize);
            if !extent.allocated {
                let read = rig.handle.read(extent.range.offset, len).unwrap();
                prop_assert!(read.bytes().iter().all(|&b| b == 0), "a hole at {at} (+{len}) holds data");
                prop_assert!(model[at..at + len].iter().all(|&b| b == 0), "the model has data in the hole at {at}");
            }
        }
    }
}
