//! Errors opening a `pmem` disk.

use std::io;
use std::path::PathBuf;

/// Why a `pmem` disk could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PmemError {
    /// Another opener holds the image (see [`crate::locking`]).
    #[error(transparent)]
    Locked(#[from] crate::locking::LockError),
    /// The file does not exist and no size was given to create it.
    #[error("pmem file {path:?} does not exist; give a size to create it")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// Opening or creating the file failed.
    #[error("cannot open pmem file {path:?}: {source}")]
    Open {
        /// The path.
        path: PathBuf,
        /// What `open` said.
        #[source]
        source: io::Error,
    },
    /// The path is not a regular file.
    #[error("{path:?} is a {kind}, not a regular file")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// `fstat` of the open file failed.
    #[error("cannot read the size of pmem file {path:?}: {source}")]
    Metadata {
        /// The path.
        path: PathBuf,
        /// What `fstat` said.
        #[source]
        source: io::Error,
    },
    /// The requested size is 0 or not a whole number of sectors.
    #[error("size {size} for pmem file {path:?} is not a positive multiple of the {sector_size}-byte sector")]
    SizeNotAligned {
        /// The path.
        path: PathBuf,
        /// The size asked for.
        size: u64,
        /// The sector size.
        sector_size: u32,
    },
    /// The file holds less than one sector and no size was given.
    #[error(
        "pmem file {path:?} holds {len} bytes, less than one {sector_size}-byte sector; give a size to extend it"
    )]
    Empty {
        /// The path.
        path: PathBuf,
        /// The file's length.
        len: u64,
        /// The sector size.
        sector_size: u32,
    },
    /// The disk does not fit in the address space.
    #[error("pmem file {path:?}: {size} bytes do not fit in this process's address space")]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The size.
        size: u64,
    },
    /// Extending the file (`ftruncate`) or allocating its blocks (`posix_fallocate`) failed.
    #[error("cannot {what} pmem file {path:?} to {size} bytes: {source}")]
    Extend {
        /// The path.
        path: PathBuf,
        /// "extend" or "preallocate".
        what: &'static str,
        /// The size asked for.
        size: u64,
        /// What the system call said.
        #[source]
        source: io::Error,
    },
    /// `sync=map-sync` was asked for and the file system refused `MAP_SYNC` (it is not on a
    /// DAX file system, or the kernel predates 4.15).
    #[error(
        "pmem file {path:?} cannot be mapped with MAP_SYNC (not on a DAX file system?); \
         use sync=auto or sync=msync: {source}"
    )]
    MapSyncUnsupported {
        /// The path.
        path: PathBuf,
        /// What `mmap` said.
        #[source]
        source: io::Error,
    },
    /// `mmap` failed.
    #[error("cannot map pmem file {path:?} ({size} bytes): {source}")]
    Map {
        /// The path.
        path: PathBuf,
        /// The length asked for.
        size: u64,
        /// What `mmap` said.
        #[source]
        source: io::Error,
    },
    /// Building the device failed.
    #[error("cannot build the device for pmem file {path:?}: {source}")]
    Device {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: irp::DeviceError,
    },
}
