//! Hash-tree directory index blocks: `dx_root` (logical block 0 of an indexed directory,
//! disguised as "." and ".." entries) and `dx_node` (interior blocks, disguised as one
//! empty entry), their `dx_entry` arrays, and the `dx_tail` checksum after `limit`
//! entries with metadata_csum.

use super::bytes::{put, put_u8, put_u16, put_u32, u8_at, u16_at, u32_at};
use super::error::{FormatError, Result, check_csum, need};
use crate::csum::crc32c_raw;

/// Offset of `dx_root_info` in the root block.
const ROOT_INFO_OFF: usize = 0x18;
/// Offset of the root's `limit`/`count` (the first dx_entry).
pub const ROOT_ENTRIES_OFF: usize = 0x20;
/// Offset of a node's `limit`/`count`.
pub const NODE_ENTRIES_OFF: usize = 0x08;
/// Size of a `dx_entry`.
const ENTRY: usize = 8;
/// Size of a `dx_tail`.
pub const DX_TAIL_SIZE: usize = 8;

/// One index entry: names hashing at or above `hash` live under logical block `block`.
/// The first entry of a node has no hash (it covers everything below the second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DxEntry {
    /// Lowest hash (0 for the first entry).
    pub hash: u32,
    /// Logical block of the child within the directory.
    pub block: u32,
}

/// `dx_root_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DxRootInfo {
    /// `reserved_zero`.
    pub reserved_zero: u32,
    /// Hash version (see [`super::dirhash::DirHash::from_raw`]).
    pub hash_version: u8,
    /// `info_length` (8).
    pub info_length: u8,
    /// Levels of dx_nodes below the root (0: the root points at leaves).
    pub indirect_levels: u8,
    /// `unused_flags`.
    pub unused_flags: u8,
}

/// A decoded dx_root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DxRoot {
    /// Inode of "." (the directory).
    pub dot_inode: u32,
    /// Inode of "..".
    pub dotdot_inode: u32,
    /// The root info.
    pub info: DxRootInfo,
    /// Capacity of the entry array.
    pub limit: u16,
    /// Entries (`count` of them).
    pub entries: Vec<DxEntry>,
    /// `dt_reserved` of the dx_tail after `limit` entries (0 if no tail fits). The kernel
    /// leaves whatever was there: after a linear directory is indexed, the old dirent
    /// tail's bytes; it is covered by the checksum, so it is kept.
    pub tail_reserved: u32,
}

/// A decoded dx_node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DxNode {
    /// Capacity of the entry array.
    pub limit: u16,
    /// Entries (`count` of them).
    pub entries: Vec<DxEntry>,
    /// `dt_reserved` of the dx_tail (0 if no tail fits).
    pub tail_reserved: u32,
}

/// `dt_reserved` if a tail fits after `limit` entries at `off`.
fn tail_reserved(b: &[u8], off: usize, limit: u16) -> u32 {
    let t = off + usize::from(limit) * ENTRY;
    if t + DX_TAIL_SIZE <= b.len() { u32_at(b, t) } else { 0 }
}

fn put_tail_reserved(b: &mut [u8], off: usize, limit: u16, v: u32) {
    let t = off + usize::from(limit) * ENTRY;
    if t + DX_TAIL_SIZE <= b.len() {
        put_u32(b, t, v);
    }
}

fn entries(b: &[u8], off: usize, what: &'static str) -> Result<(u16, Vec<DxEntry>)> {
    let limit = u16_at(b, off);
    let count = u16_at(b, off + 2);
    let room = (b.len().saturating_sub(off)) / ENTRY;
    if count == 0 || count > limit || usize::from(limit) > room {
        return Err(FormatError::invalid(what, format!("count {count}, limit {limit}, room for {room}")));
    }
    let v = (0..usize::from(count))
        .map(|i| {
            let o = off + i * ENTRY;
            DxEntry { hash: if i == 0 { 0 } else { u32_at(b, o) }, block: u32_at(b, o + 4) }
        })
        .collect();
    Ok((limit, v))
}

fn put_entries(b: &mut [u8], off: usize, limit: u16, e: &[DxEntry]) {
    for (i, x) in e.iter().enumerate() {
        let o = off + i * ENTRY;
        if i > 0 {
            put_u32(b, o, x.hash);
        }
        put_u32(b, o + 4, x.block);
    }
    put_u16(b, off, limit);
    put_u16(b, off + 2, e.len() as u16);
}

