//! Extent trees: the 12-byte header, index entries and leaf extents, in `i_block` (the
//! root, 4 entries) and in extent blocks, which end with a crc32c tail after `eh_max`
//! entries.

use super::bytes::{put_u16, put_u32, u16_at, u32_at};
use super::error::{Corruption, FormatError, Result, check_csum, need};
use crate::csum::crc32c_raw;

/// `eh_magic`.
pub const EXTENT_MAGIC: u16 = 0xF30A;
/// Size of the header and of each entry.
pub const ENTRY_SIZE: usize = 12;
/// The deepest tree the kernel builds (and the deepest we follow).
pub const MAX_DEPTH: u16 = 5;
/// Longest initialized extent; lengths above it mark unwritten extents.
pub const MAX_INIT_LEN: u16 = 32768;

/// An extent tree node's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtentHeader {
    /// Entries in use.
    pub entries: u16,
    /// Capacity of the node.
    pub max: u16,
    /// 0 for leaves, else the levels below.
    pub depth: u16,
    /// `eh_generation`.
    pub generation: u32,
}

/// An interior entry: the subtree at `leaf` covers logical blocks from `block` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtentIndex {
    /// First logical block covered.
    pub block: u32,
    /// Physical block of the child node.
    pub leaf: u64,
    /// `ei_unused`.
    pub unused: u16,
}

/// A leaf entry: `len` logical blocks from `block` at physical `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extent {
    /// First logical block.
    pub block: u32,
    /// Length in blocks (1..=32768, or 1..=32767 when unwritten).
    pub len: u16,
    /// Allocated but not written: reads as zeros.
    pub unwritten: bool,
    /// First physical block.
    pub start: u64,
}

impl Extent {
    /// Logical block just past the extent.
    pub fn end(&self) -> u64 {
        u64::from(self.block) + u64::from(self.len)
    }
}

/// A decoded node: its header and either index entries or extents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtentNode {
    /// `depth > 0`.
    Index(ExtentHeader, Vec<ExtentIndex>),
    /// `depth == 0`.
    Leaf(ExtentHeader, Vec<Extent>),
}

impl ExtentNode {
    /// The header.
    pub fn header(&self) -> &ExtentHeader {
        match self {
            ExtentNode::Index(h, _) | ExtentNode::Leaf(h, _) => h,
        }
    }

    /// Decodes a node from `b` (60 bytes of `i_block`, or a whole block): the header must
    /// have the magic, `entries <= max`, and `max` entries must fit in `b`.
    pub fn decode(b: &[u8]) -> Result<ExtentNode> {
        need("extent header", b, ENTRY_SIZE)?;
        let magic = u16_at(b, 0);
        if magic != EXTENT_MAGIC {
            return Err(FormatError::new(
                "extent header",
                Corruption::BadMagic { found: magic.into(), expected: EXTENT_MAGIC.into() },
            ));
        }
        let h = ExtentHeader {
            entries: u16_at(b, 2),
            max: u16_at(b, 4),
            depth: u16_at(b, 6),
            generation: u32_at(b, 8),
        };
        let cap = b.len() / ENTRY_SIZE - 1;
        if usize::from(h.max) > cap || h.max == 0 {
            return Err(FormatError::invalid(
                "extent header",
                format!("eh_max {} in a {}-byte node (room for {cap})", h.max, b.len()),
            ));
        }
        if h.entries > h.max {
            return Err(FormatError::invalid(
                "extent header",
                format!("eh_entries {} over eh_max {}", h.entries, h.max),
            ));
        }
        if h.depth > MAX_DEPTH {
            return Err(FormatError::invalid("extent header", format!("eh_depth {}", h.depth)));
        }
        let at = |i: usize| (i + 1) * ENTRY_SIZE;
        let n = usize::from(h.entries);
        if h.depth > 0 {
            let idx = (0..n)
                .map(|i| {
                    let o = at(i);
                    ExtentIndex {
                        block: u32_at(b, o),
                        leaf: u64::from(u32_at(b, o + 4)) | u64::from(u16_at(b, o + 8)) << 32,
                        unused: u16_at(b, o + 10),
                    }
                })
                .collect();
            Ok(ExtentNode::Index(h, idx))
        } else {
            let ext = (0..n)
                .map(|i| {
                    let o = at(i);
                    let raw_len = u16_at(b, o + 4);
                    let unwritten = raw_len > MAX_INIT_LEN;
                    Extent {
                        block: u32_at(b, o),
                        len: if unwritten { raw_len - MAX_INIT_LEN } else { raw_len },
                        unwritten,
                        start: u64::from(u32_at(b, o + 8)) | u64::from(u16_at(b, o + 6)) << 32,
                    }
                })
                .collect();
            Ok(ExtentNode::Leaf(h, ext))
        }
    }

