//! jbd2's checksums (CSUM_V2/V3): crc32c seeded with the journal UUID.

use crate::csum::crc32c_raw;

/// The checksum seed: crc32c of the journal superblock's `s_uuid`, from all ones.
pub fn seed(journal_uuid: &[u8; 16]) -> u32 {
    crc32c_raw(!0, journal_uuid)
}

/// crc32c(seed, block) computed as if the 4 bytes at `field` were zero (the field that will
/// hold the checksum). `field + 4` must lie within `block`.
pub(crate) fn with_field_zeroed(seed: u32, block: &[u8], field: usize) -> u32 {
    let c = crc32c_raw(seed, &block[..field]);
    let c = crc32c_raw(c, &[0; 4]);
    crc32c_raw(c, &block[field + 4..])
}

/// The checksum of a logged data block as its descriptor tag stores it (tag3):
/// crc32c(seed, sequence big-endian) then the block as written in the log.
pub fn data_block(seed: u32, sequence: u32, logged: &[u8]) -> u32 {
    crc32c_raw(crc32c_raw(seed, &sequence.to_be_bytes()), logged)
}

/// Whether the tail checksum (last 4 bytes) of a descriptor or revoke block matches:
/// crc32c(seed, block with the tail zeroed).
pub(crate) fn tail_ok(seed: u32, block: &[u8]) -> bool {
    let Some(field) = block.len().checked_sub(4) else { return false };
    super::bytes::be32(block, field) == Some(with_field_zeroed(seed, block, field))
}

/// Sets the tail checksum of a descriptor or revoke block (`block` is at least 4 bytes).
pub(crate) fn set_tail(seed: u32, block: &mut [u8]) {
    let field = block.len() - 4;
    let c = with_field_zeroed(seed, block, field);
    super::bytes::put_be32(block, field, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_field_is_the_same_as_zeroing_it() {
        let mut b: Vec<u8> = (0..64u8).collect();
        let c = with_field_zeroed(7, &b, 60);
        b[60..64].fill(0);
        assert_eq!(c, crc32c_raw(7, &b));
    }

    #[test]
    fn tail_checksum_round_trips() {
        let mut b = vec![5u8; 1024];
        set_tail(9, &mut b);
        assert!(tail_ok(9, &b));
        assert!(!tail_ok(10, &b));
        b[3] ^= 1;
        assert!(!tail_ok(9, &b));
        assert!(!tail_ok(9, &[1, 2]));
    }
}
