//! `IRP_MJ_WRITE` (fastfat's `write.c`), and discard and write-zeroes of a file.
//!
//! A write of a file puts the MDL's bytes at the offset (allocating what the file lacks,
//! extending it), written to the device below before it completes (ordered data: before the
//! commit that points at it); `IoStatus.Information` is the bytes written, fewer only when
//! the volume filled part-way (`STATUS_DISK_FULL` if nothing fit). A handle with
//! `FILE_APPEND_DATA` but not `FILE_WRITE_DATA`, or the offset
//! [`WRITE_TO_END_OF_FILE`], writes at the end of the file, atomically. A ForceUnitAccess
//! write, and every write of a handle opened with `FILE_WRITE_THROUGH` (`O_SYNC`), is the
//! file's fsync before it completes: the journal up to its last change, then a flush of the
//! device below (a failure of that flush is recorded as a failed write-back).
//!
//! Discard and write-zeroes of a file deallocate the range (`FALLOC_FL_PUNCH_HOLE`, the
//! size kept): it reads as zeros. Raw writes under a mounted volume are refused
//! (`STATUS_ACCESS_DENIED`), and on a read-only mount everything here is
//! `STATUS_MEDIA_WRITE_PROTECTED`, logged with the reason.

use irp::block::lower;
use irp::file::{AllocateMode, CreateOptions, WRITE_TO_END_OF_FILE};
use irp::{Access, FlushFlags, Irp, MajorFunction, Parameters, Status};

use super::ccb::{Ccb, Target};
use super::fcb::Fcb;
use super::{Failure, Vcb, file_object, finish};

pub(crate) fn dispatch(vcb: &Vcb, irp: Irp) -> Status {
    let major = irp.major_function();
    let file = file_object(&irp);
    let ccb = file.as_deref().and_then(|f| f.context::<Ccb>());
    let result = match ccb {
        Some(c) if !c.access.can_write() => {
            Err(Failure::new(Status::ACCESS_DENIED, format!("{major} without write access")))
        }
        Some(c @ Ccb { target: Target::File(fcb), .. }) => match major {
            MajorFunction::Write => write_file(vcb, c, fcb, &irp),
            _ => zero_range(vcb, fcb, &irp),
        },
        Some(_) | None => vcb
            .mutations(&format!("{major} of the raw volume"))
            .and_then(|_| Err(Failure::new(Status::ACCESS_DENIED, "raw writes under a mounted volume"))),
    };
    finish(vcb, irp, result)
}

fn write_file(vcb: &Vcb, ccb: &Ccb, fcb: &Fcb, irp: &Irp) -> Result<u64, Failure> {
    let ino = fcb.ino();
    let m = vcb.mutations(&format!("writing inode {ino}"))?;
    let Parameters::Write { offset, length } = *irp.parameters() else {
        return Err(Failure::new(Status::INVALID_PARAMETER, "a write without write parameters"));
    };
    let inode = vcb.inode_of(fcb)?;
    if inode.is_dir() {
        return Err(Failure::new(Status::FILE_IS_A_DIRECTORY, format!("writing directory {ino}")));
    }
    if !inode.is_regular() {
        return Err(Failure::new(
            Status::INVALID_PARAMETER,
            format!("writing inode {ino} (mode {:o})", inode.mode),
        ));
    }
    if length == 0 {
        return Ok(0);
    }
    let data = irp.mdl().map(irp::Mdl::bytes).and_then(|b| b.get(..length as usize)).ok_or_else(|| {
        Failure::new(Status::INVALID_PARAMETER, format!("a write without {length} bytes of MDL"))
    })?;
    let append = offset == WRITE_TO_END_OF_FILE || !ccb.access.contains(Access::WRITE);
    let written = if append { m.append(ino, data)?.1 } else { m.write(ino, offset, data)? };
    let through = irp.is_force_unit_access() || ccb.options.contains(CreateOptions::WRITE_THROUGH);
    if through {
        write_through(vcb, ccb, ino)?;
    }
    Ok(written as u64)
}

/// A write-through write's fsync: the journal up to the file's last change, then the
/// device below flushed (`FatHijackIrpAndFlushDevice`'s job, with a request of our own).
fn write_through(vcb: &Vcb, ccb: &Ccb, ino: u32) -> Result<(), Failure> {
    let m = vcb.mutations("write-through")?;
    let synced = m.fsync(ino, false).and_then(|()| {
        lower::flush(vcb.lower(), FlushFlags::Full).ok().map_err(|s| {
            Failure::new(s, format!("flushing {} for a write-through write", vcb.lower().name()))
        })
    });
    if let Err(f) = &synced {
        vcb.write_errors().record(f.status);
        // This handle is told now: it does not see the failure again.
        vcb.write_errors().check_and_advance(&ccb.errors_seen);
    }
    synced
}

/// Discard or write-zeroes of a range of the file: a hole punched, the size kept.
fn zero_range(vcb: &Vcb, fcb: &Fcb, irp: &Irp) -> Result<u64, Failure> {
    let ino = fcb.ino();
    let major = irp.major_function();
    let m = vcb.mutations(&format!("{major} of inode {ino}"))?;
    let (offset, length) = match *irp.parameters() {
        Parameters::Discard { offset, length } | Parameters::WriteZeroes { offset, length } => {
            (offset, length)
        }
        _ => return Err(Failure::new(Status::INVALID_PARAMETER, format!("{major} without a range"))),
    };
    if !vcb.inode_of(fcb)?.is_regular() {
        return Err(Failure::new(Status::INVALID_PARAMETER, format!("{major} of inode {ino}, not a file")));
    }
    m.allocate(ino, offset, length, AllocateMode::PUNCH_HOLE | AllocateMode::KEEP_SIZE)?;
    Ok(0)
}
