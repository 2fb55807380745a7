//! What `IRP_MJ_QUERY_INFORMATION` answers for a file, by information class: NT's basic
//! (times, attributes) and standard (sizes, links, delete pending, directory) classes, and
//! irpstack's stat class (everything POSIX `stat` reports, with nanosecond times). The
//! file system writes the answer into the system buffer with [`FileInformation::encode`].

use super::codec::{DecodeError, Decoder, Encoder, Kind};
use super::{FileAttributes, FileKind, FileTime};
use crate::InformationClass;

/// `FILE_BASIC_INFORMATION` (`FileBasicInformation`): the four times and the attributes.
#[doc(alias = "FILE_BASIC_INFORMATION")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileBasicInformation {
    /// `CreationTime` (ext4's `i_crtime`, POSIX's birth time).
    pub creation_time: FileTime,
    /// `LastAccessTime` (`st_atime`).
    pub last_access_time: FileTime,
    /// `LastWriteTime` (`st_mtime`).
    pub last_write_time: FileTime,
    /// `ChangeTime` (`st_ctime`).
    pub change_time: FileTime,
    /// `FileAttributes`.
    pub file_attributes: FileAttributes,
}

/// `FILE_STANDARD_INFORMATION` (`FileStandardInformation`): sizes, links, state.
///
/// A file system completes the query with `IoStatus.Information` = `end_of_file`, so
/// [`Handle::query_size`](crate::Handle::query_size) works on files as on disks.
#[doc(alias = "FILE_STANDARD_INFORMATION")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStandardInformation {
    /// `AllocationSize`: bytes allocated on the volume.
    pub allocation_size: u64,
    /// `EndOfFile`: the size in bytes.
    pub end_of_file: u64,
    /// `NumberOfLinks`.
    pub number_of_links: u32,
    /// `DeletePending`: the name goes when the last handle is closed.
    pub delete_pending: bool,
    /// `Directory`.
    pub directory: bool,
}

/// irpstack's stat class: what POSIX `stat` reports. NT's nearest is
/// `FILE_STAT_LX_INFORMATION` (`FileStatLxInformation`, the class WSL reads).
#[doc(alias = "FILE_STAT_LX_INFORMATION")]
#[doc(alias = "FileStatLxInformation")]
#[doc(alias = "stat")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStatInformation {
    /// The inode number (`st_ino`; NT's `FileId`).
    pub ino: u64,
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    /// Hard links (`st_nlink`).
    pub nlink: u32,
    /// Owner (`st_uid`).
    pub uid: u32,
    /// Group (`st_gid`).
    pub gid: u32,
    /// Device major number of a device file (`major(st_rdev)`).
    pub rdev_major: u32,
    /// Device minor number of a device file (`minor(st_rdev)`).
    pub rdev_minor: u32,
    /// Size in bytes (`st_size`).
    pub size: u64,
    /// Space used, in 512-byte units (`st_blocks`).
    pub blocks: u64,
    /// The preferred I/O size (`st_blksize`): the volume's block size.
    pub block_size: u32,
    /// `st_atim`.
    pub atime: FileTime,
    /// `st_mtim`.
    pub mtime: FileTime,
    /// `st_ctim`.
    pub ctime: FileTime,
    /// Birth time (`statx`'s `stx_btime`).
    pub btime: FileTime,
}

impl FileStatInformation {
    /// The file's type.
    pub fn kind(&self) -> FileKind {
        FileKind::from_mode(self.mode)
    }

    /// The permission bits (`mode & 0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode & super::kind::mode::PERMISSIONS
    }

    /// The basic class of the same file.
    pub fn basic(&self) -> FileBasicInformation {
        FileBasicInformation {
            creation_time: self.btime,
            last_access_time: self.atime,
            last_write_time: self.mtime,
            change_time: self.ctime,
            file_attributes: FileAttributes::for_mode(self.kind(), self.mode),
        }
    }

    /// The standard class of the same file (`delete_pending` as given).
    pub fn standard(&self, delete_pending: bool) -> FileStandardInformation {
        FileStandardInformation {
            allocation_size: self.blocks.saturating_mul(512),
            end_of_file: self.size,
            number_of_links: self.nlink,
            delete_pending,
            directory: self.kind() == FileKind::Directory,
        }
    }
}

/// An answer to `IRP_MJ_QUERY_INFORMATION`, one variant per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileInformation {
    /// [`InformationClass::Basic`].
    Basic(FileBasicInformation),
    /// [`InformationClass::Standard`].
    Standard(FileStandardInformation),
    /// [`InformationClass::Stat`].
    Stat(FileStatInformation),
}

