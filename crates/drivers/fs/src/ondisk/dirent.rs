//! Linear directory blocks: `ext4_dir_entry_2` records chained by `rec_len`, and (with
//! metadata_csum) the 12-byte tail entry holding the block's crc32c.

use super::bytes::{put, put_u8, put_u16, put_u32, slice, u8_at, u16_at, u32_at};
use super::error::{FormatError, Result, check_csum};
use crate::csum::crc32c_raw;

/// Size of the fixed part of an entry.
pub const DIRENT_HEADER: usize = 8;
/// Size of the checksum tail entry.
pub const TAIL_SIZE: usize = 12;
/// `file_type` of the checksum tail.
pub const TAIL_FILE_TYPE: u8 = 0xDE;

/// `file_type` values of `ext4_dir_entry_2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// 0.
    Unknown,
    /// 1.
    Regular,
    /// 2.
    Directory,
    /// 3.
    CharDevice,
    /// 4.
    BlockDevice,
    /// 5.
    Fifo,
    /// 6.
    Socket,
    /// 7.
    Symlink,
    /// Anything else (kept so encoding is exact).
    Other(u8),
}

impl FileType {
    /// From the on-disk byte.
    pub fn from_raw(v: u8) -> FileType {
        match v {
            0 => FileType::Unknown,
            1 => FileType::Regular,
            2 => FileType::Directory,
            3 => FileType::CharDevice,
            4 => FileType::BlockDevice,
            5 => FileType::Fifo,
            6 => FileType::Socket,
            7 => FileType::Symlink,
            o => FileType::Other(o),
        }
    }

    /// The on-disk byte.
    pub fn raw(self) -> u8 {
        match self {
            FileType::Unknown => 0,
            FileType::Regular => 1,
            FileType::Directory => 2,
            FileType::CharDevice => 3,
            FileType::BlockDevice => 4,
            FileType::Fifo => 5,
            FileType::Socket => 6,
            FileType::Symlink => 7,
            FileType::Other(o) => o,
        }
    }

    /// The type that matches an inode's `i_mode`.
    pub fn from_mode(mode: u16) -> FileType {
        use super::inode::mode::*;
        match mode & S_IFMT {
            S_IFREG => FileType::Regular,
            S_IFDIR => FileType::Directory,
            S_IFCHR => FileType::CharDevice,
            S_IFBLK => FileType::BlockDevice,
            S_IFIFO => FileType::Fifo,
            S_IFSOCK => FileType::Socket,
            S_IFLNK => FileType::Symlink,
            _ => FileType::Unknown,
        }
    }
}

/// One record of a directory block (including unused ones: `inode == 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Inode number (0: the record is free space).
    pub inode: u32,
    /// Byte length of the record, up to the next one.
    pub rec_len: u32,
    /// `file_type` (with the filetype feature).
    pub file_type: FileType,
    /// The name bytes (`name_len` of them).
    pub name: Vec<u8>,
}

/// The smallest record that holds a name of `name_len` bytes (8 + name, rounded to 4).
pub fn rec_len_for(name_len: usize) -> usize {
    (DIRENT_HEADER + name_len + 3) & !3
}

/// `rec_len` from disk: in 64 KiB blocks, 0 and 65535 stand for 65536.
pub fn rec_len_from_disk(v: u16, block_size: usize) -> usize {
    if block_size >= 65536 && (v == 0 || v == 65535) { 65536 } else { usize::from(v) }
}

/// `rec_len` to disk.
pub fn rec_len_to_disk(len: usize, block_size: usize) -> u16 {
    if block_size >= 65536 && len >= 65536 { 65535 } else { len as u16 }
}

/// The block has a metadata_csum tail: the last 12 bytes are an entry with inode 0,
/// rec_len 12, name_len 0, file_type 0xDE.
pub fn has_tail(block: &[u8]) -> bool {
    let Some(off) = block.len().checked_sub(TAIL_SIZE) else { return false };
    u32_at(block, off) == 0
        && u16_at(block, off + 4) == TAIL_SIZE as u16
        && u8_at(block, off + 6) == 0
        && u8_at(block, off + 7) == TAIL_FILE_TYPE
}

