//! The journal superblock (`journal_superblock_t`, 1024 bytes at the start of journal
//! block 0): geometry, where the log starts, features, UUID, and its own crc32c.

use super::bytes::{be32, put_be32};
use super::checksum::with_field_zeroed;
use super::error::{CorruptKind, Jbd2Error};
use super::features::{Features, INCOMPAT_CSUM_V2, INCOMPAT_CSUM_V3};
use super::header::{BlockHeader, BlockType};

/// Size of the journal superblock structure.
pub const SUPERBLOCK_SIZE: usize = 1024;

/// `s_checksum_type` for crc32c.
pub const CHECKSUM_TYPE_CRC32C: u8 = 4;

const OFF_BLOCKSIZE: usize = 0x0C;
const OFF_MAXLEN: usize = 0x10;
const OFF_FIRST: usize = 0x14;
const OFF_SEQUENCE: usize = 0x18;
const OFF_START: usize = 0x1C;
const OFF_ERRNO: usize = 0x20;
const OFF_COMPAT: usize = 0x24;
const OFF_INCOMPAT: usize = 0x28;
const OFF_RO_COMPAT: usize = 0x2C;
const OFF_UUID: usize = 0x30;
const OFF_NR_USERS: usize = 0x40;
const OFF_MAX_TRANSACTION: usize = 0x48;
const OFF_MAX_TRANS_DATA: usize = 0x4C;
const OFF_CHECKSUM_TYPE: usize = 0x50;
const OFF_CHECKSUM: usize = 0xFC;

/// A decoded journal superblock. Fields this code does not interpret (padding, `s_users`,
/// `s_dynsuper`, ...) are kept as read and written back unchanged by [`encode`](Self::encode).
#[derive(Clone, PartialEq, Eq)]
pub struct JournalSuperblock {
    /// Version 2 (`true`, block type 4) or version 1 (block type 3, no features).
    pub v2: bool,
    /// `s_blocksize`: the journal block size in bytes.
    pub block_size: u32,
    /// `s_maxlen`: number of blocks in the journal, superblock included.
    pub maxlen: u32,
    /// `s_first`: first block of the log (the circular log is `first..maxlen`).
    pub first: u32,
    /// `s_sequence`: the id of the first transaction expected in the log.
    pub sequence: u32,
    /// `s_start`: block where the log starts; 0 means the journal is empty (clean).
    pub start: u32,
    /// `s_errno`: error recorded when the journal was aborted (0 if none).
    pub errno: i32,
    /// Feature words (all zero in a v1 superblock).
    pub features: Features,
    /// `s_uuid`: the journal's UUID; its crc32c is the checksum seed.
    pub uuid: [u8; 16],
    /// `s_nr_users`.
    pub nr_users: u32,
    /// `s_max_transaction` (unused by Linux).
    pub max_transaction: u32,
    /// `s_max_trans_data` (unused by Linux).
    pub max_trans_data: u32,
    /// `s_checksum_type` (4 = crc32c with checksum v2/v3).
    pub checksum_type: u8,
    raw: Box<[u8; SUPERBLOCK_SIZE]>,
}

impl std::fmt::Debug for JournalSuperblock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalSuperblock")
            .field("v2", &self.v2)
            .field("block_size", &self.block_size)
            .field("maxlen", &self.maxlen)
            .field("first", &self.first)
            .field("sequence", &self.sequence)
            .field("start", &self.start)
            .field("errno", &self.errno)
            .field("features", &self.features)
            .field("uuid", &self.uuid)
            .field("checksum_type", &self.checksum_type)
            .finish_non_exhaustive()
    }
}

fn field(buf: &[u8], off: usize) -> Result<u32, Jbd2Error> {
    be32(buf, off)
        .ok_or(Jbd2Error::corrupt(0, CorruptKind::TooShort { len: buf.len(), need: SUPERBLOCK_SIZE }))
}

impl JournalSuperblock {
    /// A fresh, empty v2 superblock, as a journal formatter would write it.
    pub fn new(block_size: u32, maxlen: u32, uuid: [u8; 16], features: Features) -> JournalSuperblock {
        JournalSuperblock {
            v2: true,
            block_size,
            maxlen,
            first: 1,
            sequence: 1,
            start: 0,
            errno: 0,
            features,
            uuid,
            nr_users: 1,
            max_transaction: 0,
            max_trans_data: 0,
            checksum_type: if features.csum_v3() { CHECKSUM_TYPE_CRC32C } else { 0 },
            raw: Box::new([0; SUPERBLOCK_SIZE]),
        }
    }