impl FileInformation {
    /// Its class.
    pub fn class(&self) -> InformationClass {
        match self {
            FileInformation::Basic(_) => InformationClass::Basic,
            FileInformation::Standard(_) => InformationClass::Standard,
            FileInformation::Stat(_) => InformationClass::Stat,
        }
    }

    /// The system-buffer encoding (see [`codec`](super::codec)).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            FileInformation::Basic(b) => Encoder::new(Kind::Basic)
                .time(b.creation_time)
                .time(b.last_access_time)
                .time(b.last_write_time)
                .time(b.change_time)
                .u32(b.file_attributes.0)
                .finish(),
            FileInformation::Standard(s) => Encoder::new(Kind::Standard)
                .u64(s.allocation_size)
                .u64(s.end_of_file)
                .u32(s.number_of_links)
                .bool(s.delete_pending)
                .bool(s.directory)
                .finish(),
            FileInformation::Stat(s) => Encoder::new(Kind::Stat)
                .u64(s.ino)
                .u32(s.mode)
                .u32(s.nlink)
                .u32(s.uid)
                .u32(s.gid)
                .u32(s.rdev_major)
                .u32(s.rdev_minor)
                .u64(s.size)
                .u64(s.blocks)
                .u32(s.block_size)
                .time(s.atime)
                .time(s.mtime)
                .time(s.ctime)
                .time(s.btime)
                .finish(),
        }
    }

    /// Decodes the answer to a query of `class` from a system buffer.
    pub fn decode(class: InformationClass, buf: &[u8]) -> Result<FileInformation, DecodeError> {
        let info = match class {
            InformationClass::Basic => {
                let mut d = Decoder::new(buf, Kind::Basic)?;
                let b = FileBasicInformation {
                    creation_time: d.time()?,
                    last_access_time: d.time()?,
                    last_write_time: d.time()?,
                    change_time: d.time()?,
                    file_attributes: FileAttributes(d.u32()?),
                };
                d.finish()?;
                FileInformation::Basic(b)
            }
            InformationClass::Standard => {
                let mut d = Decoder::new(buf, Kind::Standard)?;
                let s = FileStandardInformation {
                    allocation_size: d.u64()?,
                    end_of_file: d.u64()?,
                    number_of_links: d.u32()?,
                    delete_pending: d.bool()?,
                    directory: d.bool()?,
                };
                d.finish()?;
                FileInformation::Standard(s)
            }
            InformationClass::Stat => {
                let mut d = Decoder::new(buf, Kind::Stat)?;
                let s = FileStatInformation {
                    ino: d.u64()?,
                    mode: d.u32()?,
                    nlink: d.u32()?,
                    uid: d.u32()?,
                    gid: d.u32()?,
                    rdev_major: d.u32()?,
                    rdev_minor: d.u32()?,
                    size: d.u64()?,
                    blocks: d.u64()?,
                    block_size: d.u32()?,
                    atime: d.time()?,
                    mtime: d.time()?,
                    ctime: d.time()?,
                    btime: d.time()?,
                };
                d.finish()?;
                FileInformation::Stat(s)
            }
            other => {
                return Err(DecodeError::Invalid {
                    field: "query information class",
                    value: other.code().into(),
                });
            }
        };
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_round_trips_and_the_views_agree() {
        let stat = FileStatInformation {
            ino: 12,
            mode: 0o100644,
            nlink: 2,
            uid: 1000,
            gid: 100,
            rdev_major: 0,
            rdev_minor: 0,
            size: 5000,
            blocks: 16,
            block_size: 4096,
            atime: FileTime::new(1, 2),
            mtime: FileTime::new(3, 4),
            ctime: FileTime::new(5, 6),
            btime: FileTime::new(7, 8),
        };
        for info in [
            FileInformation::Stat(stat),
            FileInformation::Basic(stat.basic()),
            FileInformation::Standard(stat.standard(false)),
        ] {
            assert_eq!(FileInformation::decode(info.class(), &info.encode()).unwrap(), info);
        }
        let std = stat.standard(true);
        assert_eq!((std.allocation_size, std.end_of_file, std.number_of_links), (8192, 5000, 2));
        assert!(std.delete_pending && !std.directory);
        assert_eq!(stat.basic().last_write_time, FileTime::new(3, 4));
        assert_eq!(stat.permissions(), 0o644);
        let wrong = FileInformation::decode(InformationClass::Basic, &FileInformation::Stat(stat).encode());
        assert!(matches!(wrong, Err(DecodeError::Kind { .. })));
    }
}