/// Parses every record of a linear block, free ones included. `tail` says the block ends
/// with a checksum tail (which is not returned). Each record must fit the block, be
/// 4-aligned and at least as long as its name needs.
pub fn parse_block(block: &[u8], tail: bool) -> Result<Vec<DirEntry>> {
    let what = "directory entry";
    let end = if tail {
        if !has_tail(block) {
            return Err(FormatError::invalid("directory block", "no checksum tail in the last 12 bytes"));
        }
        block.len() - TAIL_SIZE
    } else {
        block.len()
    };
    let mut out = Vec::new();
    let mut off = 0usize;
    while off < end {
        if end - off < DIRENT_HEADER {
            return Err(FormatError::invalid(
                what,
                format!("{} bytes left at offset {off}, too few for an entry", end - off),
            ));
        }
        let rec_len = rec_len_from_disk(u16_at(block, off + 4), block.len());
        let name_len = usize::from(u8_at(block, off + 6));
        if rec_len < DIRENT_HEADER || !rec_len.is_multiple_of(4) || rec_len > end - off {
            return Err(FormatError::invalid(
                what,
                format!("rec_len {rec_len} at offset {off} (block space to {end})"),
            ));
        }
        if DIRENT_HEADER + name_len > rec_len {
            return Err(FormatError::invalid(
                what,
                format!("name_len {name_len} does not fit rec_len {rec_len} at offset {off}"),
            ));
        }
        out.push(DirEntry {
            inode: u32_at(block, off),
            rec_len: rec_len as u32,
            file_type: FileType::from_raw(u8_at(block, off + 7)),
            name: slice(block, off + DIRENT_HEADER, name_len).to_vec(),
        });
        off += rec_len;
    }
    Ok(out)
}

/// Writes `entries` from the start of `block` (their `rec_len`s must add up to the space
/// before the tail) and, if `tail`, an empty tail with checksum 0.
pub fn encode_block(entries: &[DirEntry], block: &mut [u8], tail: bool) {
    let bs = block.len();
    let mut off = 0usize;
    for e in entries {
        put_u32(block, off, e.inode);
        put_u16(block, off + 4, rec_len_to_disk(e.rec_len as usize, bs));
        put_u8(block, off + 6, e.name.len() as u8);
        put_u8(block, off + 7, e.file_type.raw());
        put(block, off + DIRENT_HEADER, &e.name);
        off = off.saturating_add(e.rec_len as usize);
    }
    if tail && bs >= TAIL_SIZE {
        let t = bs - TAIL_SIZE;
        put(block, t, &[0; TAIL_SIZE]);
        put_u16(block, t + 4, TAIL_SIZE as u16);
        put_u8(block, t + 7, TAIL_FILE_TYPE);
    }
}

/// The checksum of a linear directory block: crc32c(inode seed, bytes before the tail).
pub fn dirblock_csum(block: &[u8], inode_seed: u32) -> u32 {
    crc32c_raw(inode_seed, block.get(..block.len().saturating_sub(TAIL_SIZE)).unwrap_or(&[]))
}

/// Verifies the tail checksum of a linear directory block.
pub fn verify_dirblock(block: &[u8], inode_seed: u32) -> Result<()> {
    if !has_tail(block) {
        return Err(FormatError::invalid("directory block", "no checksum tail in the last 12 bytes"));
    }
    let stored = u32_at(block, block.len() - 4);
    check_csum("directory block", stored, dirblock_csum(block, inode_seed))
}

/// Stores the checksum in the tail (which must be there).
pub fn set_dirblock_csum(block: &mut [u8], inode_seed: u32) {
    let c = dirblock_csum(block, inode_seed);
    let off = block.len().saturating_sub(4);
    put_u32(block, off, c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entries_filling(names: Vec<Vec<u8>>, space: usize) -> Option<Vec<DirEntry>> {
        let mut out: Vec<DirEntry> = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| DirEntry {
                inode: i as u32 + 11,
                rec_len: rec_len_for(name.len()) as u32,
                file_type: FileType::from_raw((i % 8) as u8),
                name,
            })
            .collect();
        let used: usize = out.iter().map(|e| e.rec_len as usize).sum();
        if used > space || out.is_empty() {
            return None;
        }
        out.last_mut()?.rec_len += (space - used) as u32;
        Some(out)
    }

    proptest! {
        #[test]
        fn block_round_trips(names in proptest::collection::vec(proptest::collection::vec(1u8..=255, 1..=255), 1..20),
                             tail in any::<bool>()) {
            let space = if tail { 4096 - TAIL_SIZE } else { 4096 };
            if let Some(entries) = entries_filling(names, space) {
                let mut b = vec![0u8; 4096];
                encode_block(&entries, &mut b, tail);
                if tail {
                    set_dirblock_csum(&mut b, 5);
                    verify_dirblock(&b, 5).unwrap();
                }
                prop_assert_eq!(parse_block(&b, tail).unwrap(), entries);
            }
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300), tail in any::<bool>()) {
            let _ = parse_block(&b, tail);
            let _ = verify_dirblock(&b, 0);
        }
    }

    #[test]
    fn bad_rec_len_is_named() {
        let mut b = vec![0u8; 1024];
        put_u32(&mut b, 0, 2);
        put_u16(&mut b, 4, 2000);
        let e = parse_block(&b, false).unwrap_err();
        assert_eq!(e.to_string(), "directory entry: rec_len 2000 at offset 0 (block space to 1024)");
    }
}
