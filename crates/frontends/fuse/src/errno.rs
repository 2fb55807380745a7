//! The one table from a completion status to the `errno` a FUSE request answers.
//!
//! The base is the I/O manager's own mapping ([`Status::to_errno`]); a few requests read a
//! status the way POSIX names that failure for them:
//!
//! | status | base errno | request | errno |
//! |---|---|---|---|
//! | `STATUS_ACCESS_DENIED` | `EACCES` | `chmod`, `chown`, `utimensat` ([`Op::ChangeAttributes`]) | `EPERM` (not the owner) |
//! | `STATUS_INVALID_DEVICE_REQUEST`, `STATUS_NOT_SUPPORTED` | `EOPNOTSUPP` | `fsync`, `fsyncdir`, `flush` ([`Op::Sync`]) | `EIO`: the data is not known durable |
//! | `STATUS_END_OF_FILE` | `ENXIO` | `read` | none: a read at or past the end returns 0 bytes (the caller does not ask) |
//! | `STATUS_NO_MORE_FILES`, `STATUS_NO_SUCH_FILE` | `ENOENT` | `readdir` | none: the end of the listing (the caller does not ask) |
//!
//! Whatever the status and the request, the answer is never `ENOSYS`: the kernel remembers an
//! `ENOSYS` for the whole connection (an `fsync` answered so turns every later `fsync` of the
//! mount into a silent success, `fs/fuse/file.c`), so a status that would map to it answers
//! `EIO`. A success status asked about here (a bug) also answers `EIO`, never "no error".

use fuser::Errno;
use irp::Status;

/// What kind of request failed, where it changes the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Any request without an entry of its own in the table.
    Other,
    /// `chmod`, `chown`, `utimensat`: POSIX answers `EPERM` to a caller who may not change
    /// the inode's attributes.
    ChangeAttributes,
    /// `fsync`, `fsyncdir`, `flush`: durability requests, which must not look unsupported.
    Sync,
}

/// The errno for a request of kind `op` that completed with `status`.
pub fn errno(status: Status, op: Op) -> Errno {
    let code = match (op, status) {
        (Op::ChangeAttributes, Status::ACCESS_DENIED) => libc::EPERM,
        (Op::Sync, Status::INVALID_DEVICE_REQUEST | Status::NOT_SUPPORTED) => libc::EIO,
        _ => status.to_errno(),
    };
    match code {
        0 | libc::ENOSYS => {
            tracing::error!(%status, ?op, "no errno for this status: answering EIO");
            Errno::EIO
        }
        code => Errno::from_i32(code),
    }
}

