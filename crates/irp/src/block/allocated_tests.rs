//! The allocation query: its encoding, the rules of an answer, and the disk adapter.

use std::sync::Mutex;

use proptest::prelude::*;

use super::*;
use crate::block::{BlockDisk, DiskDriver, DiskInfo, lower};
use crate::{Device, MajorFunction};

fn r(offset: u64, length: u64) -> AllocatedRange {
    AllocatedRange::new(offset, length)
}

#[test]
fn a_range_is_ntfs_layout() {
    let bytes = r(0x0102, 0x1000).to_bytes();
    assert_eq!(bytes, [0x02, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0]);
    assert_eq!(AllocatedRange::from_bytes(&bytes), r(0x0102, 0x1000));
    assert_eq!(FSCTL_QUERY_ALLOCATED_RANGES, (9 << 16) | (1 << 14) | (51 << 2) | 3);
}

#[test]
fn ranges_are_clipped_sorted_and_merged() {
    let a =
        Allocation::from_ranges(r(100, 1000), [r(900, 500), r(0, 150), r(300, 10), r(150, 50), r(310, 0)]);
    assert_eq!(a.ranges(), [r(100, 100), r(300, 10), r(900, 200)]);
    assert!(a.is_complete() && a.is_known());
    let pieces: Vec<(u64, u64, bool)> =
        a.extents().map(|e| (e.range.offset, e.range.length, e.allocated)).collect();
    assert_eq!(
        pieces,
        [(100, 100, true), (200, 100, false), (300, 10, true), (310, 590, false), (900, 200, true)]
    );
    let holes: Vec<_> = Allocation::nothing(r(5, 10)).extents().collect();
    assert_eq!(holes, [AllocationExtent { range: r(5, 10), allocated: false }]);
    assert!(!Allocation::unknown(r(0, 8)).is_known());
    assert_eq!(Allocation::unknown(r(0, 8)).ranges(), [r(0, 8)]);
}

#[test]
fn a_limited_answer_ends_with_its_last_range_and_overflows() {
    let a = Allocation::from_ranges(r(0, 100), [r(10, 10), r(30, 10), r(50, 10)]).limited(2);
    assert_eq!((a.ranges(), a.end(), a.is_complete()), (&[r(10, 10), r(30, 10)][..], 40, false));
    assert_eq!(a.extents().last().unwrap().range, r(30, 10), "nothing is said past the end");
    let (bytes, status) = a.encode();
    assert_eq!((bytes.len(), status), (32, Status::BUFFER_OVERFLOW));
    let back = Allocation::decode(r(0, 100), status, &bytes).unwrap();
    assert_eq!(back, a);
    // Ranges added to a cut answer stay within what it covers.
    let more = a.union([r(35, 100), r(0, 5)]);
    assert_eq!(more.ranges(), [r(0, 5), r(10, 10), r(30, 10)]);
}

#[test]
fn answers_that_break_the_rules_are_refused() {
    let q = r(100, 100);
    let enc =
        |ranges: &[AllocatedRange]| ranges.iter().flat_map(AllocatedRange::to_bytes).collect::<Vec<u8>>();
    let bad = |status, bytes: &[u8]| Allocation::decode(q, status, bytes).unwrap_err();
    assert_eq!(bad(Status::SUCCESS, &[0; 15]), AllocationError::Ragged(15));
    assert!(matches!(bad(Status::SUCCESS, &enc(&[r(50, 60)])), AllocationError::Misplaced { .. }));
    assert!(matches!(bad(Status::SUCCESS, &enc(&[r(150, 60)])), AllocationError::Misplaced { .. }));
    assert!(matches!(bad(Status::SUCCESS, &enc(&[r(150, 0)])), AllocationError::Misplaced { .. }));
    assert!(matches!(
        bad(Status::SUCCESS, &enc(&[r(150, 10), r(120, 5)])),
        AllocationError::Misplaced { .. }
    ));
    assert!(matches!(bad(Status::SUCCESS, &enc(&[r(u64::MAX, 2)])), AllocationError::Misplaced { .. }));
    assert_eq!(bad(Status::BUFFER_OVERFLOW, &[]), AllocationError::OverflowWithoutRange);
    assert_eq!(bad(Status::IO_DEVICE_ERROR, &[]).status(), Status::IO_DEVICE_ERROR);
    assert_eq!(bad(Status::SUCCESS, &[1]).status(), Status::INTERNAL_ERROR);
    assert_eq!(Allocation::decode(q, Status::INVALID_DEVICE_REQUEST, &[]).unwrap(), Allocation::unknown(q));
    assert_eq!(Allocation::decode(q, Status::SUCCESS, &[]).unwrap(), Allocation::nothing(q));
}

