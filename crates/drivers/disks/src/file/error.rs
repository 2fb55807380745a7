//! Errors opening a `file` disk.

use std::io;
use std::path::PathBuf;

/// Why a `file` disk could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileDiskError {
    /// Another opener holds the image (see [`crate::locking`]).
    #[error(transparent)]
    Locked(#[from] crate::locking::LockError),
    /// The file does not exist and no size was given to create it.
    #[error("disk file {path:?} does not exist; give a size to create it")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// Opening or creating the file failed.
    #[error("cannot open disk file {path:?}: {source}")]
    Open {
        /// The path.
        path: PathBuf,
        /// What `open` said.
        #[source]
        source: io::Error,
    },
    /// The file system refused `O_DIRECT`.
    #[error(
        "cannot open disk file {path:?} with O_DIRECT: the file system does not support direct I/O ({source})"
    )]
    DirectUnsupported {
        /// The path.
        path: PathBuf,
        /// What `open` said.
        #[source]
        source: io::Error,
    },
    /// The path is neither a regular file nor a block device.
    #[error("{path:?} is a {kind}, not a regular file or a block device")]
    NotADisk {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A query on the file or device (`fstat`, `BLKGETSIZE64`, `BLKSSZGET`) failed.
    #[error("cannot read the {what} of {path:?}: {source}")]
    Query {
        /// The path.
        path: PathBuf,
        /// What was asked.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Extending the file to the requested size failed.
    #[error("cannot extend disk file {path:?} to {size} bytes: {source}")]
    Extend {
        /// The path.
        path: PathBuf,
        /// The size asked for.
        size: u64,
        /// What `ftruncate` said.
        #[source]
        source: io::Error,
    },
    /// The requested size is not a whole number of sectors.
    #[error("size {size} for {path:?} is not a multiple of its {sector_size}-byte sector size")]
    SizeNotAligned {
        /// The path.
        path: PathBuf,
        /// The size asked for.
        size: u64,
        /// The sector size.
        sector_size: u32,
    },
    /// The medium is smaller than the requested size and cannot grow (a block device, or
    /// a read-only disk), or holds less than one sector.
    #[error("{path:?} holds {available} bytes, not the {size} asked for, and cannot be extended ({why})")]
    TooSmall {
        /// The path.
        path: PathBuf,
        /// The size asked for.
        size: u64,
        /// What there is.
        available: u64,
        /// Why it cannot grow.
        why: &'static str,
    },
    /// An option is out of range.
    #[error("invalid file disk option for {path:?}: {problem}")]
    InvalidOption {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// io_uring could not be set up.
    #[error(
        "io_uring is unavailable for {path:?} (kernel without io_uring, io_uring_disabled sysctl, \
         seccomp filter or RLIMIT_MEMLOCK); use the pool engine: {source}"
    )]
    UringUnavailable {
        /// The path.
        path: PathBuf,
        /// What `io_uring_setup` said.
        #[source]
        source: io::Error,
    },
    /// The I/O threads could not be started.
    #[error("cannot start the I/O threads of disk {path:?}: {source}")]
    Threads {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Building the device failed.
    #[error("cannot build the device for {path:?}: {source}")]
    Device {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: irp::DeviceError,
    },
}
