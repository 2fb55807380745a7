//! The null device (`\Device\Null`): a bottom device that stores nothing.

use irp::block::{AllocatedRange, Allocation, BlockDisk, DiskDriver, DiskInfo};
use irp::{Device, DeviceRef, Irp, Parameters, Status};

/// `\Device\Null`: reads return zero bytes... of the length asked (the buffer is left
/// as it is), writes, flushes and everything else succeed at once. The size it reports
/// is `u64::MAX`; nothing is allocated (`FSCTL_QUERY_ALLOCATED_RANGES` answers no range).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullDevice;

impl NullDevice {
    /// Creates the device (bottom of a new stack) called `name`.
    pub fn create(name: &str) -> DeviceRef {
        Device::new(name, DiskDriver::new(NullDevice))
    }
}

impl BlockDisk for NullDevice {
    fn disk_info(&self) -> DiskInfo {
        DiskInfo { size: u64::MAX, sector_size: 512, volatile_cache: false, durable: false }
    }
    /// Every transfer "succeeds" with its whole length, without touching the buffer.
    fn serve(&self, irp: Irp) -> Status {
        let information = match irp.parameters() {
            Parameters::Read { length, .. } | Parameters::Write { length, .. } => u64::from(*length),
            _ => 0,
        };
        irp.complete_with(Status::SUCCESS, information)
    }
    fn flush(&self, irp: Irp, _syncs_device: bool) -> Status {
        irp.complete(Status::SUCCESS)
    }
    /// It stores nothing: one hole.
    fn allocated_ranges(&self, query: AllocatedRange, _max_ranges: usize) -> Result<Allocation, Status> {
        Ok(Allocation::nothing(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use irp::block::lower::query_allocated_ranges;

    #[test]
    fn nothing_is_allocated() {
        let dev = NullDevice::create("null");
        let answer = query_allocated_ranges(&dev, AllocatedRange::new(4096, 1 << 30), 4).unwrap();
        assert!(answer.is_known() && answer.is_complete() && answer.ranges().is_empty());
    }
}
