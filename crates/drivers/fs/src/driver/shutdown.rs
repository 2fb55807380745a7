//! `IRP_MJ_SHUTDOWN` (fastfat's `shutdown.c`): the system is stopping. Later opens fail
//! with `STATUS_VOLUME_DISMOUNTED`; with the write path, the journal is committed and
//! checkpointed and the volume marked clean first. The shutdown always goes below (the
//! caches under the file system write back then), and its status is the device's, so a
//! failed write-back is not lost. It may arrive more than once.

use irp::{Irp, Status};

use super::{Vcb, finish, forward};

pub(crate) fn dispatch(vcb: &Vcb, irp: Irp) -> Status {
    let first = vcb.mark_shut_down();
    if first && !vcb.is_read_only() {
        let result = vcb.mutations("shutdown").and_then(|m| m.shutdown());
        if let Err(f) = result {
            return finish(vcb, irp, Err(f));
        }
    }
    if first {
        tracing::debug!(device = vcb.name(), open_inodes = vcb.fcbs().len(), "shutdown");
    }
    forward(vcb, irp)
}
