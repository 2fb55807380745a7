//! The file-system controls that change the volume (called from `fsctl.rs`, which answers
//! the reading ones):
//!
//! - `CreateSymlink`, `MakeNode`: a new name in the directory the handle opened (write and
//!   search permission on it; device files need root, as `CAP_MKNOD`), owned by the caller,
//!   in the directory's group when it is set-group-id;
//! - `SetXattr`, `RemoveXattr`: need `FILE_WRITE_EA` on the handle, and what Linux asks:
//!   `user.` write permission on a regular file or directory (in a sticky directory, its
//!   owner), `system.` (ACLs) the owner, `trusted.` and `security.` root;
//! - `Allocate` (`fallocate`): a regular file opened for writing; modes: preallocate
//!   (extending the size, or with `KEEP_SIZE` not), `PUNCH_HOLE | KEEP_SIZE`, `ZERO_RANGE`
//!   (with or without `KEEP_SIZE`); collapse and insert are `STATUS_NOT_SUPPORTED`.

use irp::file::{FileKind, FsControl};
use irp::{Access, FileObject, Status};

use super::Failure;
use super::Vcb;
use super::access::{Want, may_create, owns, permitted};
use super::backend::Mutations;
use super::ccb::Ccb;
use super::create::new_owner;
use super::fcb::Fcb;
use crate::ondisk::inode::Inode;

/// `S_ISVTX`.
const STICKY: u16 = 0o1000;

pub(crate) fn control(
    vcb: &Vcb,
    m: &dyn Mutations,
    file: &FileObject,
    ccb: &Ccb,
    fcb: &Fcb,
    inode: &Inode,
    control: &FsControl,
) -> Result<(), Failure> {
    let who = file.credentials();
    let ino = fcb.ino();
    let what = super::fsctl::name_of(control);
    let denied = |why: &str| {
        Failure::new(Status::ACCESS_DENIED, format!("{what} of inode {ino}: {why} (uid {})", who.uid))
    };
    match control {
        FsControl::CreateSymlink { name, target } => {
            if !may_create(inode, who) {
                return Err(denied("no write and search permission on the directory"));
            }
            let (gid, _) = new_owner(inode, who, 0o777, FileKind::Symlink);
            let new = m.symlink(ino, name.as_bytes(), target, (who.uid, gid))?;
            tracing::debug!(device = vcb.name(), ino = new, dir = ino, name = %name, "symlink created");
        }
        FsControl::MakeNode { name, kind, mode, rdev_major, rdev_minor } => {
            let device = matches!(kind, FileKind::CharDevice | FileKind::BlockDevice);
            if !device && !matches!(kind, FileKind::Fifo | FileKind::Socket | FileKind::Regular) {
                return Err(Failure::new(Status::INVALID_PARAMETER, format!("mknod of a {kind:?}")));
            }
            if device && !who.is_root() {
                return Err(denied("device files need root"));
            }
            if !may_create(inode, who) {
                return Err(denied("no write and search permission on the directory"));
            }
            let (gid, mode) = new_owner(inode, who, mode & 0o7777, *kind);
            m.create(ino, name.as_bytes(), *kind, mode, (who.uid, gid), (*rdev_major, *rdev_minor))?;
        }
        FsControl::SetXattr { name, value, mode } => {
            xattr_change_allowed(ccb, fcb, inode, who, name)?;
            m.set_xattr(ino, name, value, *mode)?;
        }
        FsControl::RemoveXattr { name } => {
            xattr_change_allowed(ccb, fcb, inode, who, name)?;
            m.remove_xattr(ino, name)?;
        }
        FsControl::Allocate { offset, length, mode } => {
            if inode.is_dir() {
                return Err(Failure::new(
                    Status::FILE_IS_A_DIRECTORY,
                    format!("fallocate of directory {ino}"),
                ));
            }
            if !inode.is_regular() {
                return Err(Failure::new(Status::INVALID_PARAMETER, format!("fallocate of inode {ino}")));
            }
            m.allocate(ino, *offset, *length, *mode)?;
        }
        other => {
            return Err(Failure::new(Status::INVALID_PARAMETER, format!("control {other:?}")));
        }
    }
    Ok(())
}

/// Whether the handle and its caller may change extended attribute `name` of the inode.
fn xattr_change_allowed(
    ccb: &Ccb,
    fcb: &Fcb,
    inode: &Inode,
    who: &irp::file::Credentials,
    name: &[u8],
) -> Result<(), Failure> {
    let ino = fcb.ino();
    let shown = String::from_utf8_lossy(name);
    let denied = |why: &str| {
        Failure::new(
            Status::ACCESS_DENIED,
            format!("changing xattr {shown:?} of inode {ino}: {why} (uid {})", who.uid),
        )
    };
    if !ccb.access.contains(Access::WRITE_EA) {
        return Err(denied("the handle has no FILE_WRITE_EA access"));
    }
    if name.starts_with(b"trusted.") || name.starts_with(b"security.") {
        return if who.is_root() { Ok(()) } else { Err(denied("only root may")) };
    }
    if name.starts_with(b"system.") {
        return if owns(inode, who) { Ok(()) } else { Err(denied("only the owner may")) };
    }
    if name.starts_with(b"user.") {
        if !inode.is_regular() && !inode.is_dir() {
            return Err(denied("user attributes are for files and directories only"));
        }
        if inode.is_dir() && inode.mode & STICKY != 0 && !owns(inode, who) {
            return Err(denied("a sticky directory's user attributes are its owner's"));
        }
        let write = Want { read: false, write: true, execute: false };
        return if permitted(inode, who, write) { Ok(()) } else { Err(denied("no write permission")) };
    }
    Err(Failure::new(Status::NOT_SUPPORTED, format!("xattr namespace of {shown:?}")))
}
