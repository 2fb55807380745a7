//! crc32c (Castagnoli) the way ext4's `metadata_csum` and jbd2's `CSUM_V3` use it.
//!
//! The kernel's `ext4_chksum(seed, data)` is the raw crc32c register update: no initial or
//! final inversion beyond what the seed carries. The standard crc32c of a buffer equals
//! `!raw(!0, buffer)`, which is how it is computed here on top of the `crc32c` crate.

/// The raw crc32c register after `data`, starting from `seed` (`ext4_chksum`, `jbd2_chksum`).
pub fn crc32c_raw(seed: u32, data: &[u8]) -> u32 {
    // crc32c_append(crc, data) computes the standard CRC continuing from a standard CRC
    // value `crc`, i.e. raw(!crc, data) inverted; so raw(seed, data) = !append(!seed, data).
    !crc32c::crc32c_append(!seed, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_from_all_ones_is_the_standard_crc_inverted() {
        // The standard crc32c check value of "123456789" is 0xE3069283.
        assert_eq!(!crc32c_raw(!0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn raw_chains() {
        let whole = crc32c_raw(0x1234_5678, b"hello world");
        let split = crc32c_raw(crc32c_raw(0x1234_5678, b"hello "), b"world");
        assert_eq!(whole, split);
    }
}
