//! Directories: `opendir` (an open for reading with `FILE_DIRECTORY_FILE`), `readdir` and
//! `readdirplus` (`IRP_MJ_DIRECTORY_CONTROL` queries; the kernel's offset is the index of the
//! last entry it took, `SL_INDEX_SPECIFIED` resumes after it, offset 0 restarts the scan),
//! `releasedir`, `fsyncdir` (a flush of the directory).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Generation, INodeNo, ReplyDirectory, ReplyDirectoryPlus, Request,
};
use irp::file::{CreateOptions, Credentials, DirectoryEntry, FileKind, QueryDirectory};
use irp::{Access, FlushFlags, Status};

use crate::attr::{file_attr, file_type};
use crate::caller::credentials;
use crate::errno::{self, Op};
use crate::filesystem::IrpFs;
use crate::opens::{self, Open};

/// Bytes of entries one directory query returns: about what one kernel readdir request (a
/// page) takes, so that a listing reads each entry about once.
const QUERY_BYTES: u32 = 4096;

/// Whether a name is `.` or `..`, which readdirplus hands out without a lookup.
fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

impl IrpFs {
    /// `opendir`: the caller needs read permission on the directory.
    pub(crate) fn open_dir(&self, req: &Request, node: INodeNo) -> Result<u64, Errno> {
        let ino = self.ino(node)?;
        let handle = self
            .open_ino(ino, Access::READ, CreateOptions::DIRECTORY_FILE, credentials(req))
            .map_err(errno::of)?;
        Ok(self.opens.insert(Open::new(handle, ino)))
    }

    /// Feeds the directory's entries after `offset` to `add` until it says the reply is
    /// full (`true`): each query returns what fits in `size` bytes of our encoding, and the
    /// next resumes where the file object's scan stopped.
    fn list(
        &self,
        fh: FileHandle,
        offset: u64,
        mut add: impl FnMut(&DirectoryEntry) -> bool,
    ) -> Result<(), Errno> {
        let open = self.open_of(fh)?;
        let mut query =
            if offset == 0 { QueryDirectory::restart(None) } else { QueryDirectory::resume_after(offset) };
        query.output_length = QUERY_BYTES;
        loop {
            let batch = match open.handle.query_directory(&query) {
                Ok(batch) if batch.is_empty() => return Ok(()),
                Ok(batch) => batch,
                Err(Status::NO_MORE_FILES | Status::NO_SUCH_FILE) => return Ok(()),
                Err(status) => return Err(errno::of(status)),
            };
            for entry in &batch {
                if add(entry) {
                    return Ok(());
                }
            }
            query = QueryDirectory { output_length: query.output_length, ..QueryDirectory::next() };
        }
    }

    /// The FUSE type of an entry, asking the inode when the directory does not record it.
    fn entry_type(&self, entry: &DirectoryEntry) -> FileType {
        if let Some(t) = file_type(entry.kind) {
            return t;
        }
        let st = self.open_ino(entry.ino, Access::READ_ATTRIBUTES, CreateOptions::NONE, Credentials::ROOT);
        st.and_then(|h| h.query_stat())
            .ok()
            .and_then(|s| file_type(s.kind()))
            .unwrap_or(FileType::RegularFile)
    }

    /// `readdir`.
    pub(crate) fn read_dir(&self, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let result = self.list(fh, offset, |e| {
            reply.add(INodeNo(e.ino), e.index, self.entry_type(e), OsStr::from_bytes(&e.name))
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    /// `readdirplus`: every entry with its attributes, counted as a lookup (but `.` and
    /// `..`, which the kernel does not take as lookups). An entry whose inode cannot be
    /// read is left out (and logged).
    pub(crate) fn read_dir_plus(
        &self,
        req: &Request,
        node: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let dir = match self.ino(node) {
            Ok(d) => d,
            Err(e) => return reply.error(e),
        };
        let who = Credentials::user(req.uid(), req.gid());
        let ttl = self.options.ttl;
        let result = self.list(fh, offset, |e| {
            let name = OsStr::from_bytes(&e.name);
            if is_dot(&e.name) {
                let attr = dot_attr(e, self.entry_type(e));
                return reply.add(INodeNo(e.ino), e.index, name, &ttl, &attr, Generation(0));
            }
            let st = self.open_ino(e.ino, Access::READ_ATTRIBUTES, CreateOptions::NONE, who.clone());
            let st = match st.and_then(|h| h.query_stat()) {
                Ok(st) => st,
                Err(status) => {
                    tracing::warn!(dir, ino = e.ino, name = %e.name_lossy(), %status, "readdirplus: entry left out");
                    return false;
                }
            };
            let attr = file_attr(&st);
            let full = reply.add(attr.ino, e.index, name, &ttl, &attr, Generation(0));
            if !full {
                self.nodes.looked_up(st.ino, st.kind() == FileKind::Directory, dir, &e.name);
            }
            full
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    /// `releasedir`.
    pub(crate) fn release_dir(&self, fh: FileHandle) -> Result<(), Errno> {
        let open = self.opens.remove(fh.0).ok_or(Errno::EBADF)?;
        opens::close(open).map_err(errno::of)
    }

    /// `fsyncdir`: a flush of the directory (its entries and everything before them are
    /// committed).
    pub(crate) fn fsync_dir(&self, fh: FileHandle) -> Result<(), Errno> {
        let open = self.open_of(fh)?;
        self.flush_inode(Some(&open), open.ino, FlushFlags::Full, true).map_err(|s| errno::errno(s, Op::Sync))
    }
}

/// The attributes readdirplus carries for `.` and `..`: only the inode number and the
/// type are read (the kernel links neither).
fn dot_attr(e: &DirectoryEntry, kind: FileType) -> FileAttr {
    FileAttr {
        ino: INodeNo(e.ino),
        size: 0,
        blocks: 0,
        atime: std::time::UNIX_EPOCH,
        mtime: std::time::UNIX_EPOCH,
        ctime: std::time::UNIX_EPOCH,
        crtime: std::time::UNIX_EPOCH,
        kind,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}
