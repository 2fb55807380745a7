//! `IRP_MJ_FLUSH_BUFFERS` (fastfat's `flush.c`), under the flush contract: write what is
//! dirty, then forward the flush and complete after the device did.
//!
//! A flush needs write access to its file object (`STATUS_ACCESS_DENIED`, as
//! `NtFlushBuffersFile`); a read-only volume has nothing to write and only forwards it. On
//! a read-write volume file data is on the device below already (it is written before a
//! write completes), so what a flush adds is the journal and the device sync:
//!
//! | open | none (`fsync`) | `FileDataSyncOnly` | `NoSync` | `FileDataOnly` |
//! |---|---|---|---|---|
//! | file | commit up to its last change, forward | commit if its data needs it (size, blocks; not a time alone), forward | commit up to its last change | nothing |
//! | directory | commit, forward | `STATUS_INVALID_PARAMETER` | commit | nothing |
//! | volume, or no file object | commit, forward | `STATUS_INVALID_PARAMETER` (volume) | commit | nothing |
//!
//! "Commit" is the journal's running transaction (there is one, so a file's commit also
//! makes its directory entry and every earlier change durable); "forward" sends this IRP to
//! the device below and completes it when that did, with its status (`NoSync` and
//! `FileDataOnly` ask for no device sync and complete here, as fastfat completes them).
//!
//! Errors: a failed commit or a failed flush below is recorded in the volume's
//! [`WriteErrors`](super::write_errors::WriteErrors) and returned; a failure recorded since
//! this handle last looked (a flush of another handle, the periodic commit) is returned once
//! to every handle that was open when it happened, even when this flush itself succeeded.
//! So a `FileDataOnly` flush, which writes nothing, is how a front end asks for a handle's
//! deferred write errors without a sync (FUSE's `flush` at every `close`).

use std::sync::Arc;

use irp::file::FileKind;
use irp::{Completion, FileObject, FlushFlags, InvokeOn, Irp, Status};

use super::ccb::{Ccb, Target};
use super::write_errors::WriteErrors;
use super::{Failure, Vcb, file_object, finish, forward};

pub(crate) fn dispatch(vcb: &Vcb, mut irp: Irp) -> Status {
    let file = file_object(&irp);
    let ccb = file.as_deref().and_then(|f| f.context::<Ccb>());
    if let Some(ccb) = ccb
        && !ccb.access.can_write()
    {
        return finish(vcb, irp, Err(Failure::new(Status::ACCESS_DENIED, "a flush without write access")));
    }
    let flags = irp.flush_flags();
    if vcb.is_read_only() {
        return if flags.syncs_device() { forward(vcb, irp) } else { finish(vcb, irp, Ok(0)) };
    }
    if let Err(f) = write_dirty(vcb, ccb.map(|c| &c.target), flags) {
        // The write path's failures to reach storage (device, journal) are these two.
        if matches!(f.status, Status::IO_DEVICE_ERROR | Status::DISK_FULL) {
            vcb.write_errors().record(f.status);
        }
        if let Some(ccb) = ccb {
            vcb.write_errors().check_and_advance(&ccb.errors_seen);
        }
        return finish(vcb, irp, Err(f));
    }
    if !flags.syncs_device() {
        let unseen = ccb.and_then(|c| vcb.write_errors().check_and_advance(&c.errors_seen));
        let result =
            unseen.map_or(Ok(0), |s| Err(Failure::new(s, "a write-back failed since the last flush")));
        return finish(vcb, irp, result);
    }
    // Forward, and look at the outcome on the way up.
    irp.copy_current_location_to_next();
    let errors = Arc::clone(vcb.write_errors());
    irp.set_completion_fn(InvokeOn::ALWAYS, move |irp| completed(irp, &errors, file));
    vcb.lower().call(irp)
}

/// The flush below completed: record its failure; report one this handle has not seen.
fn completed(mut irp: Irp, errors: &WriteErrors, file: Option<Arc<FileObject>>) -> Completion {
    let status = irp.io_status().status;
    if status.is_error() && status != Status::INVALID_DEVICE_REQUEST {
        tracing::warn!(%status, "a flush below the file system failed");
        errors.record(status);
    }
    if let Some(ccb) = file.as_deref().and_then(|f| f.context::<Ccb>())
        && let Some(unseen) = errors.check_and_advance(&ccb.errors_seen)
        && !status.is_error()
    {
        irp.set_status(unseen);
    }
    Completion::Continue(irp)
}

/// Writes the metadata the flush covers (its data is below already).
fn write_dirty(vcb: &Vcb, target: Option<&Target>, flags: FlushFlags) -> Result<(), Failure> {
    if flags == FlushFlags::FileDataOnly {
        return Ok(());
    }
    let m = vcb.mutations("flush")?;
    match target {
        Some(Target::File(fcb)) => {
            let kind = FileKind::from_mode(u32::from(vcb.inode_of(fcb)?.mode));
            if kind != FileKind::Directory {
                return m.fsync(fcb.ino(), flags == FlushFlags::FileDataSyncOnly);
            }
            if flags == FlushFlags::FileDataSyncOnly {
                return Err(Failure::new(
                    Status::INVALID_PARAMETER,
                    "FLUSH_FLAGS_FILE_DATA_SYNC_ONLY of a directory",
                ));
            }
            m.sync()
        }
        Some(Target::Volume) if flags != FlushFlags::Full && flags != FlushFlags::NoSync => {
            Err(Failure::new(Status::INVALID_PARAMETER, format!("{flags:?} of the volume")))
        }
        _ => m.sync(),
    }
}