/// A disk whose data lives in the ranges it was given, recording the queries it saw.
#[derive(Default)]
struct Sparse {
    data: Vec<AllocatedRange>,
    asked: Mutex<Vec<(AllocatedRange, usize)>>,
    tells: bool,
}

impl BlockDisk for Sparse {
    fn disk_info(&self) -> DiskInfo {
        DiskInfo { size: 1 << 20, sector_size: 512, volatile_cache: false, durable: false }
    }
    fn serve(&self, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn flush(&self, irp: Irp, _: bool) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn allocated_ranges(&self, query: AllocatedRange, max_ranges: usize) -> Result<Allocation, Status> {
        self.asked.lock().unwrap().push((query, max_ranges));
        if !self.tells {
            return Err(Status::INVALID_DEVICE_REQUEST);
        }
        Ok(Allocation::from_ranges(query, self.data.iter().copied()))
    }
}

#[test]
fn the_disk_adapter_checks_the_query_and_cuts_the_answer() {
    let data = vec![r(0, 4096), r(8192, 4096), r(65536, 512)];
    let device = Device::new("sparse", DiskDriver::new(Sparse { data, tells: true, ..Sparse::default() }));
    let q = |offset, length, max| lower::query_allocated_ranges(&device, r(offset, length), max);
    let all = q(0, 1 << 20, 16).unwrap();
    assert_eq!(all.ranges(), [r(0, 4096), r(8192, 4096), r(65536, 512)]);
    assert!(all.is_complete());
    let cut = q(1024, 1 << 19, 1).unwrap();
    assert_eq!((cut.ranges(), cut.end()), (&[r(1024, 3072)][..], 4096));
    assert_eq!(q(4096, 4096, 4).unwrap(), Allocation::nothing(r(4096, 4096)));
    assert_eq!(q(0, 0, 4).unwrap(), Allocation::nothing(r(0, 0)), "an empty query");
    assert_eq!(q(1 << 20, 1, 4), Err(Status::INVALID_PARAMETER), "past the end");
    assert_eq!(q(u64::MAX, 2, 4), Err(Status::INVALID_PARAMETER), "overflowing");
    let disk = device.disk::<Sparse>().unwrap();
    assert_eq!(disk.asked.lock().unwrap().len(), 3, "refused and empty queries never reach the disk");

    // Room for no range, an input that is not one range, another control code.
    let send = |irp: Irp| device.call_and_wait(irp).status();
    let control = |code, output_length| {
        Irp::for_device(&device, MajorFunction::DeviceControl)
            .with_parameters(Parameters::DeviceControl { code, output_length })
    };
    let input = r(0, 512).to_bytes().to_vec();
    assert_eq!(
        send(control(FSCTL_QUERY_ALLOCATED_RANGES, 15).with_system_buffer(input)),
        Status::BUFFER_TOO_SMALL
    );
    assert_eq!(
        send(control(FSCTL_QUERY_ALLOCATED_RANGES, 64).with_system_buffer(vec![0; 8])),
        Status::INVALID_PARAMETER
    );
    assert_eq!(send(control(0x1234, 64)), Status::INVALID_DEVICE_REQUEST);
}

#[test]
fn a_disk_that_cannot_tell_counts_as_all_data() {
    let device = Device::new("opaque", DiskDriver::new(Sparse::default()));
    let answer = lower::query_allocated_ranges(&device, r(512, 4096), 8).unwrap();
    assert!(!answer.is_known());
    assert_eq!(answer.ranges(), [r(512, 4096)]);
}

proptest! {
    /// Whatever ranges a device has, the answer reads back the same through the encoding,
    /// covers its part of the query exactly with extents, and a cut answer is a prefix.
    #[test]
    fn answers_round_trip_and_extents_tile(
        start in 0u64..1000,
        len in 0u64..5000,
        raw in prop::collection::vec((0u64..7000, 0u64..700), 0..12),
        max in 1usize..6,
    ) {
        let query = r(start, len);
        let full = Allocation::from_ranges(query, raw.iter().map(|&(o, l)| r(o, l)));
        let cut = full.clone().limited(max);
        let (bytes, status) = cut.encode();
        prop_assert_eq!(Allocation::decode(query, status, &bytes).unwrap(), cut.clone());
        let mut at = start;
        for e in cut.extents() {
            prop_assert_eq!(e.range.offset, at);
            prop_assert!(e.range.length > 0);
            // A hole really holds nothing the device reported.
            if !e.allocated {
                for &(o, l) in &raw {
                    prop_assert!(o + l <= e.range.offset || o >= e.range.offset + e.range.length || l == 0);
                }
            }
            at += e.range.length;
        }
        prop_assert_eq!(at, cut.end());
        prop_assert!(full.ranges().starts_with(&cut.ranges()[..cut.ranges().len().saturating_sub(1)]));
    }
}