/// The errno for a failed request of no particular kind ([`Op::Other`]).
pub fn of(status: Status) -> Errno {
    errno(status, Op::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status the I/O manager names that a file system can complete with.
    const STATUSES: [Status; 38] = [
        Status::UNSUCCESSFUL,
        Status::INVALID_DEVICE_REQUEST,
        Status::INVALID_PARAMETER,
        Status::NO_SUCH_DEVICE,
        Status::NO_SUCH_FILE,
        Status::END_OF_FILE,
        Status::NO_MEMORY,
        Status::ACCESS_DENIED,
        Status::BUFFER_TOO_SMALL,
        Status::OBJECT_NAME_NOT_FOUND,
        Status::OBJECT_NAME_COLLISION,
        Status::DATA_ERROR,
        Status::DISK_FULL,
        Status::FILE_INVALID,
        Status::INSUFFICIENT_RESOURCES,
        Status::MEDIA_WRITE_PROTECTED,
        Status::IO_TIMEOUT,
        Status::FILE_IS_A_DIRECTORY,
        Status::NOT_SUPPORTED,
        Status::DEVICE_DOES_NOT_EXIST,
        Status::INTERNAL_ERROR,
        Status::DIRECTORY_NOT_EMPTY,
        Status::NOT_A_DIRECTORY,
        Status::NAME_TOO_LONG,
        Status::CANCELLED,
        Status::FILE_TOO_LARGE,
        Status::VOLUME_DISMOUNTED,
        Status::IO_DEVICE_ERROR,
        Status::DEVICE_BUSY,
        Status::OBJECT_PATH_NOT_FOUND,
        Status::NO_MORE_FILES,
        Status::FILE_CORRUPT_ERROR,
        Status::UNRECOGNIZED_VOLUME,
        Status::NOT_A_REPARSE_POINT,
        Status::REPARSE_POINT_NOT_RESOLVED,
        Status::NONEXISTENT_EA_ENTRY,
        Status::TOO_MANY_LINKS,
        Status::DELETE_PENDING,
    ];

    #[test]
    fn the_posix_names_of_file_system_failures() {
        let table = [
            (Status::OBJECT_NAME_NOT_FOUND, libc::ENOENT),
            (Status::OBJECT_PATH_NOT_FOUND, libc::ENOENT),
            (Status::OBJECT_NAME_COLLISION, libc::EEXIST),
            (Status::ACCESS_DENIED, libc::EACCES),
            (Status::MEDIA_WRITE_PROTECTED, libc::EROFS),
            (Status::NOT_A_DIRECTORY, libc::ENOTDIR),
            (Status::FILE_IS_A_DIRECTORY, libc::EISDIR),
            (Status::DIRECTORY_NOT_EMPTY, libc::ENOTEMPTY),
            (Status::NAME_TOO_LONG, libc::ENAMETOOLONG),
            (Status::DISK_FULL, libc::ENOSPC),
            (Status::FILE_TOO_LARGE, libc::EFBIG),
            (Status::NONEXISTENT_EA_ENTRY, libc::ENODATA),
            (Status::BUFFER_TOO_SMALL, libc::ERANGE),
            (Status::END_OF_FILE, libc::ENXIO),
            (Status::NOT_A_REPARSE_POINT, libc::EINVAL),
            (Status::REPARSE_POINT_NOT_RESOLVED, libc::ELOOP),
            (Status::FILE_CORRUPT_ERROR, libc::EUCLEAN),
            (Status::IO_DEVICE_ERROR, libc::EIO),
            (Status::INVALID_PARAMETER, libc::EINVAL),
            (Status::NOT_SUPPORTED, libc::EOPNOTSUPP),
            (Status::VOLUME_DISMOUNTED, libc::ENODEV),
            (Status::TOO_MANY_LINKS, libc::EMLINK),
            (Status::DELETE_PENDING, libc::ENOENT),
        ];
        for (status, want) in table {
            assert_eq!(of(status).code(), want, "{status}");
        }
        assert_eq!(errno(Status::ACCESS_DENIED, Op::ChangeAttributes).code(), libc::EPERM);
        assert_eq!(errno(Status::MEDIA_WRITE_PROTECTED, Op::ChangeAttributes).code(), libc::EROFS);
        assert_eq!(errno(Status::INVALID_DEVICE_REQUEST, Op::Sync).code(), libc::EIO);
        assert_eq!(errno(Status::NOT_SUPPORTED, Op::Sync).code(), libc::EIO);
        assert_eq!(errno(Status::DISK_FULL, Op::Sync).code(), libc::ENOSPC);
    }

    #[test]
    fn never_enosys_and_never_success_for_a_failure() {
        for op in [Op::Other, Op::ChangeAttributes, Op::Sync] {
            for status in STATUSES.iter().copied().chain([Status(0xC0FF_EE00), Status::SUCCESS]) {
                let code = errno(status, op).code();
                assert!(code > 0 && code != libc::ENOSYS, "{status} for {op:?} answers {code}");
            }
        }
        assert_eq!(of(Status::SUCCESS).code(), libc::EIO);
        assert_eq!(of(Status(0xC0FF_EE00)).code(), libc::EIO);
    }

    #[test]
    fn everything_else_is_the_io_managers_mapping() {
        for status in STATUSES {
            if status != Status::ACCESS_DENIED {
                assert_eq!(errno(status, Op::ChangeAttributes), of(status), "{status}");
            }
            assert_eq!(of(status).code(), status.to_errno(), "{status}");
        }
    }
}