impl DxRoot {
    /// Decodes a dx_root block (`"."` and `".."` entries, root info, entries).
    pub fn decode(b: &[u8]) -> Result<DxRoot> {
        need("dx_root", b, ROOT_ENTRIES_OFF + ENTRY)?;
        if u16_at(b, 4) != 12 || u8_at(b, 6) != 1 || u8_at(b, 8) != b'.' {
            return Err(FormatError::invalid("dx_root", "first entry is not \".\" with rec_len 12"));
        }
        if u8_at(b, 0x12) != 2 || u8_at(b, 0x14) != b'.' || u8_at(b, 0x15) != b'.' {
            return Err(FormatError::invalid("dx_root", "second entry is not \"..\""));
        }
        let info = DxRootInfo {
            reserved_zero: u32_at(b, ROOT_INFO_OFF),
            hash_version: u8_at(b, ROOT_INFO_OFF + 4),
            info_length: u8_at(b, ROOT_INFO_OFF + 5),
            indirect_levels: u8_at(b, ROOT_INFO_OFF + 6),
            unused_flags: u8_at(b, ROOT_INFO_OFF + 7),
        };
        if info.info_length != 8 {
            return Err(FormatError::invalid(
                "dx_root",
                format!("info_length {}, expected 8", info.info_length),
            ));
        }
        let (limit, entries) = entries(b, ROOT_ENTRIES_OFF, "dx_root")?;
        let tail_reserved = tail_reserved(b, ROOT_ENTRIES_OFF, limit);
        Ok(DxRoot {
            dot_inode: u32_at(b, 0),
            dotdot_inode: u32_at(b, 12),
            info,
            limit,
            entries,
            tail_reserved,
        })
    }

    /// Encodes the root into a zeroed block of `b.len()` bytes (the tail checksum, if any,
    /// is left for [`set_dx_csum`]).
    pub fn encode_into(&self, b: &mut [u8]) {
        let bs = b.len();
        put_u32(b, 0, self.dot_inode);
        put_u16(b, 4, 12);
        put_u8(b, 6, 1);
        put_u8(b, 7, 2);
        put(b, 8, b".\0\0\0");
        put_u32(b, 12, self.dotdot_inode);
        put_u16(b, 16, super::dirent::rec_len_to_disk(bs.saturating_sub(12), bs));
        put_u8(b, 0x12, 2);
        put_u8(b, 0x13, 2);
        put(b, 0x14, b"..\0\0");
        put_u32(b, ROOT_INFO_OFF, self.info.reserved_zero);
        put_u8(b, ROOT_INFO_OFF + 4, self.info.hash_version);
        put_u8(b, ROOT_INFO_OFF + 5, self.info.info_length);
        put_u8(b, ROOT_INFO_OFF + 6, self.info.indirect_levels);
        put_u8(b, ROOT_INFO_OFF + 7, self.info.unused_flags);
        put_entries(b, ROOT_ENTRIES_OFF, self.limit, &self.entries);
        put_tail_reserved(b, ROOT_ENTRIES_OFF, self.limit, self.tail_reserved);
    }
}

impl DxNode {
    /// Decodes an interior node (a fake entry with inode 0 spanning the block, then entries).
    pub fn decode(b: &[u8]) -> Result<DxNode> {
        need("dx_node", b, NODE_ENTRIES_OFF + ENTRY)?;
        let rec_len = super::dirent::rec_len_from_disk(u16_at(b, 4), b.len());
        if u32_at(b, 0) != 0 || rec_len != b.len() {
            return Err(FormatError::invalid(
                "dx_node",
                format!("fake entry has inode {} and rec_len {rec_len}", u32_at(b, 0)),
            ));
        }
        let (limit, entries) = entries(b, NODE_ENTRIES_OFF, "dx_node")?;
        Ok(DxNode { limit, entries, tail_reserved: tail_reserved(b, NODE_ENTRIES_OFF, limit) })
    }

    /// Encodes the node into a zeroed block.
    pub fn encode_into(&self, b: &mut [u8]) {
        let bs = b.len();
        put_u32(b, 0, 0);
        put_u16(b, 4, super::dirent::rec_len_to_disk(bs, bs));
        put_entries(b, NODE_ENTRIES_OFF, self.limit, &self.entries);
        put_tail_reserved(b, NODE_ENTRIES_OFF, self.limit, self.tail_reserved);
    }
}

