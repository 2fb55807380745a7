//! The 12-byte header every journal metadata block starts with: magic, block type, sequence.

use super::bytes::{be32, put_be32};
use super::error::CorruptKind;

/// jbd2's magic number, `h_magic`.
pub const JBD2_MAGIC: u32 = 0xC03B_3998;

/// Size of the block header.
pub const HEADER_SIZE: usize = 12;

/// The kinds of journal metadata block (`h_blocktype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockType {
    /// A descriptor: tags naming the home blocks of the data blocks that follow it.
    Descriptor,
    /// A commit record: the transaction is complete.
    Commit,
    /// Journal superblock, version 1.
    SuperblockV1,
    /// Journal superblock, version 2.
    SuperblockV2,
    /// Revocation records.
    Revoke,
}

impl BlockType {
    /// The on-disk value.
    pub fn raw(self) -> u32 {
        match self {
            BlockType::Descriptor => 1,
            BlockType::Commit => 2,
            BlockType::SuperblockV1 => 3,
            BlockType::SuperblockV2 => 4,
            BlockType::Revoke => 5,
        }
    }

    /// The block type for an on-disk value, if it is one.
    pub fn from_raw(raw: u32) -> Option<BlockType> {
        Some(match raw {
            1 => BlockType::Descriptor,
            2 => BlockType::Commit,
            3 => BlockType::SuperblockV1,
            4 => BlockType::SuperblockV2,
            5 => BlockType::Revoke,
            _ => return None,
        })
    }
}

/// A decoded block header (the magic is implied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// `h_blocktype`, raw (unknown values are kept so the caller can report them).
    pub block_type: u32,
    /// `h_sequence`: the transaction this block belongs to.
    pub sequence: u32,
}

impl BlockHeader {
    /// A header of a known type.
    pub fn new(block_type: BlockType, sequence: u32) -> BlockHeader {
        BlockHeader { block_type: block_type.raw(), sequence }
    }

    /// Decodes the header at the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<BlockHeader, CorruptKind> {
        let too_short = CorruptKind::TooShort { len: buf.len(), need: HEADER_SIZE };
        let magic = be32(buf, 0).ok_or(too_short.clone())?;
        if magic != JBD2_MAGIC {
            return Err(CorruptKind::BadMagic { found: magic });
        }
        let block_type = be32(buf, 4).ok_or(too_short.clone())?;
        let sequence = be32(buf, 8).ok_or(too_short)?;
        Ok(BlockHeader { block_type, sequence })
    }

    /// The known block type, if it is one.
    pub fn kind(&self) -> Option<BlockType> {
        BlockType::from_raw(self.block_type)
    }

    /// Writes the header into the first 12 bytes of `buf` (at least 12 bytes long).
    pub fn encode(&self, buf: &mut [u8]) {
        put_be32(buf, 0, JBD2_MAGIC);
        put_be32(buf, 4, self.block_type);
        put_be32(buf, 8, self.sequence);
    }
}

/// Whether `block` starts with the jbd2 magic (a data block like that must be escaped).
pub fn starts_with_magic(block: &[u8]) -> bool {
    be32(block, 0) == Some(JBD2_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_magic_and_short_buffers() {
        let mut b = [0u8; 16];
        let h = BlockHeader::new(BlockType::Commit, 0xdead_beef);
        h.encode(&mut b);
        assert_eq!(&b[..4], &[0xC0, 0x3B, 0x39, 0x98]);
        assert_eq!(BlockHeader::decode(&b), Ok(h));
        assert_eq!(h.kind(), Some(BlockType::Commit));
        assert!(starts_with_magic(&b));
        b[0] = 0;
        assert!(matches!(BlockHeader::decode(&b), Err(CorruptKind::BadMagic { .. })));
        assert!(matches!(BlockHeader::decode(&[0xC0, 0x3B]), Err(CorruptKind::TooShort { .. })));
        for t in 1..=5 {
            assert_eq!(BlockType::from_raw(t).map(BlockType::raw), Some(t));
        }
        assert_eq!(BlockType::from_raw(6), None);
    }
}
