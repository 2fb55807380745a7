//! The file vocabulary: what a file system is asked and what it answers, above the block
//! vocabulary of [`block`](crate::block).
//!
//! - opening: [`CreateRequest`] ([`IoManager::create`](crate::IoManager::create)) with a
//!   [`CreateDisposition`] and [`CreateOptions`], the caller's [`Credentials`], and the
//!   [`CreateAction`] the open took;
//! - querying: [`FileInformation`] by [`InformationClass`](crate::InformationClass) —
//!   [`FileBasicInformation`], [`FileStandardInformation`], [`FileStatInformation`];
//! - changing: [`SetFileInformation`] (size, allocation, times, mode and owner, rename,
//!   link, disposition);
//! - enumerating: [`QueryDirectory`] and the [`DirectoryEntry`]s it returns;
//! - irpstack's extensions, for what POSIX needs and NT names otherwise: [`FsControl`]
//!   (symlinks, device nodes, xattrs, fallocate, seek data/hole);
//! - the volume: [`VolumeStat`].
//!
//! Answers travel in the IRP's system buffer in the versioned encoding of [`codec`];
//! [`Handle`](crate::Handle)'s file methods (`query_stat`, `list_directory`, `read_link`...)
//! build the requests and decode the answers, so callers never build raw IRPs.

pub mod codec;
mod create;
mod credentials;
mod directory;
mod fsctl;
mod handle;
mod information;
mod kind;
mod pattern;
mod set;
mod time;
mod volume;

pub use codec::{DecodeError, ENCODING_VERSION};
pub use create::{CreateAction, CreateDisposition, CreateOptions, CreateRequest};
pub use credentials::Credentials;
pub use directory::{
    DirectoryEntry, ENTRIES_HEADER_LEN, MINOR_QUERY_DIRECTORY, QueryDirectory, QueryDirectoryFlags,
    decode_entries, encode_entries,
};
pub use fsctl::{AllocateMode, FsControl, FsControlOutput, MINOR_USER_FS_REQUEST, SeekWhence, XattrSetMode};
pub use information::{FileBasicInformation, FileInformation, FileStandardInformation, FileStatInformation};
pub use kind::{FileAttributes, FileKind, mode};
pub use pattern::name_matches;
pub use set::{BasicChanges, NameChange, PosixChanges, SetFileInformation, TimeChange};
pub use time::FileTime;
pub use volume::{VolumeInformationClass, VolumeStat};

/// The write offset that means "at the end of the file, whatever it is then"
/// (`FILE_WRITE_TO_END_OF_FILE`, POSIX `O_APPEND`): the file system picks the offset and
/// writes there atomically, so concurrent appends never overlap. A handle opened with
/// [`Access::APPEND`](crate::Access::APPEND) but not [`Access::WRITE`](crate::Access::WRITE)
/// always writes at the end.
#[doc(alias = "FILE_WRITE_TO_END_OF_FILE")]
pub const WRITE_TO_END_OF_FILE: u64 = u64::MAX;
