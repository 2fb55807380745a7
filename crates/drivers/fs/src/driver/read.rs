//! `IRP_MJ_READ` (fastfat's `read.c`): a file's data into the IRP's MDL — at any offset and
//! length, holes and unwritten extents as zeroes — or, for a volume open, the device's
//! bytes (the request goes below as it is, as NT's DASD reads do).
//!
//! A read at or past the end of the file is `STATUS_END_OF_FILE`; one that crosses it
//! returns what there is (`IoStatus.Information` bytes). A directory is
//! `STATUS_FILE_IS_A_DIRECTORY`; a symbolic link or a device node, which hold no data to
//! read here, `STATUS_INVALID_PARAMETER`.

use irp::{Access, Irp, Parameters, Status};

use super::ccb::{Ccb, Target};
use super::{Failure, Vcb, file_object, finish, forward};

pub(crate) fn dispatch(vcb: &Vcb, mut irp: Irp) -> Status {
    let file = file_object(&irp);
    let Some(ccb) = file.as_deref().and_then(|f| f.context::<Ccb>()) else {
        return forward(vcb, irp);
    };
    let fcb = match &ccb.target {
        Target::Volume => {
            if !ccb.access.contains(Access::READ) {
                return finish(
                    vcb,
                    irp,
                    Err(Failure::new(Status::ACCESS_DENIED, "reading without read access")),
                );
            }
            return forward(vcb, irp);
        }
        Target::File(fcb) => fcb,
    };
    if !ccb.access.contains(Access::READ) {
        return finish(vcb, irp, Err(Failure::new(Status::ACCESS_DENIED, "reading without read access")));
    }
    let Parameters::Read { offset, length } = *irp.parameters() else {
        return finish(
            vcb,
            irp,
            Err(Failure::new(Status::INVALID_PARAMETER, "a read without read parameters")),
        );
    };
    let ino = fcb.ino();
    let result = (|| {
        let inode = vcb.inode_of(fcb)?;
        if inode.is_dir() {
            return Err(Failure::new(Status::FILE_IS_A_DIRECTORY, format!("reading directory {ino}")));
        }
        if !inode.is_regular() {
            return Err(Failure::new(
                Status::INVALID_PARAMETER,
                format!("reading inode {ino} (mode {:o})", inode.mode),
            ));
        }
        if length == 0 {
            return Ok(0);
        }
        if offset >= inode.size {
            return Err(Failure::new(
                Status::END_OF_FILE,
                format!("reading at {offset} of a {}-byte file", inode.size),
            ));
        }
        let buf = irp
            .mdl_mut()
            .and_then(irp::Mdl::bytes_mut)
            .ok_or_else(|| Failure::new(Status::INVALID_PARAMETER, "a read without a writable MDL"))?;
        let buf = buf.get_mut(..length as usize).ok_or_else(|| {
            Failure::new(Status::INVALID_PARAMETER, format!("an MDL shorter than {length} bytes"))
        })?;
        Ok(vcb.backend().read(ino, &inode, offset, buf)? as u64)
    })();
    finish(vcb, irp, result)
}
