//! Block and inode bitmap checksums (metadata_csum): crc32c(fs seed) over the bitmap bytes
//! that cover the group (`s_clusters_per_group / 8` and `s_inodes_per_group / 8`), stored
//! split in the group descriptor (`_lo` always, `_hi` with 64-byte descriptors).

use super::error::{Result, check_csum, need};
use super::group_desc::GroupDesc;
use super::superblock::Superblock;
use crate::csum::crc32c_raw;

/// crc32c(fs seed, first `bits / 8` bytes of `bitmap`).
pub fn bitmap_csum(bitmap: &[u8], bits: u32, fs_seed: u32) -> Result<u32> {
    let n = (bits / 8) as usize;
    need("bitmap", bitmap, n)?;
    Ok(crc32c_raw(fs_seed, bitmap.get(..n).unwrap_or(&[])))
}

/// The stored form: the whole checksum with 64-byte descriptors, its low 16 bits otherwise.
fn stored_form(csum: u32, sb: &Superblock) -> u32 {
    if sb.desc_size() >= 64 { csum } else { csum & 0xFFFF }
}

/// The block bitmap checksum as the descriptor should hold it.
pub fn block_bitmap_csum(bitmap: &[u8], sb: &Superblock) -> Result<u32> {
    Ok(stored_form(bitmap_csum(bitmap, sb.clusters_per_group, sb.csum_seed())?, sb))
}

/// The inode bitmap checksum as the descriptor should hold it.
pub fn inode_bitmap_csum(bitmap: &[u8], sb: &Superblock) -> Result<u32> {
    Ok(stored_form(bitmap_csum(bitmap, sb.inodes_per_group, sb.csum_seed())?, sb))
}

/// Verifies a group's block bitmap against its descriptor (no-op without metadata_csum).
pub fn verify_block_bitmap(bitmap: &[u8], sb: &Superblock, gd: &GroupDesc) -> Result<()> {
    if !sb.has_metadata_csum() {
        return Ok(());
    }
    check_csum("block bitmap", gd.block_bitmap_csum, block_bitmap_csum(bitmap, sb)?)
}

/// Verifies a group's inode bitmap against its descriptor (no-op without metadata_csum).
pub fn verify_inode_bitmap(bitmap: &[u8], sb: &Superblock, gd: &GroupDesc) -> Result<()> {
    if !sb.has_metadata_csum() {
        return Ok(());
    }
    check_csum("inode bitmap", gd.inode_bitmap_csum, inode_bitmap_csum(bitmap, sb)?)
}

/// Bit `i` of a bitmap (bit 0 is the low bit of byte 0); false past the end.
pub fn test_bit(bitmap: &[u8], i: u64) -> bool {
    usize::try_from(i / 8).ok().and_then(|b| bitmap.get(b)).is_some_and(|byte| byte & (1 << (i % 8)) != 0)
}

/// Sets bit `i` (ignored past the end).
pub fn set_bit(bitmap: &mut [u8], i: u64) {
    if let Some(byte) = usize::try_from(i / 8).ok().and_then(|b| bitmap.get_mut(b)) {
        *byte |= 1 << (i % 8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_little_endian_within_bytes() {
        let mut b = [0u8; 4];
        set_bit(&mut b, 0);
        set_bit(&mut b, 9);
        set_bit(&mut b, 1000);
        assert_eq!(b, [1, 2, 0, 0]);
        assert!(test_bit(&b, 9) && !test_bit(&b, 8) && !test_bit(&b, u64::MAX));
    }

    #[test]
    fn checksum_covers_only_the_group_bits() {
        let mut b = vec![0xFFu8; 4096];
        let c = bitmap_csum(&b, 8192, 7).unwrap();
        b[2000] = 0; // past 8192 bits
        assert_eq!(bitmap_csum(&b, 8192, 7).unwrap(), c);
        b[10] = 0;
        assert_ne!(bitmap_csum(&b, 8192, 7).unwrap(), c);
        assert!(bitmap_csum(&b[..100], 8192, 7).is_err());
    }
}
