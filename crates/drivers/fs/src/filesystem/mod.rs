//! The file system: a mutable ext4 volume over a [`BlockDevice`], every metadata change
//! journaled by jbd2 in ordered mode.
//!
//! [`Filesystem`] is the synchronous library the driver sits on: operations take inode
//! numbers (as FUSE does; the root is [`ROOT`]) and names as bytes, and return [`Attr`]s.
//! Each operation is atomic: it lands whole in the running transaction or, when it fails
//! (out of space, say), changes nothing. Transactions commit every
//! [`MountOptions::commit_interval`], when they grow large, on [`Filesystem::commit`], and on
//! [`Filesystem::fsync`]. Metadata reaches its home blocks only through checkpoints; file
//! data is written to its blocks before the operation returns, so before the commit that
//! points at it.
//!
//! Dropping a `Filesystem` without [`Filesystem::unmount`] is a crash: what was committed
//! is replayed by the next mount.
//!
//! - [`types`]: the values operations take and return;
//! - `inner`: the state, and the atomic operation and the commit;
//! - `mount`, `namei` (names), `rename`, `attr`, `orphan`, `sync`, `inode_io`;
//! - file data is in `fileops`, directories in `dirops`, xattrs in `xattrops`.

mod attr;
mod driver_api;
pub(crate) mod inner;
pub(crate) mod inode_io;
pub(crate) mod mount;
mod namei;
mod orphan;
mod rename;
mod sync;
mod torn_super;
pub mod types;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::device::BlockDevice;
use crate::error::Result;
use crate::jbd2::ReplayReport;
use crate::ondisk::inode::mode;
use inner::Inner;
pub use types::{
    Attr, DirEntry, FileKind, Ino, MountOptions, RenameMode, SetAttr, StatFs, Timestamp, XattrMode,
};

/// The root directory's inode number.
pub const ROOT: Ino = crate::ondisk::inode::ROOT_INO;

/// A mounted ext4 volume.
pub struct Filesystem {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Filesystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filesystem").finish_non_exhaustive()
    }
}

impl Filesystem {
    /// Mounts the volume on `dev`: checks it, replays its journal if needed, finishes the
    /// orphan list. Unsupported INCOMPAT features refuse; unsupported RO_COMPAT features,
    /// a volume without a journal, or [`MountOptions::read_only`] mount read-only.
    pub fn mount(dev: Arc<dyn BlockDevice>, opts: MountOptions) -> Result<Filesystem> {
        Ok(Filesystem { inner: Mutex::new(Inner::mount(dev, opts)?) })
    }

    /// Mount's first step alone: checks the superblock (repairing a torn one when it can) and
    /// replays the journal onto `dev` if the volume needs recovery, exactly as
    /// [`Filesystem::mount`] does before anything else; returns what the replay did (None:
    /// nothing needed replaying). The crash checker uses it to replay, crash and replay again.
    pub fn recover(dev: Arc<dyn BlockDevice>, opts: &MountOptions) -> Result<Option<ReplayReport>> {
        Ok(mount::recover_volume(&dev, opts)?.replay)
    }

