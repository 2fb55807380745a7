//! `IRP_MJ_CLEANUP` (fastfat's `cleanup.c`): the last handle of a file object was closed.
//! The FCB counts one handle fewer; with the write path, this is where a delete-pending
//! name is removed when its last handle goes, and where write errors not yet reported are.

use irp::{Irp, Status};

use super::ccb::Ccb;
use super::{Vcb, file_object, finish};

pub(crate) fn dispatch(vcb: &Vcb, irp: Irp) -> Status {
    let file = file_object(&irp);
    let Some(ccb) = file.as_deref().and_then(|f| f.context::<Ccb>()) else {
        // A file object this driver did not open (a raw open of the stack below).
        return finish(vcb, irp, Ok(0));
    };
    if !ccb.mark_cleaned_up() {
        return finish(vcb, irp, Ok(0));
    }
    if let Some(fcb) = ccb.fcb() {
        let left = vcb.fcbs().cleanup(fcb);
        if left == 0 && fcb.state().delete_pending {
            // Only a read-write mount can have set it; the write path unlinks here.
            let what = format!("deleting inode {} at its last cleanup", fcb.ino());
            if let Err(f) = vcb.mutations(&what) {
                return finish(vcb, irp, Err(f));
            }
        }
    }
    finish(vcb, irp, Ok(0))
}
