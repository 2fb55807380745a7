//! What the write path reports: the POSIX-style failures of file-system operations (each with
//! its errno, for front ends such as FUSE), and the lower layers' failures (device, journal,
//! corrupt metadata) wrapped as they came.

use crate::device::DeviceIoError;
use crate::jbd2::Jbd2Error;
use crate::ondisk::FormatError;
use crate::ondisk::features::UnsupportedFeature;
use crate::volume::VolumeError;

/// Errno values (Linux numbering) that [`FsError::errno`] returns.
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// I/O error.
    pub const EIO: i32 = 5;
    /// File exists.
    pub const EEXIST: i32 = 17;
    /// Not a directory.
    pub const ENOTDIR: i32 = 20;
    /// Is a directory.
    pub const EISDIR: i32 = 21;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// File too large.
    pub const EFBIG: i32 = 27;
    /// No space left on device.
    pub const ENOSPC: i32 = 28;
    /// Read-only file system.
    pub const EROFS: i32 = 30;
    /// Too many links.
    pub const EMLINK: i32 = 31;
    /// Result too large (xattr value buffer).
    pub const ERANGE: i32 = 34;
    /// File name too long.
    pub const ENAMETOOLONG: i32 = 36;
    /// Directory not empty.
    pub const ENOTEMPTY: i32 = 39;
    /// No data available (no such xattr).
    pub const ENODATA: i32 = 61;
    /// Operation not supported.
    pub const EOPNOTSUPP: i32 = 95;
    /// Structure needs cleaning (corrupt metadata).
    pub const EUCLEAN: i32 = 117;
}

/// A failed file-system operation.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The device failed.
    #[error(transparent)]
    Device(#[from] DeviceIoError),
    /// The journal failed (replay or commit).
    #[error(transparent)]
    Journal(#[from] Jbd2Error),
    /// A metadata structure is corrupt (the message says which and where).
    #[error(transparent)]
    Corrupt(#[from] FormatError),
    /// The read path failed at mount (superblock, descriptors, the journal inode).
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// The volume uses an INCOMPAT feature we cannot read.
    #[error(transparent)]
    Unsupported(#[from] UnsupportedFeature),
    /// No entry of that name.
    #[error("inode {dir}: no entry {name:?}")]
    NotFound {
        /// The directory searched.
        dir: u32,
        /// The name, lossily as text.
        name: String,
    },
    /// An inode number that is not in use (or out of range).
    #[error("inode {ino} is not in use")]
    NoSuchInode {
        /// The number.
        ino: u32,
    },
    /// The name is already taken.
    #[error("inode {dir}: {name:?} exists")]
    Exists {
        /// The directory.
        dir: u32,
        /// The name.
        name: String,
    },
    /// A directory operation on something else.
    #[error("inode {ino}: not a directory")]
    NotADirectory {
        /// The inode.
        ino: u32,
    },
    /// A file operation on a directory.
    #[error("inode {ino}: is a directory")]
    IsADirectory {
        /// The inode.
        ino: u32,
    },
    /// rmdir (or rename over) a directory that has entries.
    #[error("inode {ino}: directory not empty")]
    NotEmpty {
        /// The directory.
        ino: u32,
    },
    /// No free blocks, inodes, or room for an attribute: nothing was changed.
    #[error("no space left on device ({what})")]
    NoSpace {
        /// What ran out.
        what: &'static str,
    },
    /// A name over 255 bytes (or a symlink target over a block).
    #[error("name of {len} bytes is too long (at most {max})")]
    NameTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A link count would pass the limit.
    #[error("inode {ino}: too many links")]
    TooManyLinks {
        /// The inode.
        ino: u32,
    },
    /// An argument the operation cannot take.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The operation is not allowed on this inode (a hard link to a directory...).
    #[error("operation not permitted: {0}")]
    NotPermitted(String),
    /// The volume is mounted read-only.
    #[error("read-only file system: {reason}")]
    ReadOnly {
        /// Why (the mount option, or the unsupported features).
        reason: String,
    },
    /// No extended attribute of that name.
    #[error("inode {ino}: no attribute {name:?}")]
    NoAttribute {
        /// The inode.
        ino: u32,
        /// The name.
        name: String,
    },
    /// A caller's buffer is too small for the value.
    #[error("buffer of {have} bytes, {need} needed")]
    Range {
        /// Bytes needed.
        need: usize,
        /// Bytes offered.
        have: usize,
    },
    /// The file would pass the largest size ext4 can map.
    #[error("inode {ino}: {size} bytes is over the largest file size")]
    FileTooLarge {
        /// The inode.
        ino: u32,
        /// The size asked for.
        size: u64,
    },
    /// Something this implementation does not handle (inline data, ea_inode values...).
    #[error("not supported: {0}")]
    NotSupported(String),
    /// An earlier commit failed; the volume takes no more changes (ext4's "aborted
    /// journal"). Unmount and mount again to replay what was committed.
    #[error("the journal was aborted by an earlier failure: {0}")]
    Aborted(String),
}

impl FsError {
    /// The errno a POSIX front end answers with.
    pub fn errno(&self) -> i32 {
        use errno::*;
        match self {
            FsError::Device(_) | FsError::Journal(_) | FsError::Aborted(_) => EIO,
            FsError::Corrupt(_) | FsError::Volume(_) => EUCLEAN,
            FsError::Unsupported(_) | FsError::NotSupported(_) => EOPNOTSUPP,
            FsError::NotFound { .. } | FsError::NoSuchInode { .. } => ENOENT,
            FsError::Exists { .. } => EEXIST,
            FsError::NotADirectory { .. } => ENOTDIR,
            FsError::IsADirectory { .. } => EISDIR,
            FsError::NotEmpty { .. } => ENOTEMPTY,
            FsError::NoSpace { .. } => ENOSPC,
            FsError::NameTooLong { .. } => ENAMETOOLONG,
            FsError::TooManyLinks { .. } => EMLINK,
            FsError::Invalid(_) => EINVAL,
            FsError::NotPermitted(_) => EPERM,
            FsError::ReadOnly { .. } => EROFS,
            FsError::NoAttribute { .. } => ENODATA,
            FsError::Range { .. } => ERANGE,
            FsError::FileTooLarge { .. } => EFBIG,
        }
    }

    /// A corruption found by the write path itself.
    pub(crate) fn corrupt(
        location: impl std::fmt::Display,
        what: &'static str,
        why: impl Into<String>,
    ) -> FsError {
        FsError::Corrupt(FormatError::invalid(what, why).at(location))
    }
}

/// Result of the write path.
pub type Result<T> = std::result::Result<T, FsError>;

/// Shows a name in messages.
pub(crate) fn shown(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_follow_linux() {
        assert_eq!(FsError::NoSpace { what: "blocks" }.errno(), 28);
        assert_eq!(FsError::NotEmpty { ino: 12 }.errno(), 39);
        assert_eq!(FsError::NotEmpty { ino: 12 }.to_string(), "inode 12: directory not empty");
        assert_eq!(FsError::corrupt("inode 5", "extent", "bad").to_string(), "inode 5: extent: bad");
    }
}
