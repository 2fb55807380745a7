//! Changing the namespace: `create` and `mkdir` (`IRP_MJ_CREATE` with `FILE_CREATE` /
//! `FILE_OPEN_IF`...), `mknod` (a regular file is a create; other kinds the `MakeNode`
//! control), `symlink` (the `CreateSymlink` control), `link` and `rename`
//! (`FileLinkInformation`, `FileRenameInformation`), `unlink` and `rmdir` (an open for
//! `DELETE`, `FileDispositionInformation`, and the close that deletes).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use fuser::{Errno, FileAttr, INodeNo, RenameFlags, Request};
use irp::file::{CreateDisposition, CreateOptions, CreateRequest, FileKind};
use irp::{Access, Handle, Status};

use crate::attr::decode_dev;
use crate::caller::credentials;
use crate::errno;
use crate::filesystem::IrpFs;
use crate::opens::Open;

/// The access an `open(2)` flag set asks for. With the writeback cache the kernel reads
/// pages of files opened write-only, so those are opened for reading too.
pub(crate) fn access_of(flags: i32, writeback_cache: bool) -> Access {
    match flags & libc::O_ACCMODE {
        libc::O_WRONLY if writeback_cache => Access::READ_WRITE,
        libc::O_WRONLY => Access::WRITE,
        libc::O_RDWR => Access::READ_WRITE,
        _ => Access::READ,
    }
}

/// The disposition of an `open(2)` with `O_CREAT` (FUSE's `create`).
pub(crate) fn create_disposition(flags: i32) -> CreateDisposition {
    if flags & libc::O_EXCL != 0 {
        CreateDisposition::Create
    } else if flags & libc::O_TRUNC != 0 {
        CreateDisposition::OverwriteIf
    } else {
        CreateDisposition::OpenIf
    }
}

impl IrpFs {
    /// Looks up `name` in `dir` after a change made it: the entry handed to the kernel.
    fn entry_after(&self, req: &Request, parent: INodeNo, name: &OsStr) -> Result<FileAttr, Errno> {
        self.lookup_entry(req, parent, name)
    }

    /// `create`: opens or creates `name` (`O_CREAT`, `O_EXCL`, `O_TRUNC`), a new file
    /// owned by the caller with `mode` less the umask. Returns the entry and the open.
    pub(crate) fn create_file(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
    ) -> Result<(FileAttr, u64), Errno> {
        let entry = self.entry_path(parent, name)?;
        let dir = entry.dir;
        let request = CreateRequest::open(entry.path.clone(), access_of(flags, self.options.writeback_cache))
            .disposition(create_disposition(flags))
            .options(CreateOptions::NON_DIRECTORY_FILE)
            .mode(mode & !umask & 0o7777)
            .credentials(credentials(req));
        let handle = self.create(&request).map_err(errno::of)?;
        let st = handle.query_stat().map_err(errno::of)?;
        let attr = self.hand_out(&st, dir, name.as_bytes());
        let fh = self.opens.insert(Open::new(handle, st.ino));
        Ok((attr, fh))
    }

