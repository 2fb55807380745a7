//! `IRP_MJ_SHUTDOWN` (fastfat's `shutdown.c`): the system is stopping. On a read-write
//! mount the volume is unmounted cleanly first — the journal committed and checkpointed,
//! unlinked files still open freed, `needs_recovery` cleared — so `e2fsck -fn` finds it
//! clean; later opens fail with `STATUS_VOLUME_DISMOUNTED`, and later changes through
//! handles still open too. The shutdown always goes below (the caches under the file system
//! write back then), also when the unmount failed, and completes with the first failure. It
//! may arrive more than once: only the first unmounts.

use irp::{Completion, InvokeOn, Irp, Status};

use super::{Vcb, forward};

pub(crate) fn dispatch(vcb: &Vcb, mut irp: Irp) -> Status {
    let first = vcb.mark_shut_down();
    if !first {
        return forward(vcb, irp);
    }
    tracing::debug!(device = vcb.name(), open_inodes = vcb.fcbs().len(), "shutdown");
    let unmounted = match vcb.backend().mutations() {
        Some(m) if !vcb.is_read_only() => m.shutdown(),
        _ => Ok(()),
    };
    let Err(f) = unmounted else { return forward(vcb, irp) };
    tracing::error!(device = vcb.name(), status = %f.status, "unmount at shutdown failed: {}", f.detail);
    irp.copy_current_location_to_next();
    irp.set_completion_fn(InvokeOn::ALWAYS, move |mut irp| {
        if !irp.io_status().status.is_error() {
            irp.set_status(f.status);
        }
        Completion::Continue(irp)
    });
    vcb.lower().call(irp)
}
