//! The trait a disk implements and the adapter that makes it a driver.

use std::sync::Arc;

use super::{AllocatedRange, Allocation, AllocationQuery, DiskInfo};
use crate::{DeviceRef, Driver, Irp, Status};

/// The requests a disk answers. Wrapped in a [`DiskDriver`], it becomes the bottom
/// driver of a stack: opens, cleanups and closes need no per-open state and succeed,
/// transfers go to [`serve`](BlockDisk::serve), FlushBuffers and Shutdown to
/// [`flush`](BlockDisk::flush) and [`shutdown`](BlockDisk::shutdown), QueryInformation
/// answers the size, and the allocation query (a DeviceControl) goes to
/// [`allocated_ranges`](BlockDisk::allocated_ranges).
pub trait BlockDisk: Send + Sync + 'static {
    /// What the disk reports about itself (`QueryInformation`).
    fn disk_info(&self) -> DiskInfo;
    /// Read, Write, Discard and WriteZeroes.
    fn serve(&self, irp: Irp) -> Status;
    /// FlushBuffers; `syncs_device` comes from its flags
    /// ([`FlushFlags::syncs_device`](crate::FlushFlags::syncs_device)).
    fn flush(&self, irp: Irp, syncs_device: bool) -> Status;
    /// Shutdown (`IRP_MJ_SHUTDOWN`): by default a flush with a device sync.
    fn shutdown(&self, irp: Irp) -> Status {
        self.flush(irp, true)
    }
    /// `FSCTL_QUERY_ALLOCATED_RANGES` ([`super::allocated`]): the ranges of `query` (inside
    /// the disk, not empty) that may hold data. Among them at least the first `max_ranges`
    /// when there are more (the driver keeps that many and says the answer overflowed).
    /// By default the disk cannot tell: `STATUS_INVALID_DEVICE_REQUEST`, and its callers
    /// count everything as data.
    #[doc(alias = "FSCTL_QUERY_ALLOCATED_RANGES")]
    fn allocated_ranges(&self, query: AllocatedRange, max_ranges: usize) -> Result<Allocation, Status> {
        let _ = (query, max_ranges);
        Err(Status::INVALID_DEVICE_REQUEST)
    }
}

/// A disk shared with whoever else keeps it (a test, the crash checker) is a disk too.
impl<D: BlockDisk> BlockDisk for Arc<D> {
    fn disk_info(&self) -> DiskInfo {
        (**self).disk_info()
    }
    fn serve(&self, irp: Irp) -> Status {
        (**self).serve(irp)
    }
    fn flush(&self, irp: Irp, syncs_device: bool) -> Status {
        (**self).flush(irp, syncs_device)
    }
    fn shutdown(&self, irp: Irp) -> Status {
        (**self).shutdown(irp)
    }
    fn allocated_ranges(&self, query: AllocatedRange, max_ranges: usize) -> Result<Allocation, Status> {
        (**self).allocated_ranges(query, max_ranges)
    }
}

/// The [`Driver`] of a [`BlockDisk`]: the one dispatch table every disk shares.
#[derive(Debug)]
pub struct DiskDriver<D>(D);

impl<D: BlockDisk> DiskDriver<D> {
    /// The driver of `disk`.
    pub fn new(disk: D) -> DiskDriver<D> {
        DiskDriver(disk)
    }

    /// The disk.
    pub fn disk(&self) -> &D {
        &self.0
    }
}

impl<D: BlockDisk> Driver for DiskDriver<D> {
    fn create(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn cleanup(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn close(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn read(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.0.serve(irp)
    }
    fn write(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.0.serve(irp)
    }
    fn discard(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.0.serve(irp)
    }
    fn write_zeroes(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.0.serve(irp)
    }
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        let syncs_device = irp.flush_flags().syncs_device();
        self.0.flush(irp, syncs_device)
    }
    fn shutdown(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.0.shutdown(irp)
    }
    fn query_information(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.0.disk_info().query_information(irp)
    }
    /// `FSCTL_QUERY_ALLOCATED_RANGES` goes to [`BlockDisk::allocated_ranges`] (an empty
    /// query is answered here: nothing allocated); other codes are not a disk's.
    fn device_control(&self, _: &DeviceRef, irp: Irp) -> Status {
        let query = match AllocationQuery::decode(&irp, self.0.disk_info().size) {
            None => return irp.complete(Status::INVALID_DEVICE_REQUEST),
            Some(Err(status)) => return irp.complete(status),
            Some(Ok(query)) => query,
        };
        if query.range.length == 0 {
            return Allocation::nothing(query.range).complete(irp, query.max_ranges);
        }
        match self.0.allocated_ranges(query.range, query.max_ranges) {
            Ok(answer) => answer.complete(irp, query.max_ranges),
            Err(status) => irp.complete(status),
        }
    }
}

impl crate::Device {
    /// The disk this device runs, if it is a [`DiskDriver`] of a `D`.
    pub fn disk<D: BlockDisk>(&self) -> Option<&D> {
        self.driver_as::<DiskDriver<D>>().map(DiskDriver::disk)
    }
}
