//! Block requests decoded from IRPs, and what a disk reports about itself.

use crate::{InformationClass, Irp, Mdl, Parameters, RequestFlags, Status};

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

impl DiskInfo {
    /// Answers `QueryInformation(Standard)` with the disk size; any other class is
    /// `STATUS_INVALID_PARAMETER`.
    pub fn query_information(&self, irp: Irp) -> Status {
        match irp.parameters() {
            Parameters::Information { class: InformationClass::Standard, .. } => {
                irp.complete_with(Status::SUCCESS, self.size)
            }
            _ => irp.complete(Status::INVALID_PARAMETER),
        }
    }
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
                may_unmap: irp.current_location().flags.contains(RequestFlags::MAY_UNMAP),
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
            let have = irp.mdl().map_or(0, Mdl::byte_count);
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
