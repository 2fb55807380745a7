//! Disks: bottom drivers that store data. They share the request decoding here.

pub mod crash;
pub mod file;
pub mod memory;
pub mod pmem;

use irp::{InformationClass, Irp, Parameters, Status};

/// What a disk reports about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// Size in bytes.
    pub size: u64,
    /// Logical sector size in bytes (a power of two).
    pub sector_size: u32,
    /// Whether the disk keeps a volatile write cache (a flush does real work).
    pub volatile_cache: bool,
    /// Whether anything written survives the process at all.
    pub durable: bool,
}

/// A block request decoded from an IRP's current location, range-checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRequest {
    /// Read `length` bytes at `offset` into the IRP's MDL.
    Read {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: usize,
    },
    /// Write `length` bytes of the IRP's MDL at `offset`.
    Write {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: usize,
        /// ForceUnitAccess: durable when it completes.
        fua: bool,
    },
    /// Discard a range.
    Discard {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: u64,
    },
    /// Write zeroes over a range.
    WriteZeroes {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: u64,
        /// May deallocate instead of writing.
        may_unmap: bool,
        /// ForceUnitAccess.
        fua: bool,
    },
}

impl BlockRequest {
    /// Decodes and checks a Read/Write/Discard/WriteZeroes IRP against `info`:
    /// the range must lie inside the disk (`STATUS_END_OF_FILE` for reads past the end,
    /// `STATUS_INVALID_PARAMETER` otherwise), a transfer needs an MDL at least as large
    /// as its length.
    pub fn decode(irp: &Irp, info: &DiskInfo) -> Result<BlockRequest, Status> {
        let fua = irp.is_force_unit_access();
        let request = match *irp.parameters() {
            Parameters::Read { offset, length } => BlockRequest::Read { offset, length: length as usize },
            Parameters::Write { offset, length } => {
                BlockRequest::Write { offset, length: length as usize, fua }
            }
            Parameters::Discard { offset, length } => BlockRequest::Discard { offset, length },
            Parameters::WriteZeroes { offset, length } => BlockRequest::WriteZeroes {
                offset,
                length,
                may_unmap: irp.current_location().flags.contains(irp::RequestFlags::MAY_UNMAP),
                fua,
            },
            _ => return Err(Status::INVALID_PARAMETER),
        };
        let (offset, length) = request.range();
        let end = offset.checked_add(length).ok_or(Status::INVALID_PARAMETER)?;
        if end > info.size {
            return Err(match request {
                BlockRequest::Read { .. } => Status::END_OF_FILE,
                _ => Status::INVALID_PARAMETER,
            });
        }
        if let BlockRequest::Read { length, .. } | BlockRequest::Write { length, .. } = request {
            let have = irp.mdl().map_or(0, irp::Mdl::byte_count);
            if have < length {
                return Err(Status::INVALID_PARAMETER);
            }
        }
        Ok(request)
    }

    /// The byte range `(offset, length)` the request covers.
    pub fn range(&self) -> (u64, u64) {
        match *self {
            BlockRequest::Read { offset, length } | BlockRequest::Write { offset, length, .. } => {
                (offset, length as u64)
            }
            BlockRequest::Discard { offset, length } | BlockRequest::WriteZeroes { offset, length, .. } => {
                (offset, length)
            }
        }
    }
}

/// Answers `QueryInformation(Standard)` with the disk size; anything else is
/// `STATUS_INVALID_PARAMETER`.
pub fn query_information(irp: Irp, info: &DiskInfo) -> Status {
    match irp.parameters() {
        Parameters::Information { class: InformationClass::Standard, .. } => {
            irp.complete_with(Status::SUCCESS, info.size)
        }
        _ => irp.complete(Status::INVALID_PARAMETER),
    }
}

/// Opens, cleanups and closes of a disk need no per-open state: they succeed.
pub fn succeed(irp: Irp) -> Status {
    irp.complete(Status::SUCCESS)
}

/// The requests a disk answers. [`disk_driver!`] writes the disk's `irp::Driver`
/// dispatch table from it, so every disk routes the same major functions the same way.
pub trait BlockDisk {
    /// What the disk reports about itself (`QueryInformation`).
    fn disk_info(&self) -> DiskInfo;
    /// Read, Write, Discard and WriteZeroes.
    fn serve(&self, irp: Irp) -> Status;
    /// FlushBuffers (`syncs_device` from its flags) and Shutdown (always with a sync).
    fn sync(&self, irp: Irp, syncs_device: bool) -> Status;
}

/// Implements `irp::Driver` for a [`BlockDisk`]: Create/Cleanup/Close succeed,
/// transfers go to `serve`, FlushBuffers and Shutdown to `sync`, QueryInformation
/// answers the size.
macro_rules! disk_driver {
    ($disk:ty) => {
        impl irp::Driver for $disk {
            fn create(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                $crate::disk::succeed(irp)
            }
            fn cleanup(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                $crate::disk::succeed(irp)
            }
            fn close(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                $crate::disk::succeed(irp)
            }
            fn read(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                $crate::disk::BlockDisk::serve(self, irp)
            }
            fn write(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                $crate::disk::BlockDisk::serve(self, irp)
            }
            fn discard(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                $crate::disk::BlockDisk::serve(self, irp)
            }
            fn write_zeroes(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                $crate::disk::BlockDisk::serve(self, irp)
            }
            fn flush_buffers(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                let syncs_device = irp.flush_flags().syncs_device();
                $crate::disk::BlockDisk::sync(self, irp, syncs_device)
            }
            fn shutdown(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                $crate::disk::BlockDisk::sync(self, irp, true)
            }
            fn query_information(&self, _: &irp::DeviceRef, irp: irp::Irp) -> irp::Status {
                $crate::disk::query_information(irp, &$crate::disk::BlockDisk::disk_info(self))
            }
        }
    };
}
pub(crate) use disk_driver;
