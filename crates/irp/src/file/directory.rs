//! `IRP_MJ_DIRECTORY_CONTROL` / `IRP_MN_QUERY_DIRECTORY`: enumerating a directory. The
//! file object keeps where the enumeration is, so each query returns the entries after the
//! last one returned; `RESTART_SCAN` starts again, `INDEX_SPECIFIED` resumes after the entry
//! whose [`DirectoryEntry::index`] the caller kept (POSIX `seekdir`, FUSE's readdir offset).

use super::FileKind;
use super::codec::{DecodeError, Decoder, Encoder, Kind};

/// `IRP_MN_QUERY_DIRECTORY`, the minor function of a directory query.
#[doc(alias = "IRP_MN_QUERY_DIRECTORY")]
pub const MINOR_QUERY_DIRECTORY: u8 = 0x01;

/// Flags of a directory query (`SL_RESTART_SCAN`, `SL_RETURN_SINGLE_ENTRY`,
/// `SL_INDEX_SPECIFIED`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct QueryDirectoryFlags(u8);

impl QueryDirectoryFlags {
    /// None: continue where the last query of this file object stopped.
    pub const NONE: QueryDirectoryFlags = QueryDirectoryFlags(0);
    /// `SL_RESTART_SCAN`: start from the first entry (and take a new pattern).
    #[doc(alias = "SL_RESTART_SCAN")]
    pub const RESTART_SCAN: QueryDirectoryFlags = QueryDirectoryFlags(0x01);
    /// `SL_RETURN_SINGLE_ENTRY`: at most one entry.
    #[doc(alias = "SL_RETURN_SINGLE_ENTRY")]
    pub const RETURN_SINGLE_ENTRY: QueryDirectoryFlags = QueryDirectoryFlags(0x02);
    /// `SL_INDEX_SPECIFIED`: resume after the entry whose index is [`QueryDirectory::index`].
    #[doc(alias = "SL_INDEX_SPECIFIED")]
    pub const INDEX_SPECIFIED: QueryDirectoryFlags = QueryDirectoryFlags(0x04);

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: QueryDirectoryFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for QueryDirectoryFlags {
    type Output = QueryDirectoryFlags;
    fn bitor(self, rhs: QueryDirectoryFlags) -> QueryDirectoryFlags {
        QueryDirectoryFlags(self.0 | rhs.0)
    }
}

/// The parameters of a directory query (`Parameters.QueryDirectory`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueryDirectory {
    /// `FileName`: only names matching this expression (`*` any run, `?` one byte; see
    /// [`name_matches`](super::name_matches)). Taken at the first query of a scan (and at a
    /// restart); `None` matches everything.
    pub pattern: Option<String>,
    /// Restart, single entry, index specified.
    pub flags: QueryDirectoryFlags,
    /// `FileIndex`: with `INDEX_SPECIFIED`, resume after the entry with this index.
    pub index: u64,
    /// `Length`: how many bytes of encoded entries the caller accepts.
    pub output_length: u32,
}

impl QueryDirectory {
    /// The default output length: room for many entries.
    pub const DEFAULT_OUTPUT_LENGTH: u32 = 64 * 1024;

    /// Continues the enumeration (from the start on the first query), every name.
    pub fn next() -> QueryDirectory {
        QueryDirectory {
            pattern: None,
            flags: QueryDirectoryFlags::NONE,
            index: 0,
            output_length: QueryDirectory::DEFAULT_OUTPUT_LENGTH,
        }
    }

    /// Starts the enumeration again with `pattern`.
    pub fn restart(pattern: Option<&str>) -> QueryDirectory {
        QueryDirectory {
            pattern: pattern.map(str::to_owned),
            flags: QueryDirectoryFlags::RESTART_SCAN,
            ..QueryDirectory::next()
        }
    }

    /// Resumes after the entry whose index is `index`.
    pub fn resume_after(index: u64) -> QueryDirectory {
        QueryDirectory { flags: QueryDirectoryFlags::INDEX_SPECIFIED, index, ..QueryDirectory::next() }
    }
}

/// One directory entry (`FILE_DIRECTORY_INFORMATION` reduced to what POSIX `readdir` needs).
#[doc(alias = "FILE_DIRECTORY_INFORMATION")]
#[doc(alias = "dirent")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DirectoryEntry {
    /// The name, as stored (bytes; `.` and `..` included).
    pub name: Vec<u8>,
    /// Its inode number (`d_ino`, NT's `FileId`).
    pub ino: u64,
    /// Its type (`d_type`).
    pub kind: FileKind,
    /// `FileIndex`: the cookie to resume after this entry (`d_off`).
    pub index: u64,
}

impl DirectoryEntry {
    /// Bytes this entry takes in an encoded batch.
    pub fn encoded_len(&self) -> usize {
        8 + 8 + 1 + 4 + self.name.len()
    }

    /// The name as text (invalid UTF-8 replaced).
    pub fn name_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }
}

/// Bytes an encoded batch takes before its entries (header and count).
pub const ENTRIES_HEADER_LEN: usize = 2 + 4;

/// Encodes a batch of entries for the system buffer.
pub fn encode_entries(entries: &[DirectoryEntry]) -> Vec<u8> {
    let mut e = Encoder::new(Kind::DirectoryEntries);
    e.u32(entries.len() as u32);
    for entry in entries {
        e.u64(entry.index).u64(entry.ino).u8(entry.kind as u8).bytes(&entry.name);
    }
    e.finish()
}

/// Decodes a batch of entries from a system buffer.
pub fn decode_entries(buf: &[u8]) -> Result<Vec<DirectoryEntry>, DecodeError> {
    let mut d = Decoder::new(buf, Kind::DirectoryEntries)?;
    let n = d.u32()?;
    let mut out = Vec::with_capacity((n as usize).min(buf.len() / 21));
    for _ in 0..n {
        let index = d.u64()?;
        let ino = d.u64()?;
        let k = d.u8()?;
        let kind =
            FileKind::from_u8(k).ok_or(DecodeError::Invalid { field: "file kind", value: k.into() })?;
        let name = d.bytes()?;
        out.push(DirectoryEntry { name, ino, kind, index });
    }
    d.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_their_length_is_known() {
        let entries = vec![
            DirectoryEntry { name: b".".to_vec(), ino: 2, kind: FileKind::Directory, index: 1 },
            DirectoryEntry { name: vec![0xff, b'x'], ino: 12, kind: FileKind::Regular, index: 2 },
        ];
        let buf = encode_entries(&entries);
        assert_eq!(
            buf.len(),
            ENTRIES_HEADER_LEN + entries.iter().map(DirectoryEntry::encoded_len).sum::<usize>()
        );
        assert_eq!(decode_entries(&buf).unwrap(), entries);
        assert_eq!(decode_entries(&encode_entries(&[])).unwrap(), vec![]);
        assert!(decode_entries(&buf[..buf.len() - 1]).is_err());
        assert_eq!(entries[1].name_lossy(), "\u{fffd}x");
        let q = QueryDirectory::restart(Some("*.txt"));
        assert!(q.flags.contains(QueryDirectoryFlags::RESTART_SCAN));
        assert!(QueryDirectory::resume_after(5).flags.contains(QueryDirectoryFlags::INDEX_SPECIFIED));
    }
}
