//! `IRP_MJ_SET_INFORMATION` (fastfat's `fileinfo.c`): what a set changes, by class.
//!
//! - `FileEndOfFileInformation`: truncate or extend (sparse) to the size; needs write
//!   access (`STATUS_ACCESS_DENIED` first, as NT checks the handle before the volume).
//! - `FileAllocationInformation`: below the size, truncate to it (as NT); above,
//!   preallocate up to it, the size kept (`FALLOC_FL_KEEP_SIZE`); needs write access.
//! - `FileBasicInformation`: the times (atime, mtime, creation; ctime becomes now whatever
//!   is asked, as POSIX) and `FILE_ATTRIBUTE_READONLY` (clears every write bit; clearing it
//!   gives the owner write permission back). Needs `FILE_WRITE_ATTRIBUTES`, and to own the
//!   file, except that setting times to now needs only write permission (`utimensat`).
//! - irpstack's POSIX class: mode (the owner, or root; the set-group-id bit goes unless the
//!   caller is in the file's group), owner (root only) and group (root, or the owner to a
//!   group it is in); a change of owner or group of a non-directory clears the set-user-id
//!   and set-group-id bits, as Linux. Needs `FILE_WRITE_ATTRIBUTES`.
//! - rename and link: `rename.rs`.
//! - `FileDispositionInformation`: the file is deleted when its last handle is cleaned up
//!   (`delete` false cancels); `FileDispositionInformationEx` with POSIX semantics: its name
//!   goes when this handle is cleaned up. Both need `DELETE` access, the right to remove the
//!   name, and an empty directory.
//!
//! On a read-only mount every set completes with `STATUS_MEDIA_WRITE_PROTECTED`.

use irp::file::{BasicChanges, FileAttributes, FileTime, PosixChanges, SetFileInformation, TimeChange};
use irp::{Access, FileObject, Irp, Parameters, Status};

use super::access::{Want, owns, permitted};
use super::backend::{Mutations, TimeChanges};
use super::ccb::Ccb;
use super::create::check_delete;
use super::fcb::Fcb;
use super::{Failure, Vcb, file_object, finish, forward, rename};
use crate::filesystem::Timestamp;
use crate::ondisk::inode::Inode;

const SETUID: u32 = 0o4000;
const SETGID: u32 = 0o2000;
const WRITE_BITS: u32 = 0o222;

pub(crate) fn dispatch(vcb: &Vcb, irp: Irp) -> Status {
    let file = file_object(&irp);
    let Some((file, ccb)) = file.as_deref().and_then(|f| Some((f, f.context::<Ccb>()?))) else {
        return forward(vcb, irp);
    };
    let Parameters::SetFile(info) = irp.parameters() else {
        return finish(vcb, irp, Err(Failure::new(Status::INVALID_PARAMETER, "a set without a class")));
    };
    let result = set(vcb, file, ccb, info);
    finish(vcb, irp, result)
}

fn set(vcb: &Vcb, file: &FileObject, ccb: &Ccb, info: &SetFileInformation) -> Result<u64, Failure> {
    let Some(fcb) = ccb.fcb() else {
        return Err(Failure::new(Status::INVALID_PARAMETER, format!("{:?} of the volume", info.class())));
    };
    let ino = fcb.ino();
    let sizes = matches!(info, SetFileInformation::EndOfFile(_) | SetFileInformation::Allocation(_));
    if sizes && !ccb.access.can_write() {
        return Err(Failure::new(Status::ACCESS_DENIED, format!("{:?} without write access", info.class())));
    }
    let m = vcb.mutations(&format!("{:?} of inode {ino}", info.class()))?;
    let who = file.credentials();
    let inode = vcb.inode_of(fcb)?;
    if sizes && !inode.is_regular() {
        return Err(Failure::new(
            Status::INVALID_PARAMETER,
            format!("{:?} of inode {ino} (mode {:o})", info.class(), inode.mode),
        ));
    }
    match info {
        SetFileInformation::EndOfFile(size) => m.truncate(ino, *size)?,
        SetFileInformation::Allocation(bytes) => {
            if *bytes < inode.size {
                m.truncate(ino, *bytes)?;
            } else if *bytes > inode.size {
                let keep = irp::file::AllocateMode::KEEP_SIZE;
                m.allocate(ino, inode.size, bytes - inode.size, keep)?;
            }
        }
        SetFileInformation::Basic(changes) => {
            need_write_attributes(ccb, ino)?;
            set_basic(m, who, ino, &inode, changes)?;
        }
        SetFileInformation::Posix(changes) => {
            need_write_attributes(ccb, ino)?;
            set_posix(m, who, ino, &inode, changes)?;
        }
        SetFileInformation::Rename(change) => rename::rename(vcb, who, ccb, fcb, change)?,
        SetFileInformation::Link(change) => rename::link(vcb, who, fcb, change)?,
        SetFileInformation::Disposition { delete } => {
            disposition(vcb, who, ccb, fcb, &inode, *delete, false)?
        }
        SetFileInformation::DispositionEx { delete, posix_semantics } => {
            disposition(vcb, who, ccb, fcb, &inode, *delete, *posix_semantics)?
        }
        other => {
            return Err(Failure::new(Status::INVALID_PARAMETER, format!("set of class {:?}", other.class())));
        }
    }
    Ok(0)
}

