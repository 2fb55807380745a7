//! Commit blocks: the record that a transaction is complete, with the commit time and
//! (CSUM_V3) a crc32c over the whole block with the checksum field zeroed.

use super::bytes::{be32, be64, put_be32, put_be64};
use super::checksum::with_field_zeroed;
use super::error::{CorruptKind, Jbd2Error};
use super::features::Features;
use super::header::{BlockHeader, BlockType};

const OFF_CHKSUM_TYPE: usize = 0x0C;
const OFF_CHKSUM_SIZE: usize = 0x0D;
const OFF_CHKSUM: usize = 0x10;
const OFF_COMMIT_SEC: usize = 0x30;
const OFF_COMMIT_NSEC: usize = 0x38;
/// Bytes of `struct commit_header` that carry fields.
const COMMIT_HEADER_SIZE: usize = 0x3C;

/// A decoded commit block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitBlock {
    /// The transaction id.
    pub sequence: u32,
    /// `h_commit_sec`: commit time, seconds since the epoch.
    pub commit_sec: u64,
    /// `h_commit_nsec`.
    pub commit_nsec: u32,
    /// `h_chksum_type` (0 with CSUM_V3; checksum v1 used it).
    pub chksum_type: u8,
    /// `h_chksum_size`.
    pub chksum_size: u8,
    /// `h_chksum[0]`.
    pub checksum: u32,
}

impl CommitBlock {
    /// A commit record for transaction `sequence` at the given time.
    pub fn new(sequence: u32, commit_sec: u64, commit_nsec: u32) -> CommitBlock {
        CommitBlock { sequence, commit_sec, commit_nsec, chksum_type: 0, chksum_size: 0, checksum: 0 }
    }

    /// Decodes journal block `jblock`, verifying the checksum with CSUM_V3.
    pub fn decode(
        block: &[u8],
        features: &Features,
        seed: u32,
        jblock: u64,
    ) -> Result<CommitBlock, Jbd2Error> {
        let err = |kind| Jbd2Error::corrupt(jblock, kind);
        let header = BlockHeader::decode(block).map_err(err)?;
        if header.kind() != Some(BlockType::Commit) {
            return Err(err(CorruptKind::UnexpectedBlockType { found: header.block_type }));
        }
        if block.len() < COMMIT_HEADER_SIZE {
            return Err(err(CorruptKind::TooShort { len: block.len(), need: COMMIT_HEADER_SIZE }));
        }
        let checksum = be32(block, OFF_CHKSUM).unwrap_or(0);
        if features.csum_v3() && checksum != with_field_zeroed(seed, block, OFF_CHKSUM) {
            return Err(err(CorruptKind::CommitChecksum));
        }
        Ok(CommitBlock {
            sequence: header.sequence,
            commit_sec: be64(block, OFF_COMMIT_SEC).unwrap_or(0),
            commit_nsec: be32(block, OFF_COMMIT_NSEC).unwrap_or(0),
            chksum_type: block[OFF_CHKSUM_TYPE],
            chksum_size: block[OFF_CHKSUM_SIZE],
            checksum,
        })
    }

    /// Encodes a `block_size` commit block, checksummed with CSUM_V3.
    pub fn encode(&self, features: &Features, seed: u32, block_size: usize) -> Vec<u8> {
        let mut b = vec![0u8; block_size.max(COMMIT_HEADER_SIZE)];
        BlockHeader::new(BlockType::Commit, self.sequence).encode(&mut b);
        put_be64(&mut b, OFF_COMMIT_SEC, self.commit_sec);
        put_be32(&mut b, OFF_COMMIT_NSEC, self.commit_nsec);
        if features.csum_v3() {
            let c = with_field_zeroed(seed, &b, OFF_CHKSUM);
            put_be32(&mut b, OFF_CHKSUM, c);
        } else {
            b[OFF_CHKSUM_TYPE] = self.chksum_type;
            b[OFF_CHKSUM_SIZE] = self.chksum_size;
            put_be32(&mut b, OFF_CHKSUM, self.checksum);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let f = Features::kernel_default();
        let c = CommitBlock::new(12, 1_700_000_000, 123_456_789);
        let mut b = c.encode(&f, 99, 4096);
        let back = CommitBlock::decode(&b, &f, 99, 4).unwrap();
        assert_eq!((back.sequence, back.commit_sec, back.commit_nsec), (12, 1_700_000_000, 123_456_789));
        assert!(CommitBlock::decode(&b, &f, 98, 4).is_err(), "another journal's seed");
        b[4000] = 1;
        let e = CommitBlock::decode(&b, &f, 99, 4).unwrap_err();
        assert_eq!(e.to_string(), "journal block 4: commit block checksum mismatch");
        assert!(CommitBlock::decode(&b[..20], &f, 99, 4).is_err());
    }

    #[test]
    fn without_checksums_damage_past_the_header_is_not_noticed() {
        let f = Features::default();
        let mut b = CommitBlock::new(3, 1, 2).encode(&f, 0, 1024);
        b[500] = 1;
        assert_eq!(CommitBlock::decode(&b, &f, 0, 0).unwrap().sequence, 3);
    }
}
