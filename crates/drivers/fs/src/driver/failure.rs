//! How a request fails: the status it completes with and, for the log, why.

use irp::Status;

use crate::volume::VolumeError;

/// A failed file-system operation: the NT status the IRP completes with and a description
/// for the log (which inode, which structure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct Failure {
    /// The completion status.
    pub status: Status,
    /// What happened.
    pub detail: String,
}

impl Failure {
    /// A failure with `status` and `detail`.
    pub fn new(status: Status, detail: impl Into<String>) -> Failure {
        Failure { status, detail: detail.into() }
    }
}

impl From<Status> for Failure {
    fn from(status: Status) -> Failure {
        Failure { status, detail: String::new() }
    }
}

/// The status of each read-path error: a corrupt structure is `STATUS_FILE_CORRUPT_ERROR`
/// (Linux's `EFSCORRUPTED`), a device failure `STATUS_IO_DEVICE_ERROR`, a missing name
/// `STATUS_OBJECT_NAME_NOT_FOUND`, a symlink loop `STATUS_REPARSE_POINT_NOT_RESOLVED` (ELOOP).
pub fn status_of(e: &VolumeError) -> Status {
    match e {
        VolumeError::Device(_) => Status::IO_DEVICE_ERROR,
        VolumeError::Corrupt(_) | VolumeError::BadInodeNumber { .. } => Status::FILE_CORRUPT_ERROR,
        VolumeError::Unsupported(_) => Status::UNRECOGNIZED_VOLUME,
        VolumeError::NotSupported { .. } => Status::NOT_SUPPORTED,
        VolumeError::NotFound { .. } => Status::OBJECT_NAME_NOT_FOUND,
        VolumeError::NotADirectory { .. } => Status::NOT_A_DIRECTORY,
        VolumeError::NotASymlink { .. } => Status::NOT_A_REPARSE_POINT,
        VolumeError::SymlinkLoop { .. } => Status::REPARSE_POINT_NOT_RESOLVED,
        VolumeError::TooLarge { .. } => Status::FILE_TOO_LARGE,
    }
}

impl From<VolumeError> for Failure {
    fn from(e: VolumeError) -> Failure {
        Failure { status: status_of(&e), detail: e.to_string() }
    }
}