fn need_write_attributes(ccb: &Ccb, ino: u32) -> Result<(), Failure> {
    if ccb.access.contains(Access::WRITE_ATTRIBUTES) {
        return Ok(());
    }
    Err(Failure::new(Status::ACCESS_DENIED, format!("changing inode {ino} without FILE_WRITE_ATTRIBUTES")))
}

fn denied(ino: u32, what: &str, who: &irp::file::Credentials) -> Failure {
    Failure::new(Status::ACCESS_DENIED, format!("{what} of inode {ino}: not permitted for uid {}", who.uid))
}

fn timestamp(t: FileTime) -> Timestamp {
    Timestamp { secs: t.secs, nanos: t.nanos }
}

fn set_basic(
    m: &dyn Mutations,
    who: &irp::file::Credentials,
    ino: u32,
    inode: &Inode,
    c: &BasicChanges,
) -> Result<(), Failure> {
    let now = FileTime::now();
    let mut explicit = false;
    let mut pick = |t: TimeChange| match t {
        TimeChange::Keep => None,
        TimeChange::Now => Some(timestamp(now)),
        TimeChange::Set(t) => {
            explicit = true;
            Some(timestamp(t))
        }
    };
    let times = TimeChanges {
        atime: pick(c.last_access_time),
        mtime: pick(c.last_write_time),
        crtime: pick(c.creation_time),
    };
    let any_time = times.atime.is_some() || times.mtime.is_some() || times.crtime.is_some();
    if any_time {
        let may = owns(inode, who) || (!explicit && permitted(inode, who, Want::of(Access::WRITE)));
        if !may {
            return Err(denied(ino, "setting times", who));
        }
    }
    let mode = u32::from(inode.mode) & 0o7777;
    let new_mode = c.file_attributes.map(|a| {
        if a.0 & FileAttributes::READONLY.0 != 0 {
            mode & !WRITE_BITS
        } else if mode & WRITE_BITS == 0 {
            mode | 0o200
        } else {
            mode
        }
    });
    let new_mode = new_mode.filter(|&n| n != mode);
    if new_mode.is_some() && !owns(inode, who) {
        return Err(denied(ino, "changing attributes", who));
    }
    if any_time {
        m.set_times(ino, &times)?;
    }
    if let Some(mode) = new_mode {
        m.set_posix(ino, &PosixChanges { mode: Some(mode), uid: None, gid: None })?;
    }
    Ok(())
}

fn set_posix(
    m: &dyn Mutations,
    who: &irp::file::Credentials,
    ino: u32,
    inode: &Inode,
    c: &PosixChanges,
) -> Result<(), Failure> {
    let uid_changes = c.uid.is_some_and(|u| u != inode.uid);
    let gid_changes = c.gid.is_some_and(|g| g != inode.gid);
    if uid_changes && !who.is_root() {
        return Err(denied(ino, "changing the owner", who));
    }
    if gid_changes && !(who.is_root() || (who.uid == inode.uid && c.gid.is_some_and(|g| who.in_group(g)))) {
        return Err(denied(ino, "changing the group", who));
    }
    let mut mode = c.mode.map(|m| m & 0o7777);
    if let Some(m) = &mut mode {
        if !owns(inode, who) {
            return Err(denied(ino, "changing the mode", who));
        }
        let group = c.gid.unwrap_or(inode.gid);
        if !who.is_root() && !who.in_group(group) {
            *m &= !SETGID;
        }
    }
    if (uid_changes || gid_changes) && mode.is_none() && !inode.is_dir() {
        let old = u32::from(inode.mode) & 0o7777;
        // Set-group-id without group execute is mandatory locking, not privilege: kept.
        let kill = SETUID | if old & 0o010 != 0 { SETGID } else { 0 };
        if old & kill != 0 {
            mode = Some(old & !kill);
        }
    }
    m.set_posix(ino, &PosixChanges { mode, uid: c.uid, gid: c.gid })
}

/// Sets or cancels the deletion of the file: NT's (at the last cleanup) or POSIX's (at
/// this handle's cleanup).
fn disposition(
    vcb: &Vcb,
    who: &irp::file::Credentials,
    ccb: &Ccb,
    fcb: &Fcb,
    inode: &Inode,
    delete: bool,
    posix: bool,
) -> Result<(), Failure> {
    if !delete {
        if posix {
            ccb.set_posix_delete(false);
        } else {
            fcb.state().delete_pending = None;
        }
        return Ok(());
    }
    let link = ccb.link();
    check_delete(vcb, who, ccb.access, fcb.ino(), inode, link.as_ref())?;
    if posix {
        ccb.set_posix_delete(true);
    } else {
        fcb.state().delete_pending = link;
    }
    Ok(())
}
