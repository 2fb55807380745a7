//! What the read path reports: device failures, corrupt structures (with where they
//! were), unsupported features, and the ordinary "no such file" kinds.

use crate::device::DeviceIoError;
use crate::ondisk::FormatError;
use crate::ondisk::features::UnsupportedFeature;

/// A read-path error.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// The device failed.
    #[error(transparent)]
    Device(#[from] DeviceIoError),
    /// A structure on disk is corrupt; the message says which and where.
    #[error(transparent)]
    Corrupt(#[from] FormatError),
    /// The volume uses an INCOMPAT feature we cannot read.
    #[error(transparent)]
    Unsupported(#[from] UnsupportedFeature),
    /// Something this implementation does not handle (inline data, ea_inode values...).
    #[error("inode {ino}: {what} is not supported")]
    NotSupported {
        /// The inode.
        ino: u32,
        /// What it uses.
        what: &'static str,
    },
    /// A path component does not exist.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path (as far as it was resolved).
        path: String,
    },
    /// A directory operation on something else.
    #[error("inode {ino}: not a directory")]
    NotADirectory {
        /// The inode.
        ino: u32,
    },
    /// `read_link` on something else.
    #[error("inode {ino}: not a symbolic link")]
    NotASymlink {
        /// The inode.
        ino: u32,
    },
    /// More than [`super::path::MAX_SYMLINKS`] links followed.
    #[error("{path}: too many levels of symbolic links")]
    SymlinkLoop {
        /// The path being resolved.
        path: String,
    },
    /// A whole-file read of a file over the caller's limit.
    #[error("inode {ino}: {size} bytes is over the {limit}-byte limit of this read")]
    TooLarge {
        /// The inode.
        ino: u32,
        /// Its `i_size`.
        size: u64,
        /// The limit asked for.
        limit: u64,
    },
    /// An inode number outside `1..=s_inodes_count`.
    #[error("inode {ino} out of range (1..={max})")]
    BadInodeNumber {
        /// The number.
        ino: u32,
        /// `s_inodes_count`.
        max: u32,
    },
}

/// Read-path result.
pub type Result<T> = std::result::Result<T, VolumeError>;

/// A corruption found by the volume code itself (not by a decoder).
pub(crate) fn corrupt(
    location: impl std::fmt::Display,
    what: &'static str,
    why: impl Into<String>,
) -> VolumeError {
    VolumeError::Corrupt(FormatError::invalid(what, why).at(location))
}
