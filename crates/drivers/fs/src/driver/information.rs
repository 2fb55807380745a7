//! `IRP_MJ_QUERY_INFORMATION` (fastfat's `fileinfo.c`; the sets are in `set_information.rs`).
//!
//! Queries answer the basic, standard and stat classes from the inode as it is now, in the
//! system buffer ([`FileInformation::encode`]); a standard query also completes with the
//! size in `IoStatus.Information`, and says whether the file is delete-pending. A volume
//! open's queries go to the device below (its size).

use irp::file::{FileInformation, FileStatInformation, FileTime};
use irp::{InformationClass, Irp, Parameters, Status};

use super::ccb::{Ccb, Target};
use super::{Failure, Vcb, file_object, finish, forward};
use crate::ondisk::inode::{Inode, Timestamp, mode};

pub(crate) fn query(vcb: &Vcb, mut irp: Irp) -> Status {
    let file = file_object(&irp);
    let Some(Ccb { target: Target::File(fcb), .. }) = file.as_deref().and_then(|f| f.context::<Ccb>()) else {
        return forward(vcb, irp);
    };
    let Parameters::Information { class, .. } = *irp.parameters() else {
        return finish(vcb, irp, Err(Failure::new(Status::INVALID_PARAMETER, "a query without a class")));
    };
    let inode = match vcb.inode_of(fcb) {
        Ok(i) => i,
        Err(f) => return finish(vcb, irp, Err(f)),
    };
    let delete_pending = fcb.state().delete_pending.is_some();
    let stat = stat_of(vcb, fcb.ino(), &inode);
    let info = match class {
        InformationClass::Basic => FileInformation::Basic(stat.basic()),
        InformationClass::Standard => FileInformation::Standard(stat.standard(delete_pending)),
        InformationClass::Stat => FileInformation::Stat(stat),
        other => {
            return finish(
                vcb,
                irp,
                Err(Failure::new(Status::INVALID_PARAMETER, format!("query of class {other:?}"))),
            );
        }
    };
    *irp.system_buffer_mut() = info.encode();
    let information = if class == InformationClass::Standard { stat.size } else { 0 };
    finish(vcb, irp, Ok(information))
}

fn time(t: Timestamp) -> FileTime {
    FileTime::new(t.secs, t.nanos)
}

/// What `stat` reports for inode `ino`.
pub(crate) fn stat_of(vcb: &Vcb, ino: u32, inode: &Inode) -> FileStatInformation {
    let (rdev_major, rdev_minor) = device_number(inode);
    FileStatInformation {
        ino: u64::from(ino),
        mode: u32::from(inode.mode),
        nlink: u32::from(inode.links_count),
        uid: inode.uid,
        gid: inode.gid,
        rdev_major,
        rdev_minor,
        size: inode.size,
        blocks: vcb.backend().blocks_512(inode),
        block_size: vcb.backend().block_size(),
        atime: time(inode.atime()),
        mtime: time(inode.mtime()),
        ctime: time(inode.ctime()),
        btime: time(inode.crtime()),
    }
}

/// A device file's number, as ext4 keeps it in `i_block`: the old 16-bit form in word 0,
/// or the new 32-bit form in word 1 (the kernel's `old_decode_dev` / `new_decode_dev`).
fn device_number(inode: &Inode) -> (u32, u32) {
    let t = inode.mode & mode::S_IFMT;
    if t != mode::S_IFCHR && t != mode::S_IFBLK {
        return (0, 0);
    }
    let word = |i: usize| crate::ondisk::inode::i_block_word(&inode.block, i);
    let old = word(0);
    if old != 0 {
        return ((old >> 8) & 0xff, old & 0xff);
    }
    let new = word(1);
    ((new & 0xfff00) >> 8, (new & 0xff) | ((new >> 12) & 0xfff00))
}
