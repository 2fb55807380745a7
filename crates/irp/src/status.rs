//! NTSTATUS-style completion codes and their mapping to and from `errno`.

use std::fmt;

/// An NTSTATUS-style completion code (`NTSTATUS`).
///
/// The top two bits are the severity: `0b00` success, `0b01` informational,
/// `0b10` warning, `0b11` error. [`Status::is_success`] is NT's `NT_SUCCESS`
/// (success or informational), so [`Status::PENDING`] counts as success, as in NT.
#[doc(alias = "NTSTATUS")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Status(pub u32);

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $value:expr, $nt:literal, $errno:expr; )*) => {
        impl Status {
            $( $(#[$doc])* #[doc(alias = $nt)] pub const $name: Status = Status($value); )*

            /// The NT name of a known status (`STATUS_...`), or `None`.
            pub fn name(self) -> Option<&'static str> {
                match self { $( Status::$name => Some($nt), )* _ => None }
            }

            /// The `errno` this status maps to (EIO for unknown errors, 0 for success).
            pub fn to_errno(self) -> i32 {
                match self {
                    $( Status::$name => $errno, )*
                    s if s.is_success() => 0,
                    _ => libc::EIO,
                }
            }
        }
    };
}

impl Status {
    /// This status as the sender of a `major` request counts it: `INVALID_DEVICE_REQUEST`
    /// for a request that [succeeds unhandled](crate::MajorFunction::succeeds_unhandled) (a flush
    /// of a device with no cache, ...) is success; anything else is itself.
    pub fn counted_for(self, major: crate::MajorFunction) -> Status {
        if self == Status::INVALID_DEVICE_REQUEST && major.succeeds_unhandled() {
            Status::SUCCESS
        } else {
            self
        }
    }
}

