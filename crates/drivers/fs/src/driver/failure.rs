//! How a request fails: the status it completes with and, for the log, why.

use irp::Status;

use crate::error::FsError;
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

/// The status of each write-path error: what NT answers where it has a name for it
/// (`STATUS_OBJECT_NAME_COLLISION` for EEXIST, `STATUS_DISK_FULL` for ENOSPC...), else the
/// errno's status ([`Status::from_errno`]). A device or journal failure is
/// `STATUS_IO_DEVICE_ERROR` (the detail names the status from below).
pub fn status_of_fs(e: &FsError) -> Status {
    match e {
        FsError::Volume(v) => status_of(v),
        FsError::Device(_) | FsError::Journal(_) | FsError::Aborted(_) => Status::IO_DEVICE_ERROR,
        FsError::Corrupt(_) => Status::FILE_CORRUPT_ERROR,
        FsError::Unsupported(_) | FsError::NotSupported(_) => Status::NOT_SUPPORTED,
        FsError::NotFound { .. } | FsError::NoSuchInode { .. } => Status::OBJECT_NAME_NOT_FOUND,
        FsError::Exists { .. } => Status::OBJECT_NAME_COLLISION,
        FsError::NotADirectory { .. } => Status::NOT_A_DIRECTORY,
        FsError::IsADirectory { .. } => Status::FILE_IS_A_DIRECTORY,
        FsError::NotEmpty { .. } => Status::DIRECTORY_NOT_EMPTY,
        FsError::NoSpace { .. } => Status::DISK_FULL,
        FsError::NameTooLong { .. } => Status::NAME_TOO_LONG,
        FsError::TooManyLinks { .. } => Status::TOO_MANY_LINKS,
        FsError::Invalid(_) => Status::INVALID_PARAMETER,
        FsError::NotPermitted(_) => Status::ACCESS_DENIED,
        FsError::ReadOnly { .. } => Status::MEDIA_WRITE_PROTECTED,
        FsError::NoAttribute { .. } => Status::NONEXISTENT_EA_ENTRY,
        FsError::Range { .. } => Status::BUFFER_TOO_SMALL,
        FsError::FileTooLarge { .. } => Status::FILE_TOO_LARGE,
    }
}

impl From<FsError> for Failure {
    fn from(e: FsError) -> Failure {
        Failure { status: status_of_fs(&e), detail: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_path_errors_become_nt_statuses() {
        let f = Failure::from(FsError::Exists { dir: 2, name: "x".into() });
        assert_eq!(f.status, Status::OBJECT_NAME_COLLISION);
        assert!(f.detail.contains("\"x\""), "{}", f.detail);
        assert_eq!(status_of_fs(&FsError::NoSpace { what: "blocks" }), Status::DISK_FULL);
        assert_eq!(status_of_fs(&FsError::NotEmpty { ino: 12 }), Status::DIRECTORY_NOT_EMPTY);
        assert_eq!(status_of_fs(&FsError::TooManyLinks { ino: 12 }), Status::TOO_MANY_LINKS);
    }
}
