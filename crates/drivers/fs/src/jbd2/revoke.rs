//! Revoke blocks: block numbers whose earlier logged copies must not be replayed.
//! `r_count` is the number of bytes used, header (16 bytes) included.

use super::bytes::{be32, be64, put_be32, put_be64};
use super::checksum::{set_tail, tail_ok};
use super::error::{CorruptKind, Jbd2Error};
use super::features::Features;
use super::header::{BlockHeader, BlockType};

/// Header of a revoke block: the block header and `r_count`.
pub const REVOKE_HEADER_SIZE: usize = 16;

/// A decoded revoke block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeBlock {
    /// The transaction id.
    pub sequence: u32,
    /// Revoked fs block numbers.
    pub blocks: Vec<u64>,
}

impl RevokeBlock {
    /// How many records fit in one revoke block.
    pub fn capacity(features: &Features, block_size: usize) -> usize {
        block_size.saturating_sub(REVOKE_HEADER_SIZE + features.tail_size()) / features.revoke_record_size()
    }

    /// Decodes journal block `jblock`, verifying the tail checksum with CSUM_V3.
    pub fn decode(
        block: &[u8],
        features: &Features,
        seed: u32,
        jblock: u64,
    ) -> Result<RevokeBlock, Jbd2Error> {
        let err = |kind| Jbd2Error::corrupt(jblock, kind);
        let header = BlockHeader::decode(block).map_err(err)?;
        if header.kind() != Some(BlockType::Revoke) {
            return Err(err(CorruptKind::UnexpectedBlockType { found: header.block_type }));
        }
        if features.csum_v3() && !tail_ok(seed, block) {
            return Err(err(CorruptKind::RevokeChecksum));
        }
        let r_count = be32(block, 12)
            .ok_or(err(CorruptKind::TooShort { len: block.len(), need: REVOKE_HEADER_SIZE }))?;
        let max = block.len().saturating_sub(features.tail_size());
        let used = usize::try_from(r_count).unwrap_or(usize::MAX);
        if used < REVOKE_HEADER_SIZE || used > max {
            return Err(err(CorruptKind::RevokeCount { r_count, block_size: block.len() }));
        }
        let size = features.revoke_record_size();
        let blocks = block[REVOKE_HEADER_SIZE..used]
            .chunks_exact(size)
            .map(|r| if size == 8 { be64(r, 0).unwrap_or(0) } else { u64::from(be32(r, 0).unwrap_or(0)) })
            .collect();
        Ok(RevokeBlock { sequence: header.sequence, blocks })
    }

    /// Encodes a `block_size` revoke block. Panics past [`capacity`](Self::capacity).
    pub fn encode(&self, features: &Features, seed: u32, block_size: usize) -> Vec<u8> {
        assert!(self.blocks.len() <= Self::capacity(features, block_size), "too many revoke records");
        let mut b = vec![0u8; block_size];
        BlockHeader::new(BlockType::Revoke, self.sequence).encode(&mut b);
        let size = features.revoke_record_size();
        let mut off = REVOKE_HEADER_SIZE;
        for &blk in &self.blocks {
            if size == 8 {
                put_be64(&mut b, off, blk);
            } else {
                put_be32(&mut b, off, blk as u32);
            }
            off += size;
        }
        put_be32(&mut b, 12, off as u32);
        if features.csum_v3() {
            set_tail(seed, &mut b);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jbd2::features::INCOMPAT_CSUM_V3;

    #[test]
    fn round_trips_with_64_and_32_bit_records() {
        for f in [Features::kernel_default(), Features { incompat: INCOMPAT_CSUM_V3, ..Features::default() }]
        {
            let cap = RevokeBlock::capacity(&f, 1024);
            let blocks: Vec<u64> =
                (0..cap as u64).map(|i| if f.is_64bit() { i << 33 | i } else { i * 7 }).collect();
            let r = RevokeBlock { sequence: 8, blocks };
            let b = r.encode(&f, 5, 1024);
            assert_eq!(RevokeBlock::decode(&b, &f, 5, 1).unwrap(), r);
        }
        assert_eq!(RevokeBlock::capacity(&Features::kernel_default(), 4096), (4096 - 20) / 8);
    }

    #[test]
    fn bad_count_and_bad_checksum_are_typed_errors() {
        let f = Features::kernel_default();
        let mut b = RevokeBlock { sequence: 8, blocks: vec![1, 2] }.encode(&f, 5, 1024);
        b[100] = 1;
        assert_eq!(
            RevokeBlock::decode(&b, &f, 5, 7).unwrap_err().to_string(),
            "journal block 7: revoke block checksum mismatch"
        );
        put_be32(&mut b, 12, 5000);
        set_tail(5, &mut b);
        assert!(matches!(
            RevokeBlock::decode(&b, &f, 5, 7),
            Err(Jbd2Error::Corrupt { block: 7, kind: CorruptKind::RevokeCount { r_count: 5000, .. } })
        ));
    }
}
