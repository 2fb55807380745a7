//! The filters without buffers of their own forward the allocation query
//! (`FSCTL_QUERY_ALLOCATED_RANGES`) untouched: through stats, fault and passthrough the
//! answer is the disk's; a fault rule on the query itself fails it.

use std::time::Duration;

use disks::memory::MemoryDisk;
use filters::fault::{Fault, FaultOptions, FaultRule, OpSet};
use filters::passthrough::Passthrough;
use filters::stats::{Stats, StatsOptions};
use irp::block::AllocatedRange;
use irp::block::lower::query_allocated_ranges;
use irp::{Device, MajorFunction, Status};

#[test]
fn stats_fault_and_passthrough_answer_what_the_disk_answers() {
    let memory = MemoryDisk::create("memory", 8 << 20, 512).unwrap();
    irp::block::lower::write(&memory, 1 << 20, &[5; 100]).unwrap();
    irp::block::lower::write(&memory, 6 << 20, &[6; 70_000]).unwrap();
    let fault = Fault::create(
        "fault",
        FaultOptions::rule(FaultRule::delay(OpSet::only(MajorFunction::Write), Duration::from_millis(1))),
        &memory,
    )
    .unwrap();
    let passthrough = Device::attach("passthrough", Passthrough, &fault).unwrap();
    let stats = Stats::create("stats", StatsOptions::default(), &passthrough).unwrap();
    let range = AllocatedRange::new(0, 8 << 20);
    let disk = query_allocated_ranges(&memory, range, 16).unwrap();
    assert_eq!(disk.ranges().len(), 2, "{disk:?}");
    assert_eq!(query_allocated_ranges(&stats, range, 16).unwrap(), disk);
    let cut = query_allocated_ranges(&stats, range, 1).unwrap();
    assert_eq!(cut, disk.limited(1), "the room asked for travels down");

    let failing = Fault::create(
        "failing",
        FaultOptions::rule(FaultRule::fail(
            OpSet::only(MajorFunction::DeviceControl),
            Status::IO_DEVICE_ERROR,
        )),
        &memory,
    )
    .unwrap();
    assert_eq!(query_allocated_ranges(&failing, range, 16), Err(Status::IO_DEVICE_ERROR));
}