statuses! {
    /// The operation completed successfully.
    SUCCESS = 0x0000_0000, "STATUS_SUCCESS", 0;
    /// The operation is in progress; the IRP was marked pending (`IoMarkIrpPending`).
    PENDING = 0x0000_0103, "STATUS_PENDING", 0;
    /// Returned by a completion routine that keeps the IRP and completes it later.
    MORE_PROCESSING_REQUIRED = 0xC000_0016, "STATUS_MORE_PROCESSING_REQUIRED", libc::EIO;
    /// Generic failure.
    UNSUCCESSFUL = 0xC000_0001, "STATUS_UNSUCCESSFUL", libc::EIO;
    /// The device does not handle this major function.
    INVALID_DEVICE_REQUEST = 0xC000_0010, "STATUS_INVALID_DEVICE_REQUEST", libc::EOPNOTSUPP;
    /// A parameter was out of range or malformed.
    INVALID_PARAMETER = 0xC000_000D, "STATUS_INVALID_PARAMETER", libc::EINVAL;
    /// No such device.
    NO_SUCH_DEVICE = 0xC000_000E, "STATUS_NO_SUCH_DEVICE", libc::ENODEV;
    /// The file does not exist.
    NO_SUCH_FILE = 0xC000_000F, "STATUS_NO_SUCH_FILE", libc::ENOENT;
    /// Read past the end of the file or device.
    END_OF_FILE = 0xC000_0011, "STATUS_END_OF_FILE", libc::ENXIO;
    /// Not enough memory.
    NO_MEMORY = 0xC000_0017, "STATUS_NO_MEMORY", libc::ENOMEM;
    /// The handle lacks the access right the operation needs.
    ACCESS_DENIED = 0xC000_0022, "STATUS_ACCESS_DENIED", libc::EACCES;
    /// An output buffer is too small.
    BUFFER_TOO_SMALL = 0xC000_0023, "STATUS_BUFFER_TOO_SMALL", libc::ERANGE;
    /// The object name was not found.
    OBJECT_NAME_NOT_FOUND = 0xC000_0034, "STATUS_OBJECT_NAME_NOT_FOUND", libc::ENOENT;
    /// The object name already exists.
    OBJECT_NAME_COLLISION = 0xC000_0035, "STATUS_OBJECT_NAME_COLLISION", libc::EEXIST;
    /// Data error (CRC, corrupt media).
    DATA_ERROR = 0xC000_003E, "STATUS_DATA_ERROR", libc::EBADMSG;
    /// The disk is full.
    DISK_FULL = 0xC000_007F, "STATUS_DISK_FULL", libc::ENOSPC;
    /// The file is invalid (a bad volume control block).
    FILE_INVALID = 0xC000_0098, "STATUS_FILE_INVALID", libc::ESTALE;
    /// Insufficient system resources (including the locked-memory limit).
    INSUFFICIENT_RESOURCES = 0xC000_009A, "STATUS_INSUFFICIENT_RESOURCES", libc::EAGAIN;
    /// The media is write protected (read-only volume).
    MEDIA_WRITE_PROTECTED = 0xC000_00A2, "STATUS_MEDIA_WRITE_PROTECTED", libc::EROFS;
    /// The I/O timed out.
    IO_TIMEOUT = 0xC000_00B5, "STATUS_IO_TIMEOUT", libc::ETIMEDOUT;
    /// The target is a directory.
    FILE_IS_A_DIRECTORY = 0xC000_00BA, "STATUS_FILE_IS_A_DIRECTORY", libc::EISDIR;
    /// The request is not supported.
    NOT_SUPPORTED = 0xC000_00BB, "STATUS_NOT_SUPPORTED", libc::ENOTSUP;
    /// The device does not exist (removed).
    DEVICE_DOES_NOT_EXIST = 0xC000_00C0, "STATUS_DEVICE_DOES_NOT_EXIST", libc::ENXIO;
    /// An internal error (used for verifier-repaired completions).
    INTERNAL_ERROR = 0xC000_00E5, "STATUS_INTERNAL_ERROR", libc::EIO;
    /// The directory is not empty.
    DIRECTORY_NOT_EMPTY = 0xC000_0101, "STATUS_DIRECTORY_NOT_EMPTY", libc::ENOTEMPTY;
    /// The target is not a directory.
    NOT_A_DIRECTORY = 0xC000_0103, "STATUS_NOT_A_DIRECTORY", libc::ENOTDIR;
    /// A name is too long.
    NAME_TOO_LONG = 0xC000_0106, "STATUS_NAME_TOO_LONG", libc::ENAMETOOLONG;
    /// The I/O request was cancelled (`IoCancelIrp`).
    CANCELLED = 0xC000_0120, "STATUS_CANCELLED", libc::ECANCELED;
    /// The file is too large.
    FILE_TOO_LARGE = 0xC000_0904, "STATUS_FILE_TOO_LARGE", libc::EFBIG;
    /// The connection was reset.
    CONNECTION_RESET = 0xC000_020D, "STATUS_CONNECTION_RESET", libc::ECONNRESET;
    /// The volume was dismounted.
    VOLUME_DISMOUNTED = 0xC000_026E, "STATUS_VOLUME_DISMOUNTED", libc::ENODEV;
    /// A device I/O error.
    IO_DEVICE_ERROR = 0xC000_0185, "STATUS_IO_DEVICE_ERROR", libc::EIO;
    /// The device is busy; try again.
    DEVICE_BUSY = 0x8000_0011, "STATUS_DEVICE_BUSY", libc::EBUSY;
    /// A directory of the path does not exist (a missing name before the last one).
    OBJECT_PATH_NOT_FOUND = 0xC000_003A, "STATUS_OBJECT_PATH_NOT_FOUND", libc::ENOENT;
    /// The output buffer holds part of the answer, the part that fits (a warning, not an
    /// error): an `FSCTL_QUERY_ALLOCATED_RANGES` with more ranges than room.
    BUFFER_OVERFLOW = 0x8000_0005, "STATUS_BUFFER_OVERFLOW", libc::EOVERFLOW;
    /// A directory enumeration has returned every entry (a warning, not an error).
    NO_MORE_FILES = 0x8000_0006, "STATUS_NO_MORE_FILES", libc::ENOENT;
    /// A file-system structure is corrupt (Linux's EFSCORRUPTED, which is EUCLEAN).
    FILE_CORRUPT_ERROR = 0xC000_0102, "STATUS_FILE_CORRUPT_ERROR", libc::EUCLEAN;
    /// The volume is not one this file system can mount (bad superblock, unknown feature).
    UNRECOGNIZED_VOLUME = 0xC000_014F, "STATUS_UNRECOGNIZED_VOLUME", libc::EINVAL;
    /// The file is not a reparse point (`readlink` of something that is not a symbolic link).
    NOT_A_REPARSE_POINT = 0xC000_0275, "STATUS_NOT_A_REPARSE_POINT", libc::EINVAL;
    /// A reparse point (symbolic link) could not be resolved: too many levels (ELOOP).
    REPARSE_POINT_NOT_RESOLVED = 0xC000_0280, "STATUS_REPARSE_POINT_NOT_RESOLVED", libc::ELOOP;
    /// The extended attribute (xattr) does not exist (ENODATA, which is ENOATTR).
    NONEXISTENT_EA_ENTRY = 0xC000_0051, "STATUS_NONEXISTENT_EA_ENTRY", libc::ENODATA;
    /// A hard link would pass the file's most links (EMLINK).
    TOO_MANY_LINKS = 0xC000_0265, "STATUS_TOO_MANY_LINKS", libc::EMLINK;
    /// The file is being deleted: its name goes when its last handle is closed, and it
    /// cannot be opened meanwhile (NT's delete-pending state; POSIX has none, so ENOENT).
    DELETE_PENDING = 0xC000_0056, "STATUS_DELETE_PENDING", libc::ENOENT;
}

