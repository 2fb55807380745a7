//! The jbd2 journal superblock (v2), big-endian, in block 0 of the journal inode — only
//! what mkfs writes and what checks a journal is clean. Replay and the rest of the journal
//! format belong to the journal layer.

use super::bytes::{put, slice};
use super::error::{Corruption, FormatError, Result, check_csum, need};
use crate::csum::crc32c_raw;

/// `h_magic`.
pub const JBD2_MAGIC: u32 = 0xC03B_3998;
/// `h_blocktype` of a v2 superblock.
pub const JBD2_SUPERBLOCK_V2: u32 = 4;
/// INCOMPAT: 64-bit block numbers in descriptors.
pub const JBD2_FEATURE_INCOMPAT_64BIT: u32 = 0x2;
/// INCOMPAT: checksums v3 (crc32c over descriptors, commits, revokes, data tags).
pub const JBD2_FEATURE_INCOMPAT_CSUM_V3: u32 = 0x10;
/// `s_checksum_type` for crc32c.
pub const JBD2_CRC32C_CHKSUM: u8 = 4;
/// Bytes the superblock (and its checksum) covers.
pub const JOURNAL_SB_SIZE: usize = 1024;
const CSUM_OFF: usize = 0xFC;

/// The fields of a journal superblock that mkfs sets.
#[allow(missing_docs)] // named as jbd2's s_ fields
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSuperblock {
    pub blocksize: u32,
    pub maxlen: u32,
    pub first: u32,
    pub sequence: u32,
    /// 0: the journal is empty (clean).
    pub start: u32,
    pub errno: u32,
    pub feature_compat: u32,
    pub feature_incompat: u32,
    pub feature_ro_compat: u32,
    pub uuid: [u8; 16],
    pub nr_users: u32,
    pub max_transaction: u32,
    pub max_trans_data: u32,
    pub checksum_type: u8,
    pub num_fc_blocks: u32,
    pub checksum: u32,
    /// `s_users[0]` (the file system using an external journal; zero for internal ones).
    pub user0: [u8; 16],
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(super::bytes::array(b, off))
}

fn put_be32(b: &mut [u8], off: usize, v: u32) {
    put(b, off, &v.to_be_bytes());
}

impl JournalSuperblock {
    /// A clean v2 superblock for an internal journal of `maxlen` blocks, with CSUM_V3 and
    /// 64-bit block numbers, checksum set.
    pub fn new_internal(blocksize: u32, maxlen: u32, uuid: [u8; 16]) -> JournalSuperblock {
        let mut j = JournalSuperblock {
            blocksize,
            maxlen,
            first: 1,
            sequence: 1,
            start: 0,
            errno: 0,
            feature_compat: 0,
            feature_incompat: JBD2_FEATURE_INCOMPAT_CSUM_V3 | JBD2_FEATURE_INCOMPAT_64BIT,
            feature_ro_compat: 0,
            uuid,
            nr_users: 1,
            max_transaction: 0,
            max_trans_data: 0,
            checksum_type: JBD2_CRC32C_CHKSUM,
            num_fc_blocks: 0,
            checksum: 0,
            user0: [0; 16],
        };
        j.checksum = journal_sb_csum(&j.encode());
        j
    }

    /// Decodes a journal superblock block.
    pub fn decode(b: &[u8]) -> Result<JournalSuperblock> {
        need("journal superblock", b, JOURNAL_SB_SIZE)?;
        let magic = be32(b, 0);
        if magic != JBD2_MAGIC {
            return Err(FormatError::new(
                "journal superblock",
                Corruption::BadMagic { found: magic, expected: JBD2_MAGIC },
            ));
        }
        let kind = be32(b, 4);
        if kind != JBD2_SUPERBLOCK_V2 {
            return Err(FormatError::invalid(
                "journal superblock",
                format!("block type {kind}, expected 4 (v2)"),
            ));
        }
        Ok(JournalSuperblock {
            blocksize: be32(b, 0x0C),
            maxlen: be32(b, 0x10),
            first: be32(b, 0x14),
            sequence: be32(b, 0x18),
            start: be32(b, 0x1C),
            errno: be32(b, 0x20),
            feature_compat: be32(b, 0x24),
            feature_incompat: be32(b, 0x28),
            feature_ro_compat: be32(b, 0x2C),
            uuid: super::bytes::array(b, 0x30),
            nr_users: be32(b, 0x40),
            max_transaction: be32(b, 0x48),
            max_trans_data: be32(b, 0x4C),
            checksum_type: super::bytes::u8_at(b, 0x50),
            num_fc_blocks: be32(b, 0x54),
            checksum: be32(b, CSUM_OFF),
            user0: super::bytes::array(b, 0x100),
        })
    }

    /// Encodes into 1024 bytes (the rest of the journal's block 0 is zero).
    pub fn encode(&self) -> [u8; JOURNAL_SB_SIZE] {
        let mut b = [0u8; JOURNAL_SB_SIZE];
        put_be32(&mut b, 0, JBD2_MAGIC);
        put_be32(&mut b, 4, JBD2_SUPERBLOCK_V2);
        put_be32(&mut b, 0x0C, self.blocksize);
        put_be32(&mut b, 0x10, self.maxlen);
        put_be32(&mut b, 0x14, self.first);
        put_be32(&mut b, 0x18, self.sequence);
        put_be32(&mut b, 0x1C, self.start);
        put_be32(&mut b, 0x20, self.errno);
        put_be32(&mut b, 0x24, self.feature_compat);
        put_be32(&mut b, 0x28, self.feature_incompat);
        put_be32(&mut b, 0x2C, self.feature_ro_compat);
        put(&mut b, 0x30, &self.uuid);
        put_be32(&mut b, 0x40, self.nr_users);
        put_be32(&mut b, 0x48, self.max_transaction);
        put_be32(&mut b, 0x4C, self.max_trans_data);
        b[0x50] = self.checksum_type;
        put_be32(&mut b, 0x54, self.num_fc_blocks);
        put_be32(&mut b, CSUM_OFF, self.checksum);
        put(&mut b, 0x100, &self.user0);
        b
    }

    /// With CSUM_V3 (or v2), fails unless `s_checksum` matches.
    pub fn verify_checksum(&self) -> Result<()> {
        if self.feature_incompat & (JBD2_FEATURE_INCOMPAT_CSUM_V3 | 0x8) == 0 {
            return Ok(());
        }
        check_csum("journal superblock", self.checksum, journal_sb_csum(&self.encode()))
    }
}

/// crc32c(~0) of the 1024-byte superblock with `s_checksum` as zero.
pub fn journal_sb_csum(raw: &[u8]) -> u32 {
    let c = crc32c_raw(!0, slice(raw, 0, CSUM_OFF));
    let c = crc32c_raw(c, &[0; 4]);
    crc32c_raw(c, slice(raw, CSUM_OFF + 4, JOURNAL_SB_SIZE - CSUM_OFF - 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_superblock_round_trips_and_verifies() {
        let j = JournalSuperblock::new_internal(4096, 1024, [7; 16]);
        j.verify_checksum().unwrap();
        let raw = j.encode();
        assert_eq!(JournalSuperblock::decode(&raw).unwrap(), j);
        let mut bad = raw;
        bad[0x10] ^= 1;
        assert!(JournalSuperblock::decode(&bad).unwrap().verify_checksum().is_err());
        assert!(JournalSuperblock::decode(&raw[..100]).is_err());
    }
}