    /// Encodes into `b` (which must hold `max` entries): header and entries; the rest of
    /// `b` is left alone.
    pub fn encode_into(&self, b: &mut [u8]) {
        let h = self.header();
        put_u16(b, 0, EXTENT_MAGIC);
        put_u16(b, 2, h.entries);
        put_u16(b, 4, h.max);
        put_u16(b, 6, h.depth);
        put_u32(b, 8, h.generation);
        let at = |i: usize| (i + 1) * ENTRY_SIZE;
        match self {
            ExtentNode::Index(_, idx) => {
                for (i, e) in idx.iter().enumerate() {
                    put_u32(b, at(i), e.block);
                    put_u32(b, at(i) + 4, e.leaf as u32);
                    put_u16(b, at(i) + 8, (e.leaf >> 32) as u16);
                    put_u16(b, at(i) + 10, e.unused);
                }
            }
            ExtentNode::Leaf(_, ext) => {
                for (i, e) in ext.iter().enumerate() {
                    let len = if e.unwritten { e.len.saturating_add(MAX_INIT_LEN) } else { e.len };
                    put_u32(b, at(i), e.block);
                    put_u16(b, at(i) + 4, len);
                    put_u16(b, at(i) + 6, (e.start >> 32) as u16);
                    put_u32(b, at(i) + 8, e.start as u32);
                }
            }
        }
    }
}

/// Offset of the checksum tail in an extent block whose header says `eh_max = max`.
pub fn tail_offset(max: u16) -> usize {
    (usize::from(max) + 1) * ENTRY_SIZE
}

/// The checksum of an extent block: crc32c(inode seed, bytes before the tail).
pub fn extent_block_csum(block: &[u8], inode_seed: u32) -> Result<u32> {
    let off = tail_offset(u16_at(block, 4));
    need("extent block", block, off + 4)?;
    Ok(crc32c_raw(inode_seed, block.get(..off).unwrap_or(&[])))
}

/// Verifies an extent block's tail checksum.
pub fn verify_extent_block(block: &[u8], inode_seed: u32) -> Result<()> {
    let computed =
        extent_block_csum(block, inode_seed).map_err(|e| FormatError { what: "extent tail", ..e })?;
    let stored = u32_at(block, tail_offset(u16_at(block, 4)));
    check_csum("extent tail", stored, computed)
}

/// Writes an extent block's tail checksum (the header must already be in the block).
pub fn set_extent_block_csum(block: &mut [u8], inode_seed: u32) -> Result<()> {
    let c = extent_block_csum(block, inode_seed)?;
    put_u32(block, tail_offset(u16_at(block, 4)), c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaf() -> impl Strategy<Value = ExtentNode> {
        proptest::collection::vec((any::<u32>(), 1u16..=32768, any::<bool>(), 0u64..1 << 48), 0..=4).prop_map(
            |v| {
                let ext: Vec<Extent> = v
                    .into_iter()
                    .map(|(block, len, unwritten, start)| Extent {
                        block,
                        len: if unwritten { len.min(32767) } else { len },
                        unwritten,
                        start,
                    })
                    .collect();
                let h = ExtentHeader { entries: ext.len() as u16, max: 4, depth: 0, generation: 0 };
                ExtentNode::Leaf(h, ext)
            },
        )
    }

    proptest! {
        #[test]
        fn leaf_round_trips(node in leaf()) {
            let mut b = [0u8; 60];
            node.encode_into(&mut b);
            prop_assert_eq!(ExtentNode::decode(&b).unwrap(), node);
        }

        #[test]
        fn index_round_trips(v in proptest::collection::vec((any::<u32>(), 0u64..1 << 48, any::<u16>()), 0..=340),
                             depth in 1u16..=5, generation in any::<u32>()) {
            let idx: Vec<ExtentIndex> = v.into_iter().map(|(block, leaf, unused)| ExtentIndex { block, leaf, unused }).collect();
            let h = ExtentHeader { entries: idx.len() as u16, max: 340, depth, generation };
            let node = ExtentNode::Index(h, idx);
            let mut b = vec![0u8; 4096];
            node.encode_into(&mut b);
            set_extent_block_csum(&mut b, 77).unwrap();
            verify_extent_block(&b, 77).unwrap();
            prop_assert_eq!(ExtentNode::decode(&b).unwrap(), node);
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ExtentNode::decode(&b);
            let _ = verify_extent_block(&b, 1);
        }
    }

    #[test]
    fn bad_magic_and_counts_are_named() {
        let mut b = [0u8; 60];
        put_u16(&mut b, 0, 0x1234);
        assert_eq!(
            ExtentNode::decode(&b).unwrap_err().to_string(),
            "extent header: magic 0x1234, expected 0xf30a"
        );
        put_u16(&mut b, 0, EXTENT_MAGIC);
        put_u16(&mut b, 2, 5);
        put_u16(&mut b, 4, 4);
        assert!(ExtentNode::decode(&b).unwrap_err().to_string().contains("eh_entries 5 over eh_max 4"));
        put_u16(&mut b, 4, 5);
        assert!(ExtentNode::decode(&b).unwrap_err().to_string().contains("eh_max 5"));
    }
}