    /// Unmounts cleanly: commit, checkpoint, empty journal, `needs_recovery` cleared.
    pub fn unmount(self) -> Result<()> {
        self.inner.into_inner().unwrap_or_else(PoisonError::into_inner).unmount()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the volume takes no changes (None: it does).
    pub fn read_only(&self) -> Option<String> {
        let i = self.lock();
        i.aborted.clone().or_else(|| i.read_only.clone())
    }

    /// Looks `name` up in directory `dir`.
    pub fn lookup(&self, dir: Ino, name: &[u8]) -> Result<Attr> {
        self.lock().lookup(dir, name)
    }

    /// The attributes of `ino`.
    pub fn getattr(&self, ino: Ino) -> Result<Attr> {
        self.lock().attr(ino)
    }

    /// Changes attributes (mode bits, owner, times, size).
    pub fn setattr(&self, ino: Ino, set: &SetAttr) -> Result<Attr> {
        self.lock().setattr(ino, set)
    }

    /// Creates regular file `name` in `dir` with permission bits `perm`.
    pub fn create(&self, dir: Ino, name: &[u8], perm: u16, uid: u32, gid: u32) -> Result<Attr> {
        self.lock().mknod(dir, name, mode::S_IFREG | (perm & 0o7777), 0, uid, gid)
    }

    /// Creates a regular file, device, FIFO or socket (`mode` carries the type bits; `rdev`
    /// in Linux `new_encode_dev` form for devices).
    pub fn mknod(&self, dir: Ino, name: &[u8], mode: u16, rdev: u32, uid: u32, gid: u32) -> Result<Attr> {
        self.lock().mknod(dir, name, mode, rdev, uid, gid)
    }

    /// Creates directory `name` in `dir`.
    pub fn mkdir(&self, dir: Ino, name: &[u8], perm: u16, uid: u32, gid: u32) -> Result<Attr> {
        self.lock().mkdir(dir, name, perm, uid, gid)
    }

    /// Creates symbolic link `name` in `dir` pointing at `target` (at most a block less one
    /// byte; under 60 bytes it is kept in the inode).
    pub fn symlink(&self, dir: Ino, name: &[u8], target: &[u8], uid: u32, gid: u32) -> Result<Attr> {
        self.lock().symlink(dir, name, target, uid, gid)
    }

    /// The target of a symbolic link.
    pub fn readlink(&self, ino: Ino) -> Result<Vec<u8>> {
        self.lock().readlink(ino)
    }

    /// Adds a hard link `dir/name` to `ino`.
    pub fn link(&self, ino: Ino, dir: Ino, name: &[u8]) -> Result<Attr> {
        self.lock().link(ino, dir, name)
    }

    /// Removes a non-directory name. An inode left without links is freed, or, while open,
    /// kept on the orphan list until its last [`Filesystem::release`].
    pub fn unlink(&self, dir: Ino, name: &[u8]) -> Result<()> {
        self.lock().unlink(dir, name)
    }

    /// Removes an empty directory (`NotEmpty` otherwise).
    pub fn rmdir(&self, dir: Ino, name: &[u8]) -> Result<()> {
        self.lock().rmdir(dir, name)
    }

    /// Renames atomically (one transaction).
    pub fn rename(&self, src_dir: Ino, src: &[u8], dst_dir: Ino, dst: &[u8], how: RenameMode) -> Result<()> {
        self.lock().rename(src_dir, src, dst_dir, dst, how)
    }

    /// Counts an open of `ino`.
    pub fn open(&self, ino: Ino) -> Result<()> {
        self.lock().open_inode(ino)
    }

    /// Counts a close of `ino`; the last close of an unlinked inode frees it.
    pub fn release(&self, ino: Ino) -> Result<()> {
        self.lock().release(ino)
    }

    /// Reads at `off` into `buf`; returns the bytes read (0 at the end).
    pub fn read(&self, ino: Ino, off: u64, buf: &mut [u8]) -> Result<usize> {
        self.lock().read_data(ino, off, buf)
    }

    /// Writes `data` at `off` (allocating blocks, extending the file); returns the bytes
    /// written, fewer than asked only if the volume filled part-way.
    pub fn write(&self, ino: Ino, off: u64, data: &[u8]) -> Result<usize> {
        self.lock().write_data(ino, off, data)
    }

    /// Sets the size (truncating or extending sparsely).
    pub fn truncate(&self, ino: Ino, size: u64) -> Result<()> {
        self.lock().truncate(ino, size)
    }

    /// Deallocates `len` bytes at `off` (partial blocks zeroed; the size stays).
    pub fn punch_hole(&self, ino: Ino, off: u64, len: u64) -> Result<()> {
        self.lock().punch_hole(ino, off, len)
    }

    /// Preallocates (unwritten extents) `len` bytes at `off`; unless `keep_size` the size
    /// grows to cover them.
    pub fn fallocate(&self, ino: Ino, off: u64, len: u64, keep_size: bool) -> Result<()> {
        self.lock().fallocate(ino, off, len, keep_size)
    }

    /// Lists `dir` from `cookie` (0: the start; else an entry's cookie, to continue after
    /// it). An empty list is the end.
    pub fn readdir(&self, dir: Ino, cookie: u64) -> Result<Vec<DirEntry>> {
        self.lock().readdir(dir, cookie)
    }

    /// Sets extended attribute `name` (`user.x`, `trusted.x`, `security.x`, `system.x`).
    pub fn setxattr(&self, ino: Ino, name: &[u8], value: &[u8], how: XattrMode) -> Result<()> {
        self.lock().setxattr(ino, name, value, how)
    }

    /// The value of extended attribute `name`.
    pub fn getxattr(&self, ino: Ino, name: &[u8]) -> Result<Vec<u8>> {
        self.lock().getxattr(ino, name)
    }

    /// The names of every extended attribute.
    pub fn listxattr(&self, ino: Ino) -> Result<Vec<Vec<u8>>> {
        self.lock().listxattr(ino)
    }

    /// Removes extended attribute `name`.
    pub fn removexattr(&self, ino: Ino, name: &[u8]) -> Result<()> {
        self.lock().removexattr(ino, name)
    }

    /// Volume usage.
    pub fn statfs(&self) -> StatFs {
        self.lock().statfs()
    }

    /// Makes `ino` durable: its data is on its blocks already; the transaction holding its
    /// last change (directory entry included) is committed (with `datasync`, only if that
    /// change matters to reading the data back), then the device is flushed.
    pub fn fsync(&self, ino: Ino, datasync: bool) -> Result<()> {
        self.lock().fsync(ino, datasync)
    }

    /// Commits the running transaction (the periodic commit, for callers with their own
    /// timer; operations also commit one older than the commit interval).
    pub fn commit(&self) -> Result<()> {
        self.lock().commit()
    }

    /// Commits and flushes the device (syncfs; a volume flush).
    pub fn sync(&self) -> Result<()> {
        self.lock().sync_all()
    }
}
