//! The trait a disk implements and the adapter that makes it a driver.

use std::sync::Arc;

use super::DiskInfo;
use crate::{DeviceRef, Driver, Irp, Status};

/// The requests a disk answers. Wrapped in a [`DiskDriver`], it becomes the bottom
/// driver of a stack: opens, cleanups and closes need no per-open state and succeed,
/// transfers go to [`serve`](BlockDisk::serve), FlushBuffers and Shutdown to
/// [`flush`](BlockDisk::flush) and [`shutdown`](BlockDisk::shutdown), and
/// QueryInformation answers the size.
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
}

impl crate::Device {
    /// The disk this device runs, if it is a [`DiskDriver`] of a `D`.
    pub fn disk<D: BlockDisk>(&self) -> Option<&D> {
        self.driver_as::<DiskDriver<D>>().map(DiskDriver::disk)
    }
}
