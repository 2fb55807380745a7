//! The values the file system's operations take and return.

use std::time::Duration;

use crate::breakage::Breakage;
pub use crate::ondisk::inode::Timestamp;
use crate::ondisk::inode::{Inode, mode};

/// An inode number (as FUSE uses them; the root directory is 2).
pub type Ino = u32;

/// The source of "now" for timestamps.
pub type Clock = fn() -> Timestamp;

/// The system clock.
pub fn system_clock() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp { secs: d.as_secs() as i64, nanos: d.subsec_nanos() }
}

/// The kind of an inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Regular file.
    Regular,
    /// Directory.
    Directory,
    /// Symbolic link.
    Symlink,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Named pipe.
    Fifo,
    /// Socket.
    Socket,
    /// A type bits value ext4 does not define.
    Unknown,
}

impl FileKind {
    /// From `i_mode`'s type bits.
    pub fn from_mode(m: u16) -> FileKind {
        match m & mode::S_IFMT {
            mode::S_IFREG => FileKind::Regular,
            mode::S_IFDIR => FileKind::Directory,
            mode::S_IFLNK => FileKind::Symlink,
            mode::S_IFCHR => FileKind::CharDevice,
            mode::S_IFBLK => FileKind::BlockDevice,
            mode::S_IFIFO => FileKind::Fifo,
            mode::S_IFSOCK => FileKind::Socket,
            _ => FileKind::Unknown,
        }
    }
}

/// What `getattr` tells about an inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Inode number.
    pub ino: Ino,
    /// Its kind.
    pub kind: FileKind,
    /// `i_mode`: type and permission bits.
    pub mode: u16,
    /// Link count (1 for a directory with more than 65000 subdirectories, as dir_nlink has it).
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Space used, in 512-byte units (data, extent tree and xattr blocks).
    pub blocks: u64,
    /// Access time.
    pub atime: Timestamp,
    /// Modification time.
    pub mtime: Timestamp,
    /// Change time.
    pub ctime: Timestamp,
    /// Creation time.
    pub crtime: Timestamp,
    /// `i_generation` (with the inode number, a handle that survives reuse).
    pub generation: u32,
    /// Device number of a device inode (Linux `new_encode_dev` form), else 0.
    pub rdev: u32,
    /// Preferred I/O size (the block size).
    pub blksize: u32,
}

impl Attr {
    pub(crate) fn from_inode(ino: Ino, i: &Inode, block_size: u32) -> Attr {
        Attr {
            ino,
            kind: FileKind::from_mode(i.mode),
            mode: i.mode,
            nlink: u32::from(i.links_count),
            uid: i.uid,
            gid: i.gid,
            size: i.size,
            blocks: i.blocks_512(true, block_size),
            atime: i.atime(),
            mtime: i.mtime(),
            ctime: i.ctime(),
            crtime: i.crtime(),
            generation: i.generation,
            rdev: super::inode_io::rdev_of(i),
            blksize: block_size,
        }
    }
}

/// What `setattr` changes (None: leave as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// Permission bits (the low 12 bits; the type cannot change).
    pub mode: Option<u16>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Size: truncates or extends (sparse).
    pub size: Option<u64>,
    /// Access time.
    pub atime: Option<Timestamp>,
    /// Modification time.
    pub mtime: Option<Timestamp>,
    /// Change time (else set to now when anything changes).
    pub ctime: Option<Timestamp>,
    /// Creation time (`i_crtime`; NT's `CreationTime`).
    pub crtime: Option<Timestamp>,
}

/// One `readdir` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name.
    pub name: Vec<u8>,
    /// Its inode.
    pub ino: Ino,
    /// Its kind as the entry records it.
    pub kind: FileKind,
    /// Pass this to `readdir` to continue after this entry.
    pub cookie: u64,
}

/// Volume usage, as `statfs` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFs {
    /// Block size.
    pub block_size: u32,
    /// Blocks in the volume.
    pub blocks: u64,
    /// Free blocks (counting those freed by the running transaction).
    pub free_blocks: u64,
    /// Free blocks for unprivileged users (less the reserved ones).
    pub available_blocks: u64,
    /// Inodes in the volume.
    pub files: u64,
    /// Free inodes.
    pub free_files: u64,
    /// Longest name.
    pub name_max: u32,
}

/// How `rename` treats an existing target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RenameMode {
    /// Replace it (POSIX rename).
    #[default]
    Replace,
    /// Fail with `Exists` (RENAME_NOREPLACE).
    NoReplace,
    /// Swap the two names, which must both exist (RENAME_EXCHANGE).
    Exchange,
}

/// How `setxattr` treats an existing attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XattrMode {
    /// Create or replace.
    #[default]
    Set,
    /// Fail with `Exists` if it exists (XATTR_CREATE).
    Create,
    /// Fail with `NoAttribute` unless it exists (XATTR_REPLACE).
    Replace,
}

/// How to mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Take no changes (the journal is still replayed if it needs to be).
    pub read_only: bool,
    /// Verify metadata checksums when reading (on by default).
    pub verify_checksums: bool,
    /// A running transaction older than this is committed before the next operation (5 s,
    /// as jbd2). Callers may also call `commit` on their own timer.
    pub commit_interval: Duration,
    /// Metadata blocks kept in the cache.
    pub cache_blocks: usize,
    /// Dirty plus committed-but-not-checkpointed metadata blocks before a checkpoint.
    pub pinned_blocks: usize,
    /// Dirty metadata blocks after which the running transaction commits (at most a quarter
    /// of the journal).
    pub max_transaction_blocks: usize,
    /// Directory index entries kept in memory (over it, other directories' indexes go).
    pub dir_index_entries: usize,
    /// Where timestamps come from.
    pub clock: Clock,
    /// A deliberately broken variant, for the crash checker's tests ([`Breakage::NONE`]
    /// unless the crate is built with the `broken-variants` feature).
    #[doc(hidden)]
    pub breakage: Breakage,
}

impl Default for MountOptions {
    fn default() -> MountOptions {
        MountOptions {
            read_only: false,
            verify_checksums: true,
            commit_interval: Duration::from_secs(5),
            cache_blocks: 16384,
            pinned_blocks: 16384,
            max_transaction_blocks: 8192,
            dir_index_entries: 1 << 21,
            clock: system_clock,
            breakage: Breakage::NONE,
        }
    }
}