    /// Decodes the superblock from the start of journal block 0 and verifies its checksum
    /// when the journal has checksums. Values are not range-checked here: see
    /// [`validate`](Self::validate).
    pub fn decode(buf: &[u8]) -> Result<JournalSuperblock, Jbd2Error> {
        let raw: [u8; SUPERBLOCK_SIZE] = buf
            .get(..SUPERBLOCK_SIZE)
            .and_then(|b| b.try_into().ok())
            .ok_or(Jbd2Error::corrupt(0, CorruptKind::TooShort { len: buf.len(), need: SUPERBLOCK_SIZE }))?;
        let header = BlockHeader::decode(&raw).map_err(|k| Jbd2Error::corrupt(0, k))?;
        let v2 = match header.kind() {
            Some(BlockType::SuperblockV2) => true,
            Some(BlockType::SuperblockV1) => false,
            _ => {
                return Err(Jbd2Error::corrupt(
                    0,
                    CorruptKind::UnexpectedBlockType { found: header.block_type },
                ));
            }
        };
        let features = if v2 {
            Features {
                compat: field(&raw, OFF_COMPAT)?,
                incompat: field(&raw, OFF_INCOMPAT)?,
                ro_compat: field(&raw, OFF_RO_COMPAT)?,
            }
        } else {
            Features::default()
        };
        if features.incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3) != 0 {
            let stored = field(&raw, OFF_CHECKSUM)?;
            let computed = with_field_zeroed(!0, &raw, OFF_CHECKSUM);
            if stored != computed {
                return Err(Jbd2Error::corrupt(0, CorruptKind::SuperblockChecksum { stored, computed }));
            }
        }
        let mut uuid = [0; 16];
        uuid.copy_from_slice(&raw[OFF_UUID..OFF_UUID + 16]);
        Ok(JournalSuperblock {
            v2,
            block_size: field(&raw, OFF_BLOCKSIZE)?,
            maxlen: field(&raw, OFF_MAXLEN)?,
            first: field(&raw, OFF_FIRST)?,
            sequence: field(&raw, OFF_SEQUENCE)?,
            start: field(&raw, OFF_START)?,
            errno: field(&raw, OFF_ERRNO)? as i32,
            features,
            uuid,
            nr_users: field(&raw, OFF_NR_USERS)?,
            max_transaction: field(&raw, OFF_MAX_TRANSACTION)?,
            max_trans_data: field(&raw, OFF_MAX_TRANS_DATA)?,
            checksum_type: raw[OFF_CHECKSUM_TYPE],
            raw: Box::new(raw),
        })
    }

    /// Checks the geometry against the journal area (`area_blocks` blocks of
    /// `area_block_size` bytes) and refuses features this code does not implement.
    pub fn validate(&self, area_block_size: usize, area_blocks: u64) -> Result<(), Jbd2Error> {
        let bad = |field: &'static str, value: u64, why: &'static str| {
            Err(Jbd2Error::corrupt(0, CorruptKind::SuperblockField { field, value, why }))
        };
        if self.block_size as usize != area_block_size {
            return bad("s_blocksize", self.block_size.into(), "differs from the file system block size");
        }
        if !(1024..=65536).contains(&self.block_size) || !self.block_size.is_power_of_two() {
            return bad("s_blocksize", self.block_size.into(), "not a power of two in 1024..=65536");
        }
        if u64::from(self.maxlen) > area_blocks {
            return bad("s_maxlen", self.maxlen.into(), "larger than the journal inode");
        }
        if self.first == 0 || self.first >= self.maxlen {
            return bad("s_first", self.first.into(), "not within 1..s_maxlen");
        }
        if self.maxlen - self.first < 2 {
            return bad("s_maxlen", self.maxlen.into(), "leaves fewer than 2 log blocks");
        }
        if self.start != 0 && (self.start < self.first || self.start >= self.maxlen) {
            return bad("s_start", self.start.into(), "not within s_first..s_maxlen");
        }
        self.features.check_supported()?;
        if self.features.csum_v3() && self.checksum_type != CHECKSUM_TYPE_CRC32C {
            return bad("s_checksum_type", self.checksum_type.into(), "not crc32c (4) with CSUM_V3");
        }
        Ok(())
    }

    /// The 1024-byte image, with the checksum set when the journal has checksums.
    pub fn encode(&self) -> [u8; SUPERBLOCK_SIZE] {
        let mut b = *self.raw;
        let block_type = if self.v2 { BlockType::SuperblockV2 } else { BlockType::SuperblockV1 };
        BlockHeader { block_type: block_type.raw(), sequence: be32(&b, 8).unwrap_or(0) }.encode(&mut b);
        put_be32(&mut b, OFF_BLOCKSIZE, self.block_size);
        put_be32(&mut b, OFF_MAXLEN, self.maxlen);
        put_be32(&mut b, OFF_FIRST, self.first);
        put_be32(&mut b, OFF_SEQUENCE, self.sequence);
        put_be32(&mut b, OFF_START, self.start);
        put_be32(&mut b, OFF_ERRNO, self.errno as u32);
        if self.v2 {
            put_be32(&mut b, OFF_COMPAT, self.features.compat);
            put_be32(&mut b, OFF_INCOMPAT, self.features.incompat);
            put_be32(&mut b, OFF_RO_COMPAT, self.features.ro_compat);
            b[OFF_UUID..OFF_UUID + 16].copy_from_slice(&self.uuid);
            put_be32(&mut b, OFF_NR_USERS, self.nr_users);
            put_be32(&mut b, OFF_MAX_TRANSACTION, self.max_transaction);
            put_be32(&mut b, OFF_MAX_TRANS_DATA, self.max_trans_data);
            b[OFF_CHECKSUM_TYPE] = self.checksum_type;
        }
        if self.features.incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3) != 0 {
            let c = with_field_zeroed(!0, &b, OFF_CHECKSUM);
            put_be32(&mut b, OFF_CHECKSUM, c);
        }
        b
    }

    /// The checksum seed of this journal (crc32c of `s_uuid`).
    pub fn seed(&self) -> u32 {
        super::checksum::seed(&self.uuid)
    }

    /// Number of blocks in the circular log (`s_maxlen - s_first`).
    pub fn log_blocks(&self) -> u32 {
        self.maxlen.saturating_sub(self.first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> JournalSuperblock {
        let mut sb = JournalSuperblock::new(4096, 1024, [0x11; 16], Features::kernel_default());
        sb.sequence = 77;
        sb.start = 9;
        sb
    }

    #[test]
    fn round_trips_with_checksum() {
        let sb = sample();
        let bytes = sb.encode();
        assert_eq!(&bytes[..4], &[0xC0, 0x3B, 0x39, 0x98]);
        let back = JournalSuperblock::decode(&bytes).unwrap();
        assert_eq!(back, JournalSuperblock { raw: Box::new(bytes), ..sb });
        assert_eq!(back.encode(), bytes);
        back.validate(4096, 1024).unwrap();
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let mut bytes = sample().encode();
        bytes[0x200] ^= 1;
        let e = JournalSuperblock::decode(&bytes).unwrap_err();
        assert!(e.to_string().starts_with("journal block 0: superblock checksum mismatch"), "{e}");
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let mut bytes = sample().encode();
        bytes[0x100] = 0xAB; // s_users
        let c = with_field_zeroed(!0, &bytes, OFF_CHECKSUM);
        put_be32(&mut bytes, OFF_CHECKSUM, c);
        let mut sb = JournalSuperblock::decode(&bytes).unwrap();
        sb.start = 0;
        let again = sb.encode();
        assert_eq!(again[0x100], 0xAB);
        assert_eq!(JournalSuperblock::decode(&again).unwrap().start, 0);
    }

    #[test]
    fn geometry_is_validated() {
        let sb = sample();
        assert!(sb.validate(1024, 1024).is_err());
        assert!(sb.validate(4096, 100).is_err());
        let mut bad = sample();
        bad.start = 2000;
        assert!(bad.validate(4096, 1024).is_err());
        let mut bad = sample();
        bad.first = 0;
        assert!(bad.validate(4096, 1024).is_err());
    }

    #[test]
    fn short_or_garbage_input_is_an_error_not_a_panic() {
        assert!(JournalSuperblock::decode(&[0; 100]).is_err());
        assert!(JournalSuperblock::decode(&[0; 1024]).is_err());
        let mut b = sample().encode();
        put_be32(&mut b, 4, 1); // a descriptor, not a superblock
        assert!(JournalSuperblock::decode(&b).is_err());
    }
}
