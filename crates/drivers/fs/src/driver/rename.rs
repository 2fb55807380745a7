//! `IRP_MJ_SET_INFORMATION`'s names: `FileRenameInformation` (`rename`) and
//! `FileLinkInformation` (`link`). The target is a path in the volume, resolved without
//! following a final symbolic link.
//!
//! A rename moves the name this handle was opened by, in one transaction (so atomically: a
//! crash leaves the old name or the new one): over an existing file or empty directory
//! when `replace_if_exists` (a replaced file still open stays readable through its handles
//! until their last close, as POSIX), else `STATUS_OBJECT_NAME_COLLISION`; a directory over
//! a non-directory is `STATUS_NOT_A_DIRECTORY`, the reverse `STATUS_FILE_IS_A_DIRECTORY`, a
//! non-empty target directory `STATUS_DIRECTORY_NOT_EMPTY`, a directory into itself
//! `STATUS_INVALID_PARAMETER`, a file whose deletion is pending `STATUS_DELETE_PENDING` (for a
//! link too). It needs `DELETE` access on the handle, the right to remove
//! the name from its directory and to add one to the target directory (and to remove the
//! one it replaces), and write permission on a directory that changes parent (its `..`
//! changes). A link adds a name to a non-directory (`STATUS_FILE_IS_A_DIRECTORY` for a
//! directory), replacing a non-directory there when `replace_if_exists`.

use irp::file::{Credentials, NameChange};
use irp::{Access, Status};

use super::access::{Want, may_create, may_delete, permitted};
use super::ccb::Ccb;
use super::fcb::{Fcb, Link};
use super::path::{Resolved, resolve};
use super::{Failure, Vcb};

/// Where a target path leads: the directory and name, and what the name is now.
fn target(vcb: &Vcb, who: &Credentials, path: &str) -> Result<(Link, Option<u32>), Failure> {
    match resolve(vcb.backend(), who, path, false)? {
        Resolved::Missing { dir, name } => Ok((Link { dir, name }, None)),
        Resolved::Found { ino, link: Some(link), .. } => Ok((link, Some(ino))),
        Resolved::Found { .. } => {
            Err(Failure::new(Status::INVALID_PARAMETER, format!("{path:?} cannot be a new name")))
        }
    }
}

/// The name `ccb` was opened by, if it still names its inode.
fn current_link(vcb: &Vcb, ccb: &Ccb, fcb: &Fcb) -> Result<Link, Failure> {
    let ino = fcb.ino();
    let Some(link) = ccb.link() else {
        return Err(Failure::new(Status::ACCESS_DENIED, format!("inode {ino} was not opened by a name")));
    };
    if vcb.backend().lookup(link.dir, &link.name)? != Some(ino) {
        return Err(Failure::new(
            Status::OBJECT_NAME_NOT_FOUND,
            format!("{:?} in directory {} no longer names inode {ino}", link.shown(), link.dir),
        ));
    }
    Ok(link)
}

/// A file being deleted keeps its name until then: no new one, no move.
fn refuse_if_delete_pending(fcb: &Fcb) -> Result<(), Failure> {
    if fcb.state().delete_pending.is_some() {
        return Err(Failure::new(Status::DELETE_PENDING, format!("inode {} is being deleted", fcb.ino())));
    }
    Ok(())
}

fn denied(what: String, who: &Credentials) -> Failure {
    Failure::new(Status::ACCESS_DENIED, format!("{what}: not permitted for uid {}", who.uid))
}

/// `FileRenameInformation`.
pub(crate) fn rename(
    vcb: &Vcb,
    who: &Credentials,
    ccb: &Ccb,
    fcb: &Fcb,
    change: &NameChange,
) -> Result<(), Failure> {
    let ino = fcb.ino();
    if !ccb.access.contains(Access::DELETE) {
        return Err(Failure::new(
            Status::ACCESS_DENIED,
            format!("renaming inode {ino} without DELETE access"),
        ));
    }
    let m = vcb.mutations(&format!("renaming inode {ino}"))?;
    refuse_if_delete_pending(fcb)?;
    let from = current_link(vcb, ccb, fcb)?;
    let (to, existing) = target(vcb, who, &change.target)?;
    if from == to {
        return Ok(());
    }
    if existing.is_some() && !change.replace_if_exists {
        return Err(Failure::new(Status::OBJECT_NAME_COLLISION, format!("{:?} exists", change.target)));
    }
    let inode = vcb.inode_of(fcb)?;
    let from_dir = vcb.backend().read_inode(from.dir)?;
    if !may_delete(&from_dir, &inode, who) {
        return Err(denied(format!("renaming {:?} out of directory {}", from.shown(), from.dir), who));
    }
    let to_dir = vcb.backend().read_inode(to.dir)?;
    if !may_create(&to_dir, who) {
        return Err(denied(format!("renaming into directory {}", to.dir), who));
    }
    if let Some(victim) = existing.filter(|&v| v != ino) {
        let vi = vcb.backend().read_inode(victim)?;
        if !may_delete(&to_dir, &vi, who) {
            return Err(denied(format!("replacing {:?} in directory {}", to.shown(), to.dir), who));
        }
    }
    let write = Want { read: false, write: true, execute: false };
    if inode.is_dir() && from.dir != to.dir && !permitted(&inode, who, write) {
        return Err(denied(format!("moving directory {ino} to another parent"), who));
    }
    m.rename(from.dir, &from.name, to.dir, &to.name, change.replace_if_exists)?;
    tracing::debug!(device = vcb.name(), ino, from = %from.shown(), to = %to.shown(), "renamed");
    ccb.set_link(to);
    Ok(())
}

/// `FileLinkInformation`.
pub(crate) fn link(vcb: &Vcb, who: &Credentials, fcb: &Fcb, change: &NameChange) -> Result<(), Failure> {
    let ino = fcb.ino();
    let m = vcb.mutations(&format!("linking inode {ino}"))?;
    refuse_if_delete_pending(fcb)?;
    let inode = vcb.inode_of(fcb)?;
    if inode.is_dir() {
        return Err(Failure::new(Status::FILE_IS_A_DIRECTORY, format!("a hard link to directory {ino}")));
    }
    let (to, existing) = target(vcb, who, &change.target)?;
    let to_dir = vcb.backend().read_inode(to.dir)?;
    if !may_create(&to_dir, who) {
        return Err(denied(format!("linking into directory {}", to.dir), who));
    }
    if let Some(e) = existing {
        if !change.replace_if_exists {
            return Err(Failure::new(Status::OBJECT_NAME_COLLISION, format!("{:?} exists", change.target)));
        }
        if e == ino {
            return Ok(());
        }
        let ei = vcb.backend().read_inode(e)?;
        if ei.is_dir() {
            return Err(Failure::new(
                Status::FILE_IS_A_DIRECTORY,
                format!("{:?} is a directory", change.target),
            ));
        }
        if !may_delete(&to_dir, &ei, who) {
            return Err(denied(format!("replacing {:?} in directory {}", to.shown(), to.dir), who));
        }
        m.unlink(to.dir, &to.name)?;
    }
    m.link(ino, to.dir, &to.name)
}
