//! What kind of file an inode is: the `S_IFMT` bits of a POSIX mode, and the file
//! attributes NT reports for it.

/// The type of a file (`S_IFMT` of `st_mode`, `d_type` of a directory entry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FileKind {
    /// Not known (a directory entry of a volume without the file-type feature).
    #[default]
    Unknown = 0,
    /// A regular file (`S_IFREG`).
    Regular = 1,
    /// A directory (`S_IFDIR`).
    Directory = 2,
    /// A character device (`S_IFCHR`).
    CharDevice = 3,
    /// A block device (`S_IFBLK`).
    BlockDevice = 4,
    /// A named pipe (`S_IFIFO`).
    Fifo = 5,
    /// A socket (`S_IFSOCK`).
    Socket = 6,
    /// A symbolic link (`S_IFLNK`); NT calls it a reparse point (`IO_REPARSE_TAG_SYMLINK`).
    Symlink = 7,
}

/// `S_IFMT` and the type bits of a POSIX mode.
pub mod mode {
    /// The type bits.
    pub const S_IFMT: u32 = 0o170000;
    /// Socket.
    pub const S_IFSOCK: u32 = 0o140000;
    /// Symbolic link.
    pub const S_IFLNK: u32 = 0o120000;
    /// Regular file.
    pub const S_IFREG: u32 = 0o100000;
    /// Block device.
    pub const S_IFBLK: u32 = 0o060000;
    /// Directory.
    pub const S_IFDIR: u32 = 0o040000;
    /// Character device.
    pub const S_IFCHR: u32 = 0o020000;
    /// FIFO.
    pub const S_IFIFO: u32 = 0o010000;
    /// The permission bits, set-id bits and sticky bit.
    pub const PERMISSIONS: u32 = 0o7777;
}

impl FileKind {
    /// The kind a POSIX mode's type bits name.
    pub fn from_mode(m: u32) -> FileKind {
        match m & mode::S_IFMT {
            mode::S_IFREG => FileKind::Regular,
            mode::S_IFDIR => FileKind::Directory,
            mode::S_IFCHR => FileKind::CharDevice,
            mode::S_IFBLK => FileKind::BlockDevice,
            mode::S_IFIFO => FileKind::Fifo,
            mode::S_IFSOCK => FileKind::Socket,
            mode::S_IFLNK => FileKind::Symlink,
            _ => FileKind::Unknown,
        }
    }

    /// The type bits of a mode for this kind (0 for `Unknown`).
    pub fn mode_bits(self) -> u32 {
        match self {
            FileKind::Unknown => 0,
            FileKind::Regular => mode::S_IFREG,
            FileKind::Directory => mode::S_IFDIR,
            FileKind::CharDevice => mode::S_IFCHR,
            FileKind::BlockDevice => mode::S_IFBLK,
            FileKind::Fifo => mode::S_IFIFO,
            FileKind::Socket => mode::S_IFSOCK,
            FileKind::Symlink => mode::S_IFLNK,
        }
    }

    /// The kind of an encoded byte.
    pub fn from_u8(v: u8) -> Option<FileKind> {
        Some(match v {
            0 => FileKind::Unknown,
            1 => FileKind::Regular,
            2 => FileKind::Directory,
            3 => FileKind::CharDevice,
            4 => FileKind::BlockDevice,
            5 => FileKind::Fifo,
            6 => FileKind::Socket,
            7 => FileKind::Symlink,
            _ => return None,
        })
    }

    /// The letter `ls -l` shows for it (`-`, `d`, `l`, `c`, `b`, `p`, `s`, `?`).
    pub fn ls_letter(self) -> char {
        match self {
            FileKind::Unknown => '?',
            FileKind::Regular => '-',
            FileKind::Directory => 'd',
            FileKind::CharDevice => 'c',
            FileKind::BlockDevice => 'b',
            FileKind::Fifo => 'p',
            FileKind::Socket => 's',
            FileKind::Symlink => 'l',
        }
    }
}

/// File attributes as NT reports them (`FILE_ATTRIBUTE_*`).
#[doc(alias = "FILE_ATTRIBUTE_NORMAL")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileAttributes(pub u32);

impl FileAttributes {
    /// `FILE_ATTRIBUTE_READONLY`: nobody may write it (no write bit in the mode).
    #[doc(alias = "FILE_ATTRIBUTE_READONLY")]
    pub const READONLY: FileAttributes = FileAttributes(0x1);
    /// `FILE_ATTRIBUTE_HIDDEN`.
    #[doc(alias = "FILE_ATTRIBUTE_HIDDEN")]
    pub const HIDDEN: FileAttributes = FileAttributes(0x2);
    /// `FILE_ATTRIBUTE_DIRECTORY`.
    #[doc(alias = "FILE_ATTRIBUTE_DIRECTORY")]
    pub const DIRECTORY: FileAttributes = FileAttributes(0x10);
    /// `FILE_ATTRIBUTE_ARCHIVE`.
    #[doc(alias = "FILE_ATTRIBUTE_ARCHIVE")]
    pub const ARCHIVE: FileAttributes = FileAttributes(0x20);
    /// `FILE_ATTRIBUTE_NORMAL`: none of the others.
    #[doc(alias = "FILE_ATTRIBUTE_NORMAL")]
    pub const NORMAL: FileAttributes = FileAttributes(0x80);
    /// `FILE_ATTRIBUTE_SPARSE_FILE`.
    #[doc(alias = "FILE_ATTRIBUTE_SPARSE_FILE")]
    pub const SPARSE_FILE: FileAttributes = FileAttributes(0x200);
    /// `FILE_ATTRIBUTE_REPARSE_POINT`: a symbolic link.
    #[doc(alias = "FILE_ATTRIBUTE_REPARSE_POINT")]
    pub const REPARSE_POINT: FileAttributes = FileAttributes(0x400);

    /// The attributes of a file of `kind` with POSIX mode `m`.
    pub fn for_mode(kind: FileKind, m: u32) -> FileAttributes {
        let mut a = match kind {
            FileKind::Directory => FileAttributes::DIRECTORY.0,
            FileKind::Symlink => FileAttributes::REPARSE_POINT.0,
            _ => 0,
        };
        if m & 0o222 == 0 {
            a |= FileAttributes::READONLY.0;
        }
        FileAttributes(if a == 0 { FileAttributes::NORMAL.0 } else { a })
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: FileAttributes) -> bool {
        self.0 & other.0 == other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_modes_and_bytes() {
        for k in [
            FileKind::Regular,
            FileKind::Directory,
            FileKind::CharDevice,
            FileKind::BlockDevice,
            FileKind::Fifo,
            FileKind::Socket,
            FileKind::Symlink,
        ] {
            assert_eq!(FileKind::from_mode(k.mode_bits() | 0o644), k);
            assert_eq!(FileKind::from_u8(k as u8), Some(k));
        }
        assert_eq!(FileKind::from_u8(8), None);
        assert_eq!(FileAttributes::for_mode(FileKind::Regular, 0o644), FileAttributes::NORMAL);
        assert_eq!(FileAttributes::for_mode(FileKind::Regular, 0o444), FileAttributes::READONLY);
        assert!(FileAttributes::for_mode(FileKind::Directory, 0o755).contains(FileAttributes::DIRECTORY));
    }
}
