//! [`IrpFs`]: the mounted volume as a fuser [`Filesystem`]. This file holds the state and
//! the helpers every request uses; each request is answered in the file of its kind
//! (`entries.rs`, `names.rs`, `files.rs`, `dirs.rs`, `xattrs.rs`, `volume.rs`), and
//! [`crate::dispatch`] ties the trait's methods to them.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use fuser::{Errno, INodeNo};
use irp::file::{CreateOptions, CreateRequest, Credentials};
use irp::{Access, Handle, IoError, IoManager, Status};

use crate::errno;
use crate::nodes::{Nodes, PathError, ROOT_INO, ino_of};
use crate::opens::{self, Opens};

/// How the front end answers: what the kernel may cache and what it was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsOptions {
    /// How long the kernel may keep a name and attributes without asking again.
    pub ttl: Duration,
    /// Ask the kernel to buffer writes in its page cache (`FUSE_WRITEBACK_CACHE`): faster
    /// small writes; their errors reach the writer at `fsync` or `close`.
    pub writeback_cache: bool,
    /// Largest write request (`max_write`), bytes.
    pub max_write: u32,
}

impl Default for FsOptions {
    fn default() -> FsOptions {
        FsOptions { ttl: Duration::from_secs(1), writeback_cache: false, max_write: 1 << 20 }
    }
}

/// The file system of one volume, served to the kernel: every request becomes IRPs on
/// handles of the stack registered under `volume` in the I/O manager.
#[derive(Debug)]
pub struct IrpFs {
    pub(crate) io: Arc<IoManager>,
    pub(crate) volume: String,
    /// The volume itself (an empty path): statfs and volume flushes.
    pub(crate) volume_handle: Handle,
    pub(crate) read_only: bool,
    pub(crate) nodes: Nodes,
    pub(crate) opens: Opens,
    pub(crate) options: FsOptions,
    /// Held (shared) from working out an entry's path to the open that uses it, and
    /// exclusively by a rename: a directory renamed meanwhile would make the path name
    /// nothing, or something else.
    names: RwLock<()>,
}

/// The path of an entry of a directory, valid while it is held (no rename meanwhile).
#[derive(Debug)]
pub(crate) struct EntryPath<'a> {
    /// The directory's inode number.
    pub dir: u64,
    /// The entry's path from the root.
    pub path: String,
    _names: RwLockReadGuard<'a, ()>,
}

/// The status an I/O manager error stands for.
pub(crate) fn status_of(e: &IoError) -> Status {
    match e {
        IoError::ShutDown => Status::VOLUME_DISMOUNTED,
        IoError::NoSuchDevice { .. } => Status::NO_SUCH_DEVICE,
        other => other.status().unwrap_or(Status::IO_DEVICE_ERROR),
    }
}

impl IrpFs {
    /// The file system of the volume registered as `volume` in `io` (a stack with a file
    /// system on top): opens the volume (for writing when it is writable).
    pub fn new(io: Arc<IoManager>, volume: &str, options: FsOptions) -> Result<IrpFs, IoError> {
        let open =
            |access| io.create(volume, &CreateRequest::open("", access).credentials(Credentials::ROOT));
        let query = |h: &Handle| {
            h.query_volume_stat().map_err(|status| IoError::Request {
                device: volume.to_owned(),
                major: irp::MajorFunction::QueryVolumeInformation,
                status,
            })
        };
        // Read-only first: a read-only volume logs every open for writing it refuses.
        let mut volume_handle = open(Access::READ)?;
        let stat = query(&volume_handle)?;
        if !stat.read_only {
            volume_handle = open(Access::READ_WRITE)?;
        }
        Ok(IrpFs {
            io,
            volume: volume.to_owned(),
            volume_handle,
            read_only: stat.read_only,
            nodes: Nodes::new(),
            opens: Opens::default(),
            options,
            names: RwLock::new(()),
        })
    }

    /// Whether the volume is mounted read-only (the kernel mount should be too).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The inodes the kernel holds.
    pub fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    /// How many files and directories are open (opened by the kernel, not yet released).
    pub fn open_count(&self) -> usize {
        self.opens.len()
    }

