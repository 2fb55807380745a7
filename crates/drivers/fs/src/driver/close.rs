//! `IRP_MJ_CLOSE` (fastfat's `close.c`): the file object is going away. Its FCB counts one
//! reference fewer and leaves the volume's table with the last; then the write path counts
//! the inode's close, and an inode whose names are all gone (unlinked while open, on the
//! orphan list meanwhile) is freed. The CCB goes with the file object.

use irp::{Irp, Status};

use super::ccb::Ccb;
use super::{Vcb, file_object, finish};

pub(crate) fn dispatch(vcb: &Vcb, irp: Irp) -> Status {
    let file = file_object(&irp);
    let Some(ccb) = file.as_deref().and_then(|f| f.context::<Ccb>()) else {
        return finish(vcb, irp, Ok(0));
    };
    let mut result = Ok(0);
    if ccb.mark_closed()
        && let Some(fcb) = ccb.fcb()
    {
        if ccb.mark_cleaned_up() {
            // A close without a cleanup before it: count both.
            vcb.fcbs().cleanup(fcb);
        }
        result = vcb.close_fcb(fcb).map(|()| 0);
    }
    finish(vcb, irp, result)
}