    /// `mkdir`.
    pub(crate) fn make_dir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
    ) -> Result<FileAttr, Errno> {
        let entry = self.entry_path(parent, name)?;
        let dir = entry.dir;
        let request = CreateRequest::open(entry.path.clone(), Access::READ_ATTRIBUTES)
            .disposition(CreateDisposition::Create)
            .options(CreateOptions::DIRECTORY_FILE)
            .mode(mode & !umask & 0o7777)
            .credentials(credentials(req));
        let handle = self.create(&request).map_err(errno::of)?;
        let st = handle.query_stat().map_err(errno::of)?;
        handle.close().map_err(errno::of)?;
        Ok(self.hand_out(&st, dir, name.as_bytes()))
    }

    /// The directory `parent` opened for adding an entry by a control (symlink, mknod).
    fn parent_dir(&self, req: &Request, parent: INodeNo) -> Result<Handle, Errno> {
        let dir = self.ino(parent)?;
        self.open_ino(dir, Access::READ_ATTRIBUTES, CreateOptions::DIRECTORY_FILE, credentials(req))
            .map_err(errno::of)
    }

    /// `mknod`: a regular file is created as by `create`; a device, FIFO or socket by the
    /// `MakeNode` control on the directory.
    pub(crate) fn make_node(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
    ) -> Result<FileAttr, Errno> {
        let kind = FileKind::from_mode(mode);
        let perm = mode & !umask & 0o7777;
        match kind {
            FileKind::Regular => {
                let entry = self.entry_path(parent, name)?;
                let request = CreateRequest::open(entry.path.clone(), Access::READ_ATTRIBUTES)
                    .disposition(CreateDisposition::Create)
                    .options(CreateOptions::NON_DIRECTORY_FILE)
                    .mode(perm)
                    .credentials(credentials(req));
                self.create(&request).and_then(Handle::close).map_err(errno::of)?;
            }
            FileKind::CharDevice | FileKind::BlockDevice | FileKind::Fifo | FileKind::Socket => {
                let name = std::str::from_utf8(name.as_bytes()).map_err(|_| Errno::EILSEQ)?;
                let dir = self.parent_dir(req, parent)?;
                dir.make_node(name, kind, perm, decode_dev(rdev)).map_err(errno::of)?;
            }
            FileKind::Directory | FileKind::Symlink | FileKind::Unknown => return Err(Errno::EINVAL),
        }
        self.entry_after(req, parent, name)
    }

    /// `symlink`: `name` in `parent` pointing to `target`.
    pub(crate) fn make_symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        target: &Path,
    ) -> Result<FileAttr, Errno> {
        let link = std::str::from_utf8(name.as_bytes()).map_err(|_| Errno::EILSEQ)?;
        let dir = self.parent_dir(req, parent)?;
        dir.create_symlink(link, target.as_os_str().as_bytes()).map_err(errno::of)?;
        self.entry_after(req, parent, name)
    }

    /// `link`: another name for `node`.
    pub(crate) fn make_link(
        &self,
        req: &Request,
        node: INodeNo,
        new_parent: INodeNo,
        new_name: &OsStr,
    ) -> Result<FileAttr, Errno> {
        let ino = self.ino(node)?;
        let h = self
            .open_ino(ino, Access::READ_ATTRIBUTES, CreateOptions::NONE, credentials(req))
            .map_err(errno::of)?;
        {
            let target = self.entry_path(new_parent, new_name)?;
            h.link(&target.path, false).map_err(errno::of)?;
        }
        drop(h);
        self.entry_after(req, new_parent, new_name)
    }

    /// `unlink` and `rmdir`: opens the entry (not what a symbolic link points to) for
    /// `DELETE`, marks it for deletion with POSIX semantics and closes it: the close's cleanup
    /// removes the name, while other opens of the file keep using it until they close.
    pub(crate) fn remove(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        dir: bool,
    ) -> Result<(), Errno> {
        let entry = self.entry_path(parent, name)?;
        let parent_ino = entry.dir;
        let kind = if dir { CreateOptions::DIRECTORY_FILE } else { CreateOptions::NON_DIRECTORY_FILE };
        let request = CreateRequest::open(entry.path.clone(), Access::DELETE)
            .options(kind | CreateOptions::OPEN_REPARSE_POINT)
            .credentials(credentials(req));
        let result = self.create(&request).and_then(|h| {
            h.set_posix_delete()?;
            h.close()
        });
        result.map_err(errno::of)?;
        if dir {
            self.nodes.removed(parent_ino, name.as_bytes());
        }
        Ok(())
    }

    /// `rename` (and `renameat2`'s `RENAME_NOREPLACE`; `RENAME_EXCHANGE` and
    /// `RENAME_WHITEOUT` are not supported: `EINVAL`, as file systems without them answer).
    pub(crate) fn rename_entry(
        &self,
        req: &Request,
        from: (INodeNo, &OsStr),
        to: (INodeNo, &OsStr),
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT)
            || !RenameFlags::all().contains(flags)
        {
            return Err(Errno::EINVAL);
        }
        let replace = !flags.contains(RenameFlags::RENAME_NOREPLACE);
        let _renaming = self.renaming();
        let (from_dir, from_path) = self.path_in(from.0, from.1)?;
        let (to_dir, to_path) = self.path_in(to.0, to.1)?;
        let request = CreateRequest::open(from_path, Access::DELETE)
            .options(CreateOptions::OPEN_REPARSE_POINT)
            .credentials(credentials(req));
        let handle = self.create(&request).map_err(errno::of)?;
        let st = handle.query_stat().map_err(errno::of)?;
        let result: Result<(), Status> = handle.rename(&to_path, replace).and_then(|()| handle.close());
        result.map_err(errno::of)?;
        self.nodes.renamed(st.ino, (from_dir, from.1.as_bytes()), (to_dir, to.1.as_bytes()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_become_access_and_dispositions() {
        assert_eq!(access_of(libc::O_RDONLY, false), Access::READ);
        assert_eq!(access_of(libc::O_WRONLY, false), Access::WRITE);
        assert_eq!(access_of(libc::O_WRONLY, true), Access::READ_WRITE);
        assert_eq!(access_of(libc::O_RDWR | libc::O_APPEND, false), Access::READ_WRITE);
        assert_eq!(create_disposition(libc::O_CREAT), CreateDisposition::OpenIf);
        assert_eq!(
            create_disposition(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC),
            CreateDisposition::Create
        );
        assert_eq!(create_disposition(libc::O_CREAT | libc::O_TRUNC), CreateDisposition::OverwriteIf);
    }
}