impl Status {
    /// `NT_SUCCESS(status)`: success or informational severity (includes `PENDING`).
    #[doc(alias = "NT_SUCCESS")]
    pub const fn is_success(self) -> bool {
        (self.0 as i32) >= 0
    }

    /// Error severity (`NT_ERROR`).
    #[doc(alias = "NT_ERROR")]
    pub const fn is_error(self) -> bool {
        self.0 >> 30 == 0b11
    }

    /// Maps an `errno` value to a status (the inverse of [`Status::to_errno`]
    /// for every errno this crate produces).
    pub fn from_errno(errno: i32) -> Status {
        match errno {
            0 => Status::SUCCESS,
            libc::EIO => Status::IO_DEVICE_ERROR,
            libc::EOPNOTSUPP | libc::ENOSYS | libc::ENOTTY => Status::INVALID_DEVICE_REQUEST,
            libc::EINVAL => Status::INVALID_PARAMETER,
            libc::ENODEV => Status::NO_SUCH_DEVICE,
            libc::ENOENT => Status::OBJECT_NAME_NOT_FOUND,
            libc::ENXIO => Status::END_OF_FILE,
            libc::ENOMEM => Status::NO_MEMORY,
            libc::EACCES | libc::EPERM => Status::ACCESS_DENIED,
            libc::ERANGE => Status::BUFFER_TOO_SMALL,
            libc::EEXIST => Status::OBJECT_NAME_COLLISION,
            libc::EBADMSG => Status::DATA_ERROR,
            libc::ENOSPC | libc::EDQUOT => Status::DISK_FULL,
            libc::ESTALE => Status::FILE_INVALID,
            libc::EAGAIN => Status::INSUFFICIENT_RESOURCES,
            libc::EROFS => Status::MEDIA_WRITE_PROTECTED,
            libc::ETIMEDOUT => Status::IO_TIMEOUT,
            libc::EISDIR => Status::FILE_IS_A_DIRECTORY,
            libc::ENOTEMPTY => Status::DIRECTORY_NOT_EMPTY,
            libc::ENOTDIR => Status::NOT_A_DIRECTORY,
            libc::ENAMETOOLONG => Status::NAME_TOO_LONG,
            libc::ECANCELED => Status::CANCELLED,
            libc::EFBIG => Status::FILE_TOO_LARGE,
            libc::ECONNRESET | libc::EPIPE | libc::ESHUTDOWN => Status::CONNECTION_RESET,
            libc::EBUSY => Status::DEVICE_BUSY,
            libc::EUCLEAN => Status::FILE_CORRUPT_ERROR,
            libc::ELOOP => Status::REPARSE_POINT_NOT_RESOLVED,
            libc::ENODATA => Status::NONEXISTENT_EA_ENTRY,
            libc::EMLINK => Status::TOO_MANY_LINKS,
            _ => Status::IO_DEVICE_ERROR,
        }
    }

    /// Maps an [`std::io::Error`] to a status by its raw OS error, or by kind.
    pub fn from_io_error(err: &std::io::Error) -> Status {
        if let Some(errno) = err.raw_os_error() {
            return Status::from_errno(errno);
        }
        use std::io::ErrorKind as K;
        match err.kind() {
            K::NotFound => Status::OBJECT_NAME_NOT_FOUND,
            K::PermissionDenied => Status::ACCESS_DENIED,
            K::InvalidInput | K::InvalidData => Status::INVALID_PARAMETER,
            K::UnexpectedEof => Status::END_OF_FILE,
            K::OutOfMemory => Status::NO_MEMORY,
            K::TimedOut => Status::IO_TIMEOUT,
            K::Unsupported => Status::NOT_SUPPORTED,
            K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted => Status::CONNECTION_RESET,
            _ => Status::IO_DEVICE_ERROR,
        }
    }

