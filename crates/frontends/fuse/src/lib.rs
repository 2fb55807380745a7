//! # fuse — irpstack's FUSE front end
//!
//! Mounts the file system at the top of a stack (`fs / cache(size=64M) / file(path=x.img)`)
//! in the kernel through FUSE ([fuser] 0.18): every request the kernel sends becomes IRPs on
//! I/O manager handles of that stack, as an application's calls would on Windows.
//!
//! | FUSE request | IRPs |
//! |---|---|
//! | `lookup` | `IRP_MJ_CREATE` of the path (`FILE_OPEN_REPARSE_POINT`, read-attributes access), `IRP_MJ_QUERY_INFORMATION` (stat class), cleanup and close |
//! | `getattr`, `readlink`, `getxattr`, `listxattr` | create by inode number (`FILE_OPEN_BY_FILE_ID`), then the query or `FSCTL_GET_REPARSE_POINT` / the xattr controls |
//! | `setattr` | `IRP_MJ_SET_INFORMATION`: POSIX class (mode, owner), `FileEndOfFileInformation`, `FileBasicInformation` (times) |
//! | `open`, `opendir` | `IRP_MJ_CREATE` by inode number with the access of the flags (`O_TRUNC`: `FILE_OVERWRITE`); the handle lives until `release` |
//! | `create`, `mkdir`, `mknod` | `IRP_MJ_CREATE` of the path: `FILE_OPEN_IF` / `FILE_CREATE` (`O_EXCL`) / `FILE_OVERWRITE_IF` (`O_TRUNC`), `FILE_DIRECTORY_FILE`; devices, FIFOs, sockets: the `MakeNode` control |
//! | `symlink` | the `CreateSymlink` control on the directory (`FSCTL_SET_REPARSE_POINT`) |
//! | `link`, `rename` | `FileLinkInformation`, `FileRenameInformation` (`RENAME_NOREPLACE`: not `ReplaceIfExists`; `RENAME_EXCHANGE`, `RENAME_WHITEOUT`: `EINVAL`) |
//! | `unlink`, `rmdir` | create for `DELETE`, `FileDispositionInformationEx` (POSIX semantics), close (the cleanup deletes the name) |
//! | `read`, `write` | `IRP_MJ_READ`, `IRP_MJ_WRITE` on the open's handle |
//! | `readdir`, `readdirplus` | `IRP_MJ_DIRECTORY_CONTROL` queries resuming after the kernel's offset (`SL_INDEX_SPECIFIED`); plus: the stat class of each entry |
//! | `fsync` / `fsync(datasync)` | `IRP_MJ_FLUSH_BUFFERS` on the open's handle / with `FILE_DATA_SYNC_ONLY` |
//! | `fsyncdir` | `IRP_MJ_FLUSH_BUFFERS` on a handle of the directory opened for writing (`FILE_ADD_FILE`) |
//! | `flush` (every `close`) | the open's deferred write errors: `IRP_MJ_FLUSH_BUFFERS` with `FILE_DATA_ONLY` (nothing is synced) |
//! | `release`, `releasedir` | `IRP_MJ_CLEANUP`, `IRP_MJ_CLOSE` |
//! | `statfs` | `IRP_MJ_QUERY_VOLUME_INFORMATION` |
//! | `fallocate`, `lseek(SEEK_DATA/HOLE)` | the `Allocate` and `Seek` controls |
//! | `copy_file_range` | reads and writes |
//! | `ioctl` [`SYNC_IOCTL`] (`irpstack sync`) | `IRP_MJ_FLUSH_BUFFERS` on the volume handle |
//! | unmount | the session ends, open handles are closed; the I/O manager's owner sends `IRP_MJ_SHUTDOWN` |
//!
//! Node ids are inode numbers (the root: 1 ↔ 2, [`nodes`]); lookup counts are kept and
//! given back by `forget`. Errors map to errno by one table ([`errno`]), never `ENOSYS`
//! for `fsync`, `fsyncdir` or `flush` (the kernel would make every later `fsync` a silent
//! success). Requests are served by several threads, each on its own `/dev/fuse` descriptor;
//! writes up to 1 MiB (`max_write`), `FUSE_PARALLEL_DIROPS`, readdirplus. Files are opened
//! without `FOPEN_DIRECT_IO`, so shared `mmap` works (SQLite's WAL index needs it).
//!
//! Limits: the I/O manager's paths are strings, so a name that is not UTF-8 answers
//! `EILSEQ`; a plain FUSE mount gets no `syncfs` from the kernel — [`sync_mount`] is how
//! to flush the volume.

mod attr;
mod caller;
mod dirs;
mod dispatch;
mod entries;
pub mod errno;
mod files;
mod filesystem;
mod names;
pub mod nodes;
mod opens;
mod session;
mod volume;
mod xattrs;

pub use filesystem::{FsOptions, IrpFs};
pub use session::{
    MountConfig, MountEntry, MountError, Mounted, Unmount, Unmounter, check_mountpoint, mount, mounted_at,
};
pub use volume::{SYNC_IOCTL, SYNC_MAGIC, SyncError, sync_mount};