/// The largest `limit` for entries starting at `entries_off` in a block of `bs` bytes,
/// leaving room for the dx_tail when `csum`.
pub fn dx_limit(bs: usize, entries_off: usize, csum: bool) -> u16 {
    let room = bs.saturating_sub(entries_off) / ENTRY;
    (if csum { room.saturating_sub(1) } else { room }) as u16
}

/// The dx checksum: crc32c(inode seed) over the bytes up to the last used entry, then the
/// tail's `dt_reserved` and a zero checksum. `entries_off` is where limit/count sit.
pub fn dx_csum(b: &[u8], entries_off: usize, inode_seed: u32) -> Result<u32> {
    let limit = usize::from(u16_at(b, entries_off));
    let count = usize::from(u16_at(b, entries_off + 2));
    let tail = entries_off + limit * ENTRY;
    need("dx_tail", b, tail + DX_TAIL_SIZE)?;
    if count > limit {
        return Err(FormatError::invalid("dx_tail", format!("count {count} over limit {limit}")));
    }
    let used = entries_off + count * ENTRY;
    let c = crc32c_raw(inode_seed, b.get(..used).unwrap_or(&[]));
    let c = crc32c_raw(c, b.get(tail..tail + 4).unwrap_or(&[]));
    Ok(crc32c_raw(c, &[0; 4]))
}

/// Verifies a dx block's tail checksum.
pub fn verify_dx_csum(b: &[u8], entries_off: usize, inode_seed: u32) -> Result<()> {
    let computed = dx_csum(b, entries_off, inode_seed)?;
    let tail = entries_off + usize::from(u16_at(b, entries_off)) * ENTRY;
    check_csum("dx_tail", u32_at(b, tail + 4), computed)
}

/// Stores a dx block's tail checksum.
pub fn set_dx_csum(b: &mut [u8], entries_off: usize, inode_seed: u32) -> Result<()> {
    let c = dx_csum(b, entries_off, inode_seed)?;
    let tail = entries_off + usize::from(u16_at(b, entries_off)) * ENTRY;
    put_u32(b, tail + 4, c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn root_round_trips(hashes in proptest::collection::vec(any::<u32>(), 1..=100), levels in 0u8..3, hv in 0u8..6) {
            let bs = 4096;
            let limit = dx_limit(bs, ROOT_ENTRIES_OFF, true);
            let entries: Vec<DxEntry> = hashes.iter().enumerate()
                .map(|(i, &h)| DxEntry { hash: if i == 0 { 0 } else { h & !1 }, block: i as u32 + 1 }).collect();
            let root = DxRoot {
                dot_inode: 12, dotdot_inode: 2,
                info: DxRootInfo { reserved_zero: 0, hash_version: hv, info_length: 8, indirect_levels: levels, unused_flags: 0 },
                limit, entries, tail_reserved: 0xDE00_000C,
            };
            let mut b = vec![0u8; bs];
            root.encode_into(&mut b);
            set_dx_csum(&mut b, ROOT_ENTRIES_OFF, 9).unwrap();
            verify_dx_csum(&b, ROOT_ENTRIES_OFF, 9).unwrap();
            prop_assert_eq!(DxRoot::decode(&b).unwrap(), root);
        }

        #[test]
        fn node_round_trips(n in 1usize..=500) {
            let bs = 4096;
            let limit = dx_limit(bs, NODE_ENTRIES_OFF, true);
            let n = n.min(usize::from(limit));
            let node = DxNode { limit, entries: (0..n).map(|i| DxEntry { hash: i as u32 * 2, block: i as u32 }).collect(), tail_reserved: 0 };
            let mut b = vec![0u8; bs];
            node.encode_into(&mut b);
            set_dx_csum(&mut b, NODE_ENTRIES_OFF, 3).unwrap();
            verify_dx_csum(&b, NODE_ENTRIES_OFF, 3).unwrap();
            prop_assert_eq!(DxNode::decode(&b).unwrap(), node);
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = DxRoot::decode(&b);
            let _ = DxNode::decode(&b);
            let _ = verify_dx_csum(&b, ROOT_ENTRIES_OFF, 0);
            let _ = verify_dx_csum(&b, NODE_ENTRIES_OFF, 0);
        }
    }
}
