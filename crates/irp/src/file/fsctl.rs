//! irpstack's file-system controls (`IRP_MJ_FILE_SYSTEM_CONTROL`, `IRP_MN_USER_FS_REQUEST`):
//! what POSIX needs that NT names differently or not at all. Each variant says which NT
//! request it stands for.
//!
//! | irpstack | POSIX | NT |
//! |---|---|---|
//! | [`FsControl::ReadLink`] | `readlink` | `FSCTL_GET_REPARSE_POINT` (`IO_REPARSE_TAG_SYMLINK`) |
//! | [`FsControl::CreateSymlink`] | `symlink` | create + `FSCTL_SET_REPARSE_POINT` |
//! | [`FsControl::MakeNode`] | `mknod`, `mkfifo` | none |
//! | [`FsControl::ListXattrs`], [`FsControl::GetXattr`] | `listxattr`, `getxattr` | `IRP_MJ_QUERY_EA` |
//! | [`FsControl::SetXattr`], [`FsControl::RemoveXattr`] | `setxattr`, `removexattr` | `IRP_MJ_SET_EA` |
//! | [`FsControl::Allocate`] | `fallocate` | `FileAllocationInformation`, `FSCTL_SET_ZERO_DATA` |
//! | [`FsControl::Seek`] | `lseek(SEEK_DATA / SEEK_HOLE)` | `FSCTL_QUERY_ALLOCATED_RANGES` |
//!
//! The answer travels in the system buffer as an [`FsControlOutput`].

use super::FileKind;
use super::codec::{DecodeError, Decoder, Encoder, Kind};

/// `IRP_MN_USER_FS_REQUEST`, the minor function of these controls.
#[doc(alias = "IRP_MN_USER_FS_REQUEST")]
pub const MINOR_USER_FS_REQUEST: u8 = 0x00;

/// How `setxattr` treats an existing attribute (`XATTR_CREATE`, `XATTR_REPLACE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum XattrSetMode {
    /// Create or replace.
    #[default]
    Either,
    /// `XATTR_CREATE`: fail with `STATUS_OBJECT_NAME_COLLISION` if it exists.
    Create,
    /// `XATTR_REPLACE`: fail with `STATUS_NONEXISTENT_EA_ENTRY` if it does not.
    Replace,
}

/// `fallocate` modes (`FALLOC_FL_*`, the same bit values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AllocateMode(pub u32);

impl AllocateMode {
    /// Allocate and extend the size over the range (mode 0).
    pub const DEFAULT: AllocateMode = AllocateMode(0);
    /// `FALLOC_FL_KEEP_SIZE`: allocate without changing the size.
    pub const KEEP_SIZE: AllocateMode = AllocateMode(0x01);
    /// `FALLOC_FL_PUNCH_HOLE` (with `KEEP_SIZE`): deallocate the range (NT's
    /// `FSCTL_SET_ZERO_DATA`).
    #[doc(alias = "FSCTL_SET_ZERO_DATA")]
    pub const PUNCH_HOLE: AllocateMode = AllocateMode(0x02);
    /// `FALLOC_FL_COLLAPSE_RANGE`: remove the range, shifting what follows down.
    pub const COLLAPSE_RANGE: AllocateMode = AllocateMode(0x08);
    /// `FALLOC_FL_ZERO_RANGE`: make the range read as zeroes, allocated.
    pub const ZERO_RANGE: AllocateMode = AllocateMode(0x10);
    /// `FALLOC_FL_INSERT_RANGE`: insert a hole, shifting what follows up.
    pub const INSERT_RANGE: AllocateMode = AllocateMode(0x20);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: AllocateMode) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for AllocateMode {
    type Output = AllocateMode;
    fn bitor(self, rhs: AllocateMode) -> AllocateMode {
        AllocateMode(self.0 | rhs.0)
    }
}

/// What [`FsControl::Seek`] looks for (`SEEK_DATA`, `SEEK_HOLE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeekWhence {
    /// `SEEK_DATA`: the first offset at or after the given one that holds data.
    Data,
    /// `SEEK_HOLE`: the first offset at or after the given one in a hole (the end of the
    /// file counts as a hole).
    Hole,
}

