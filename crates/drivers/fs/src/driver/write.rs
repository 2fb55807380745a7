//! `IRP_MJ_WRITE` (fastfat's `write.c`), and the block-level discard and write-zeroes sent
//! to the file-system device: on a read-only mount every one completes with
//! `STATUS_MEDIA_WRITE_PROTECTED`, logged with the reason. With the write path, a file's
//! write goes to [`Mutations::write`](super::Mutations::write) (a ForceUnitAccess or
//! `WRITE_THROUGH` one followed by its fsync); raw writes under a mounted volume stay
//! refused.

use irp::{Irp, Status};

use super::ccb::{Ccb, Target};
use super::{Failure, Vcb, file_object, finish};

pub(crate) fn dispatch(vcb: &Vcb, irp: Irp) -> Status {
    let major = irp.major_function();
    let file = file_object(&irp);
    let ccb = file.as_deref().and_then(|f| f.context::<Ccb>());
    let result = (|| -> Result<u64, Failure> {
        match ccb {
            Some(c) if !c.access.can_write() => {
                Err(Failure::new(Status::ACCESS_DENIED, format!("{major} without write access")))
            }
            Some(Ccb { target: Target::File(fcb), .. }) => {
                vcb.mutations(&format!("{major} of inode {}", fcb.ino()))?;
                Err(Failure::new(Status::NOT_SUPPORTED, "the write path is not part of this build"))
            }
            Some(_) | None => {
                vcb.mutations(&format!("{major} of the raw volume"))?;
                Err(Failure::new(Status::ACCESS_DENIED, "raw writes under a mounted volume"))
            }
        }
    })();
    finish(vcb, irp, result)
}