    /// Opens `request` on the volume.
    pub(crate) fn create(&self, request: &CreateRequest) -> Result<Handle, Status> {
        self.io.create(&self.volume, request).map_err(|e| status_of(&e))
    }

    /// Opens inode `ino` by number (`FILE_OPEN_BY_FILE_ID`; a symbolic link itself).
    pub(crate) fn open_ino(
        &self,
        ino: u64,
        access: Access,
        options: CreateOptions,
        who: Credentials,
    ) -> Result<Handle, Status> {
        let request = CreateRequest::open(ino.to_string(), access)
            .options(options | CreateOptions::OPEN_BY_FILE_ID | CreateOptions::OPEN_REPARSE_POINT)
            .credentials(who);
        self.create(&request)
    }

    /// The path of directory `ino`: from the node table, or found afresh by walking `..`.
    pub(crate) fn dir_path(&self, ino: u64) -> Result<String, Errno> {
        match self.nodes.dir_path(ino) {
            Ok(p) => Ok(p),
            Err(PathError::Removed) => Err(Errno::ENOENT),
            Err(PathError::NotUtf8) => Err(Errno::EILSEQ),
            Err(PathError::Unknown) => self.discover_path(ino).map_err(errno::of),
        }
    }

    /// Finds where directory `ino` is by its `..` entries, up to the root, and records it.
    fn discover_path(&self, ino: u64) -> Result<String, Status> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut at = ino;
        while at != ROOT_INO {
            if names.len() > 4096 {
                return Err(Status::FILE_CORRUPT_ERROR);
            }
            let dir = self.open_ino(at, Access::READ, CreateOptions::DIRECTORY_FILE, Credentials::ROOT)?;
            let parent = dir
                .list_directory(Some(".."))?
                .into_iter()
                .find(|e| e.name == b"..")
                .ok_or(Status::FILE_CORRUPT_ERROR)?
                .ino;
            let up = self.open_ino(parent, Access::READ, CreateOptions::DIRECTORY_FILE, Credentials::ROOT)?;
            let name = up
                .list_directory(None)?
                .into_iter()
                .find(|e| e.ino == at && e.name != b"." && e.name != b"..")
                .ok_or(Status::OBJECT_NAME_NOT_FOUND)?
                .name;
            self.nodes.place_dir(at, parent, &name);
            names.push(name);
            at = parent;
        }
        let mut path = String::new();
        for name in names.iter().rev() {
            path.push('/');
            path.push_str(std::str::from_utf8(name).map_err(|_| Status::OBJECT_NAME_NOT_FOUND)?);
        }
        Ok(path)
    }

    /// The inode number of node `node`.
    pub(crate) fn ino(&self, node: INodeNo) -> Result<u64, Errno> {
        ino_of(node).ok_or(Errno::ESTALE)
    }

    /// The path of `name` in directory node `parent`, with the parent's inode number; no
    /// rename happens while it is held.
    pub(crate) fn entry_path(&self, parent: INodeNo, name: &OsStr) -> Result<EntryPath<'_>, Errno> {
        let guard = self.names.read().unwrap_or_else(PoisonError::into_inner);
        let (dir, path) = self.path_in(parent, name)?;
        Ok(EntryPath { dir, path, _names: guard })
    }

    /// Excludes every path's use while a rename runs.
    pub(crate) fn renaming(&self) -> RwLockWriteGuard<'_, ()> {
        self.names.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The path of `name` in directory node `parent` (the caller excludes renames).
    pub(crate) fn path_in(&self, parent: INodeNo, name: &OsStr) -> Result<(u64, String), Errno> {
        let dir = self.ino(parent)?;
        let name = std::str::from_utf8(name.as_bytes()).map_err(|_| Errno::EILSEQ)?;
        let mut path = self.dir_path(dir)?;
        path.push('/');
        path.push_str(name);
        Ok((dir, path))
    }

    /// Closes every open the kernel did not release (an unmount drops pending releases).
    pub fn close_all(&self) {
        for open in self.opens.drain() {
            let ino = open.ino;
            if let Err(status) = opens::close(open) {
                tracing::warn!(ino, %status, "closing a file left open at unmount");
            }
        }
    }
}