/// A file-system control request (`Parameters.FileSystemControl` with its buffer).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FsControl {
    /// The target of the symbolic link the file object opened (with
    /// `FILE_OPEN_REPARSE_POINT`). Answer: [`FsControlOutput::Bytes`].
    #[doc(alias = "FSCTL_GET_REPARSE_POINT")]
    ReadLink,
    /// Creates a symbolic link `name` to `target` in the directory the file object opened.
    #[doc(alias = "FSCTL_SET_REPARSE_POINT")]
    CreateSymlink {
        /// The new link's name in the directory.
        name: String,
        /// What it points to.
        target: Vec<u8>,
    },
    /// Creates a device file, FIFO or socket `name` in the directory the file object opened.
    MakeNode {
        /// The new node's name in the directory.
        name: String,
        /// Its type (`CharDevice`, `BlockDevice`, `Fifo`, `Socket`).
        kind: FileKind,
        /// Permission bits.
        mode: u32,
        /// Device major number (device files).
        rdev_major: u32,
        /// Device minor number (device files).
        rdev_minor: u32,
    },
    /// Every extended attribute name. Answer: [`FsControlOutput::Names`].
    #[doc(alias = "IRP_MJ_QUERY_EA")]
    ListXattrs,
    /// One extended attribute's value (`STATUS_NONEXISTENT_EA_ENTRY` if absent).
    /// Answer: [`FsControlOutput::Bytes`].
    GetXattr {
        /// The full name (`user.x`, `trusted.x`, `security.x`, `system.x`).
        name: Vec<u8>,
    },
    /// Sets an extended attribute.
    #[doc(alias = "IRP_MJ_SET_EA")]
    SetXattr {
        /// The full name.
        name: Vec<u8>,
        /// The value.
        value: Vec<u8>,
        /// Create, replace or either.
        mode: XattrSetMode,
    },
    /// Removes an extended attribute.
    RemoveXattr {
        /// The full name.
        name: Vec<u8>,
    },
    /// `fallocate` over `offset..offset + length`.
    Allocate {
        /// First byte.
        offset: u64,
        /// Bytes.
        length: u64,
        /// What to do.
        mode: AllocateMode,
    },
    /// `lseek` with `SEEK_DATA` or `SEEK_HOLE` (`STATUS_END_OF_FILE`, POSIX's `ENXIO`, at or
    /// past the end). Answer: [`FsControlOutput::Offset`].
    #[doc(alias = "FSCTL_QUERY_ALLOCATED_RANGES")]
    Seek {
        /// Where to start looking.
        offset: u64,
        /// Data or hole.
        whence: SeekWhence,
    },
}

impl FsControl {
    /// Whether the control changes the volume (and so fails on a read-only one).
    pub fn modifies(&self) -> bool {
        matches!(
            self,
            FsControl::CreateSymlink { .. }
                | FsControl::MakeNode { .. }
                | FsControl::SetXattr { .. }
                | FsControl::RemoveXattr { .. }
                | FsControl::Allocate { .. }
        )
    }
}

/// The answer to an [`FsControl`], in the system buffer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FsControlOutput {
    /// Nothing (a change).
    None,
    /// Bytes: a link target or an attribute value.
    Bytes(Vec<u8>),
    /// Names: the attribute names.
    Names(Vec<Vec<u8>>),
    /// An offset (a seek).
    Offset(u64),
}

impl FsControlOutput {
    /// The system-buffer encoding: after the header, a tag byte (0 none, 1 bytes, 2 names,
    /// 3 offset) and the value.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new(Kind::FsControl);
        match self {
            FsControlOutput::None => e.u8(0),
            FsControlOutput::Bytes(b) => e.u8(1).bytes(b),
            FsControlOutput::Names(names) => {
                e.u8(2).u32(names.len() as u32);
                for n in names {
                    e.bytes(n);
                }
                &mut e
            }
            FsControlOutput::Offset(o) => e.u8(3).u64(*o),
        };
        e.finish()
    }

    /// Decodes an answer from a system buffer.
    pub fn decode(buf: &[u8]) -> Result<FsControlOutput, DecodeError> {
        let mut d = Decoder::new(buf, Kind::FsControl)?;
        let out = match d.u8()? {
            0 => FsControlOutput::None,
            1 => FsControlOutput::Bytes(d.bytes()?),
            2 => {
                let n = d.u32()?;
                let mut names = Vec::with_capacity((n as usize).min(buf.len() / 4));
                for _ in 0..n {
                    names.push(d.bytes()?);
                }
                FsControlOutput::Names(names)
            }
            3 => FsControlOutput::Offset(d.u64()?),
            t => return Err(DecodeError::Invalid { field: "fs control output tag", value: t.into() }),
        };
        d.finish()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_round_trip_and_modifying_controls_are_known() {
        for out in [
            FsControlOutput::None,
            FsControlOutput::Bytes(b"target".to_vec()),
            FsControlOutput::Names(vec![b"user.a".to_vec(), b"user.b".to_vec()]),
            FsControlOutput::Offset(4096),
        ] {
            assert_eq!(FsControlOutput::decode(&out.encode()).unwrap(), out);
        }
        assert!(!FsControl::ReadLink.modifies());
        assert!(!FsControl::Seek { offset: 0, whence: SeekWhence::Hole }.modifies());
        assert!(FsControl::RemoveXattr { name: b"user.a".to_vec() }.modifies());
        assert!((AllocateMode::PUNCH_HOLE | AllocateMode::KEEP_SIZE).contains(AllocateMode::KEEP_SIZE));
    }
}
