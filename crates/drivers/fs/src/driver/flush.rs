//! `IRP_MJ_FLUSH_BUFFERS` (fastfat's `flush.c`), under the flush contract: write what is
//! dirty, then forward the flush and complete after the device did.
//!
//! A flush needs write access to its file object (`STATUS_ACCESS_DENIED`, as
//! `NtFlushBuffersFile`); a read-only volume hands out none, and has nothing to write. A
//! flush without a file object (a driver's own) flushes the volume. With the write path, a
//! file's flush is its fsync (`FileDataSyncOnly`: fdatasync) and a directory's or the
//! volume's a full commit. The flush then goes below — except `FileDataOnly` and `NoSync`,
//! which ask for no device sync and complete here, as fastfat completes them.

use irp::file::FileKind;
use irp::{FlushFlags, Irp, Status};

use super::ccb::{Ccb, Target};
use super::{Failure, Vcb, file_object, finish, forward};

pub(crate) fn dispatch(vcb: &Vcb, irp: Irp) -> Status {
    let file = file_object(&irp);
    let ccb = file.as_deref().and_then(|f| f.context::<Ccb>());
    if let Some(ccb) = ccb
        && !ccb.access.can_write()
    {
        return finish(vcb, irp, Err(Failure::new(Status::ACCESS_DENIED, "a flush without write access")));
    }
    let flags = irp.flush_flags();
    if let Err(f) = write_dirty(vcb, ccb.map(|c| &c.target), flags) {
        return finish(vcb, irp, Err(f));
    }
    if flags.syncs_device() { forward(vcb, irp) } else { finish(vcb, irp, Ok(0)) }
}

/// Writes the data and metadata the flush covers (nothing on a read-only mount).
fn write_dirty(vcb: &Vcb, target: Option<&Target>, flags: FlushFlags) -> Result<(), Failure> {
    if vcb.is_read_only() {
        return Ok(());
    }
    let m = vcb.mutations("flush")?;
    match target {
        Some(Target::File(fcb))
            if FileKind::from_mode(u32::from(fcb.state().inode.mode)) != FileKind::Directory =>
        {
            m.fsync(fcb.ino(), flags == FlushFlags::FileDataSyncOnly)
        }
        _ => m.sync(),
    }
}
