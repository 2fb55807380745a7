//! What `IRP_MJ_SET_INFORMATION` changes, by information class: the size
//! (`FileEndOfFileInformation`, `ftruncate`), the allocation, the times and attributes
//! (`FileBasicInformation`, `utimensat`), the mode and owner (irpstack's POSIX class:
//! `chmod`, `chown`), the name (`FileRenameInformation`, `rename`), a new name
//! (`FileLinkInformation`, `link`) and deletion (`FileDispositionInformation`, and
//! `FileDispositionInformationEx` with POSIX semantics: `unlink`).

use super::{FileAttributes, FileTime};
use crate::InformationClass;

/// How a set-times request changes one time (`utimensat`'s `UTIME_OMIT`, `UTIME_NOW`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TimeChange {
    /// Leave it (`UTIME_OMIT`; NT: a time of 0).
    #[default]
    Keep,
    /// The current time (`UTIME_NOW`).
    Now,
    /// This time.
    Set(FileTime),
}

/// The changes of a `FileBasicInformation` set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BasicChanges {
    /// `CreationTime`.
    pub creation_time: TimeChange,
    /// `LastAccessTime` (`atime`).
    pub last_access_time: TimeChange,
    /// `LastWriteTime` (`mtime`).
    pub last_write_time: TimeChange,
    /// `ChangeTime` (`ctime`; POSIX sets it to now on any change, whatever is asked).
    pub change_time: TimeChange,
    /// New attributes (`FILE_ATTRIBUTE_READONLY` clears every write bit), or none.
    pub file_attributes: Option<FileAttributes>,
}

/// The changes of irpstack's POSIX class: `chmod` and `chown` (`None` leaves a field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PosixChanges {
    /// New permission bits (`0o7777` at most).
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
}

/// A new name for a file (`FILE_RENAME_INFORMATION`, `FILE_LINK_INFORMATION`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NameChange {
    /// The new path within the volume (`FileName`, relative to the root).
    pub target: String,
    /// `ReplaceIfExists`: an existing file at `target` is replaced (POSIX `rename` always
    /// replaces; `RENAME_NOREPLACE` is `false`).
    pub replace_if_exists: bool,
}

/// An `IRP_MJ_SET_INFORMATION` request: the class and its new values (`Parameters.SetFile`
/// with its buffer).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SetFileInformation {
    /// `FileEndOfFileInformation`: truncate or extend to this size (`ftruncate`).
    #[doc(alias = "FILE_END_OF_FILE_INFORMATION")]
    EndOfFile(u64),
    /// `FileAllocationInformation`: allocate (or free) to this many bytes without changing
    /// the size.
    #[doc(alias = "FILE_ALLOCATION_INFORMATION")]
    Allocation(u64),
    /// `FileBasicInformation`: times and attributes.
    #[doc(alias = "FILE_BASIC_INFORMATION")]
    Basic(BasicChanges),
    /// irpstack's POSIX class: mode and owner.
    Posix(PosixChanges),
    /// `FileRenameInformation`: move the file to a new name.
    #[doc(alias = "FILE_RENAME_INFORMATION")]
    Rename(NameChange),
    /// `FileLinkInformation`: give the file another name (a hard link).
    #[doc(alias = "FILE_LINK_INFORMATION")]
    Link(NameChange),
    /// `FileDispositionInformation`: delete the name when the last handle is closed
    /// (`true`), or not any more (`false`).
    #[doc(alias = "FILE_DISPOSITION_INFORMATION")]
    Disposition {
        /// `DeleteFile`.
        delete: bool,
    },
    /// `FileDispositionInformationEx`: as [`SetFileInformation::Disposition`], or with
    /// `FILE_DISPOSITION_POSIX_SEMANTICS` the name goes when *this* handle is closed, while
    /// other handles still have the file open (POSIX `unlink`: they read and write it until
    /// their last close frees it).
    #[doc(alias = "FILE_DISPOSITION_INFORMATION_EX")]
    #[doc(alias = "FILE_DISPOSITION_POSIX_SEMANTICS")]
    DispositionEx {
        /// `FILE_DISPOSITION_DELETE` (false: `FILE_DISPOSITION_DO_NOT_DELETE`).
        delete: bool,
        /// `FILE_DISPOSITION_POSIX_SEMANTICS`.
        posix_semantics: bool,
    },
}

impl SetFileInformation {
    /// Its information class.
    pub fn class(&self) -> InformationClass {
        match self {
            SetFileInformation::EndOfFile(_) => InformationClass::EndOfFile,
            SetFileInformation::Allocation(_) => InformationClass::Allocation,
            SetFileInformation::Basic(_) => InformationClass::Basic,
            SetFileInformation::Posix(_) => InformationClass::Posix,
            SetFileInformation::Rename(_) => InformationClass::Rename,
            SetFileInformation::Link(_) => InformationClass::Link,
            SetFileInformation::Disposition { .. } => InformationClass::Disposition,
            SetFileInformation::DispositionEx { .. } => InformationClass::DispositionEx,
        }
    }
}