    /// Converts to `Result`: `Ok(())` for success severities, `Err(self)` otherwise.
    pub fn ok(self) -> Result<(), Status> {
        if self.is_success() { Ok(()) } else { Err(self) }
    }

    /// An [`std::io::Error`] carrying this status's errno.
    pub fn to_io_error(self) -> std::io::Error {
        std::io::Error::from_raw_os_error(self.to_errno())
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "NTSTATUS({:#010x})", self.0),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#010x})", self.0),
            None => write!(f, "NTSTATUS {:#010x}", self.0),
        }
    }
}

impl std::error::Error for Status {}

impl From<Status> for std::io::Error {
    fn from(status: Status) -> Self {
        status.to_io_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity() {
        assert!(Status::SUCCESS.is_success());
        assert!(Status::PENDING.is_success());
        assert!(!Status::IO_DEVICE_ERROR.is_success());
        assert!(Status::IO_DEVICE_ERROR.is_error());
        assert!(!Status::DEVICE_BUSY.is_success());
        assert!(!Status::DEVICE_BUSY.is_error());
    }

    #[test]
    fn errno_round_trip_for_every_named_error() {
        let all = [
            Status::INVALID_DEVICE_REQUEST,
            Status::INVALID_PARAMETER,
            Status::NO_SUCH_DEVICE,
            Status::END_OF_FILE,
            Status::NO_MEMORY,
            Status::ACCESS_DENIED,
            Status::OBJECT_NAME_NOT_FOUND,
            Status::OBJECT_NAME_COLLISION,
            Status::DISK_FULL,
            Status::MEDIA_WRITE_PROTECTED,
            Status::IO_TIMEOUT,
            Status::CANCELLED,
            Status::IO_DEVICE_ERROR,
            Status::NOT_A_DIRECTORY,
            Status::FILE_IS_A_DIRECTORY,
            Status::DIRECTORY_NOT_EMPTY,
            Status::NAME_TOO_LONG,
            Status::DEVICE_BUSY,
            Status::CONNECTION_RESET,
            Status::FILE_TOO_LARGE,
            Status::DATA_ERROR,
            Status::BUFFER_TOO_SMALL,
            Status::INSUFFICIENT_RESOURCES,
            Status::FILE_INVALID,
            Status::OBJECT_PATH_NOT_FOUND,
            Status::NO_MORE_FILES,
            Status::FILE_CORRUPT_ERROR,
            Status::UNRECOGNIZED_VOLUME,
            Status::NOT_A_REPARSE_POINT,
            Status::REPARSE_POINT_NOT_RESOLVED,
            Status::NONEXISTENT_EA_ENTRY,
            Status::TOO_MANY_LINKS,
        ];
        for s in all {
            let e = s.to_errno();
            assert_ne!(e, 0, "{s}");
            assert_eq!(Status::from_errno(e).to_errno(), e, "{s}");
        }
        assert_eq!(Status::from_errno(libc::EIO), Status::IO_DEVICE_ERROR);
        assert_eq!(Status::from_errno(libc::EROFS), Status::MEDIA_WRITE_PROTECTED);
        assert_eq!(Status::from_errno(libc::EPERM), Status::ACCESS_DENIED);
        assert_eq!(Status::from_errno(9999), Status::IO_DEVICE_ERROR);
        assert_eq!(Status::SUCCESS.to_errno(), 0);
        // A partial answer is not something a system call fails with: EOVERFLOW from the
        // kernel stays an I/O error.
        assert_eq!(Status::BUFFER_OVERFLOW.to_errno(), libc::EOVERFLOW);
        assert_eq!(Status::from_errno(libc::EOVERFLOW), Status::IO_DEVICE_ERROR);
    }

    #[test]
    fn display_names() {
        assert_eq!(format!("{:?}", Status::ACCESS_DENIED), "STATUS_ACCESS_DENIED");
        assert_eq!(format!("{}", Status(0xC0DE_0001)), "NTSTATUS 0xc0de0001");
        let io: std::io::Error = Status::DISK_FULL.into();
        assert_eq!(io.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(Status::from_io_error(&io), Status::DISK_FULL);
    }
}
