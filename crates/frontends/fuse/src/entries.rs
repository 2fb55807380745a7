//! Finding and describing inodes: `lookup` (an open by name, then the stat class), `forget`,
//! `getattr`, `setattr` (SetInformation: POSIX mode and owner, end of file, times),
//! `readlink` (`FSCTL_GET_REPARSE_POINT`) and `access`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use fuser::{Errno, FileAttr, FileHandle, INodeNo, Request, TimeOrNow};
use irp::file::{
    BasicChanges, CreateOptions, CreateRequest, FileKind, FileStatInformation, PosixChanges, TimeChange,
};
use irp::{Access, Handle, Status};

use crate::attr::{file_attr, file_time};
use crate::caller::credentials;
use crate::errno::{self, Op};
use crate::filesystem::IrpFs;

/// What `setattr` asks to change.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttrChanges {
    /// New permission bits (`chmod`).
    pub mode: Option<u32>,
    /// New owner (`chown`).
    pub uid: Option<u32>,
    /// New group (`chown`).
    pub gid: Option<u32>,
    /// New size (`truncate`).
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<TimeOrNow>,
    /// New modification time.
    pub mtime: Option<TimeOrNow>,
}

fn time_change(t: Option<TimeOrNow>) -> TimeChange {
    match t {
        None => TimeChange::Keep,
        Some(TimeOrNow::Now) => TimeChange::Now,
        Some(TimeOrNow::SpecificTime(t)) => TimeChange::Set(file_time(t)),
    }
}

impl IrpFs {
    /// Counts a reply that hands inode `st.ino`, named `name` in `parent`, to the kernel.
    pub(crate) fn hand_out(&self, st: &FileStatInformation, parent: u64, name: &[u8]) -> FileAttr {
        self.nodes.looked_up(st.ino, st.kind() == FileKind::Directory, parent, name);
        file_attr(st)
    }

    /// `lookup`: opens `name` in `parent` for its attributes (a final symbolic link itself),
    /// as the caller — search permission on the way is the file system's to check.
    pub(crate) fn lookup_entry(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
    ) -> Result<FileAttr, Errno> {
        let entry = self.entry_path(parent, name)?;
        let request = CreateRequest::open(entry.path.clone(), Access::READ_ATTRIBUTES)
            .options(CreateOptions::OPEN_REPARSE_POINT)
            .credentials(credentials(req));
        let st = self.create(&request).and_then(|h| h.query_stat()).map_err(errno::of)?;
        Ok(self.hand_out(&st, entry.dir, name.as_bytes()))
    }

    /// `forget`: the kernel dropped `n` lookups of `node`.
    pub(crate) fn forget_node(&self, node: INodeNo, n: u64) {
        if let Ok(ino) = self.ino(node) {
            self.nodes.forget(ino, n);
        }
    }

    /// The stat class of inode `ino` (through the open `fh` when there is one).
    pub(crate) fn stat(
        &self,
        req: &Request,
        ino: u64,
        fh: Option<FileHandle>,
    ) -> Result<FileStatInformation, Status> {
        if let Some(open) = fh.and_then(|fh| self.opens.get(fh.0)) {
            return open.handle.query_stat();
        }
        let who = irp::file::Credentials::user(req.uid(), req.gid());
        self.open_ino(ino, Access::READ_ATTRIBUTES, CreateOptions::NONE, who)?.query_stat()
    }

    /// `getattr`.
    pub(crate) fn get_attr(
        &self,
        req: &Request,
        node: INodeNo,
        fh: Option<FileHandle>,
    ) -> Result<FileAttr, Errno> {
        let ino = self.ino(node)?;
        self.stat(req, ino, fh).map(|st| file_attr(&st)).map_err(errno::of)
    }

    /// `setattr`: `chmod`/`chown` (the POSIX class), `truncate` (end of file, through the
    /// open when it may write), `utimensat` (the basic class). One handle with the access
    /// the changes need, opened as the caller.
    pub(crate) fn set_attr(
        &self,
        req: &Request,
        node: INodeNo,
        fh: Option<FileHandle>,
        c: &AttrChanges,
    ) -> Result<FileAttr, Errno> {
        let ino = self.ino(node)?;
        let who = credentials(req);
        let open = fh.and_then(|fh| self.opens.get(fh.0));
        let mut access = Access::WRITE_ATTRIBUTES;
        let size_by_open = c.size.is_some() && open.as_ref().is_some_and(|o| o.handle.access().can_write());
        if c.size.is_some() && !size_by_open {
            access = access | Access::WRITE;
        }
        let handle: Handle = self.open_ino(ino, access, CreateOptions::NONE, who).map_err(errno::of)?;
        if c.mode.is_some() || c.uid.is_some() || c.gid.is_some() {
            let changes = PosixChanges { mode: c.mode.map(|m| m & 0o7777), uid: c.uid, gid: c.gid };
            handle.set_posix(changes).map_err(|s| errno::errno(s, Op::ChangeAttributes))?;
        }
        if let Some(size) = c.size {
            let on = match &open {
                Some(o) if size_by_open => &o.handle,
                _ => &handle,
            };
            on.set_end_of_file(size).map_err(errno::of)?;
        }
        if c.atime.is_some() || c.mtime.is_some() {
            let changes = BasicChanges {
                last_access_time: time_change(c.atime),
                last_write_time: time_change(c.mtime),
                ..BasicChanges::default()
            };
            handle.set_basic(changes).map_err(|s| errno::errno(s, Op::ChangeAttributes))?;
        }
        handle.query_stat().map(|st| file_attr(&st)).map_err(errno::of)
    }

    /// `readlink`.
    pub(crate) fn read_link(&self, req: &Request, node: INodeNo) -> Result<Vec<u8>, Errno> {
        let ino = self.ino(node)?;
        let who = irp::file::Credentials::user(req.uid(), req.gid());
        let h = self.open_ino(ino, Access::READ_ATTRIBUTES, CreateOptions::NONE, who).map_err(errno::of)?;
        h.read_link().map_err(errno::of)
    }

    /// `access(2)` without `default_permissions`: the mode bits against the caller, as the
    /// file system checks them at open (root passes read and write, and execute when any
    /// execute bit is set), and `EROFS` for a write on a read-only volume.
    pub(crate) fn check_access(&self, req: &Request, node: INodeNo, mask: i32) -> Result<(), Errno> {
        let ino = self.ino(node)?;
        let st = self.stat(req, ino, None).map_err(errno::of)?;
        if mask == libc::F_OK {
            return Ok(());
        }
        if mask & libc::W_OK != 0 && self.read_only {
            return Err(Errno::EROFS);
        }
        let who = credentials(req);
        let want = (if mask & libc::R_OK != 0 { 4 } else { 0 })
            | (if mask & libc::W_OK != 0 { 2 } else { 0 })
            | (if mask & libc::X_OK != 0 { 1 } else { 0 });
        let granted = if who.is_root() {
            let x = st.kind() == FileKind::Directory || st.mode & 0o111 != 0;
            6 | u32::from(x)
        } else if who.uid == st.uid {
            (st.mode >> 6) & 7
        } else if who.in_group(st.gid) {
            (st.mode >> 3) & 7
        } else {
            st.mode & 7
        };
        if granted & want == want { Ok(()) } else { Err(Errno::EACCES) }
    }
}
