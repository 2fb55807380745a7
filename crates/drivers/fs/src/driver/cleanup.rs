//! `IRP_MJ_CLEANUP` (fastfat's `cleanup.c`): the last handle of a file object was closed.
//!
//! The FCB counts one handle fewer. Names go here: a POSIX delete asked through this open
//! ([`SetFileInformation::DispositionEx`](irp::file::SetFileInformation::DispositionEx))
//! removes its name now, whatever other handles are open (they keep the file, unlinked,
//! until their last close); `FILE_DELETE_ON_CLOSE` marks the file delete-pending; and the
//! last handle of a delete-pending file removes its name (NT's delete). A write-back failure
//! this open has not seen yet is reported here, once (the status a close returns, as a
//! FUSE `flush` or NFS `close` reports deferred write errors).

use irp::file::CreateOptions;
use irp::{Irp, Status};

use super::ccb::Ccb;
use super::fcb::{Fcb, Link};
use super::{Failure, Vcb, file_object, finish};

pub(crate) fn dispatch(vcb: &Vcb, irp: Irp) -> Status {
    let file = file_object(&irp);
    let Some(ccb) = file.as_deref().and_then(|f| f.context::<Ccb>()) else {
        // A file object this driver did not open (a raw open of the stack below).
        return finish(vcb, irp, Ok(0));
    };
    if !ccb.mark_cleaned_up() {
        return finish(vcb, irp, Ok(0));
    }
    let mut result = Ok(0);
    if let Some(fcb) = ccb.fcb() {
        let posix = ccb.posix_delete().then(|| ccb.link()).flatten();
        if ccb.options.contains(CreateOptions::DELETE_ON_CLOSE) {
            let mut s = fcb.state();
            if s.delete_pending.is_none() {
                s.delete_pending = ccb.link();
            }
        }
        let left = vcb.fcbs().cleanup(fcb);
        if let Some(link) = posix {
            result = remove(vcb, fcb, &link).map(|()| 0);
        }
        if left == 0 {
            let pending = fcb.state().delete_pending.take();
            if let Some(link) = pending {
                result = result.and(remove(vcb, fcb, &link).map(|()| 0));
            }
        }
    }
    if result.is_ok()
        && ccb.access.can_write()
        && let Some(status) = vcb.write_errors().check_and_advance(&ccb.errors_seen)
    {
        result = Err(Failure::new(status, "a write-back failed since this handle's last flush"));
    }
    finish(vcb, irp, result)
}

/// Removes `link`, the name `fcb` goes by, if it still names that inode (another request
/// may have renamed or removed it meanwhile: nothing is removed then).
fn remove(vcb: &Vcb, fcb: &Fcb, link: &Link) -> Result<(), Failure> {
    let what = format!("deleting {:?} (inode {}) from directory {}", link.shown(), fcb.ino(), link.dir);
    let m = vcb.mutations(&what)?;
    if vcb.backend().lookup(link.dir, &link.name)? != Some(fcb.ino()) {
        tracing::debug!(device = vcb.name(), "{what}: the name is gone already");
        return Ok(());
    }
    m.unlink(link.dir, &link.name)?;
    tracing::debug!(device = vcb.name(), "{what}: done");
    Ok(())
}
