//! Block group descriptors (`struct ext4_group_desc`): 32 bytes, or `s_desc_size` (64)
//! with `64bit`, in the table that follows the superblock's block.

use super::bytes::{put_u16, put_u32, slice, u16_at, u32_at};
use super::crc16::crc16;
use super::error::{Result, check_csum, need};
use super::superblock::Superblock;
use crate::csum::crc32c_raw;

/// `bg_flags`: the inode table and bitmap are not initialized.
pub const BG_INODE_UNINIT: u16 = 0x1;
/// `bg_flags`: the block bitmap is not initialized.
pub const BG_BLOCK_UNINIT: u16 = 0x2;
/// `bg_flags`: the inode table is zeroed.
pub const BG_INODE_ZEROED: u16 = 0x4;

/// Offset of `bg_checksum`.
const CSUM_OFF: usize = 0x1E;

/// A decoded group descriptor; `_lo`/`_hi` halves joined (the `_hi` halves are zero in
/// the 32-byte form).
#[allow(missing_docs)] // one field per on-disk field, named as in the kernel
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupDesc {
    pub block_bitmap: u64,
    pub inode_bitmap: u64,
    pub inode_table: u64,
    pub free_blocks_count: u32,
    pub free_inodes_count: u32,
    pub used_dirs_count: u32,
    pub flags: u16,
    pub exclude_bitmap: u64,
    pub block_bitmap_csum: u32,
    pub inode_bitmap_csum: u32,
    pub itable_unused: u32,
    /// `bg_checksum` as stored.
    pub checksum: u16,
    /// `bg_reserved` (64-byte form only).
    pub reserved: u32,
}

fn join32(lo: u16, hi: u16) -> u32 {
    u32::from(lo) | u32::from(hi) << 16
}

fn join64(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | u64::from(hi) << 32
}

impl GroupDesc {
    /// Decodes a descriptor of `desc_size` bytes (32, or ≥ 64 with 64bit).
    pub fn decode(b: &[u8], desc_size: usize) -> Result<GroupDesc> {
        need("group descriptor", b, desc_size.max(32))?;
        let wide = desc_size >= 64;
        let h16 = |off| if wide { u16_at(b, off) } else { 0 };
        let h32 = |off| if wide { u32_at(b, off) } else { 0 };
        Ok(GroupDesc {
            block_bitmap: join64(u32_at(b, 0x00), h32(0x20)),
            inode_bitmap: join64(u32_at(b, 0x04), h32(0x24)),
            inode_table: join64(u32_at(b, 0x08), h32(0x28)),
            free_blocks_count: join32(u16_at(b, 0x0C), h16(0x2C)),
            free_inodes_count: join32(u16_at(b, 0x0E), h16(0x2E)),
            used_dirs_count: join32(u16_at(b, 0x10), h16(0x30)),
            flags: u16_at(b, 0x12),
            exclude_bitmap: join64(u32_at(b, 0x14), h32(0x34)),
            block_bitmap_csum: join32(u16_at(b, 0x18), h16(0x38)),
            inode_bitmap_csum: join32(u16_at(b, 0x1A), h16(0x3A)),
            itable_unused: join32(u16_at(b, 0x1C), h16(0x32)),
            checksum: u16_at(b, CSUM_OFF),
            reserved: h32(0x3C),
        })
    }

    /// Encodes into `desc_size` bytes (the high halves only in the 64-byte form; bytes past
    /// 64 are zero).
    pub fn encode(&self, desc_size: usize) -> Vec<u8> {
        let mut b = vec![0u8; desc_size.max(32)];
        let lo16 = |v: u32| v as u16;
        let hi16 = |v: u32| (v >> 16) as u16;
        let lo32 = |v: u64| v as u32;
        let hi32 = |v: u64| (v >> 32) as u32;
        put_u32(&mut b, 0x00, lo32(self.block_bitmap));
        put_u32(&mut b, 0x04, lo32(self.inode_bitmap));
        put_u32(&mut b, 0x08, lo32(self.inode_table));
        put_u16(&mut b, 0x0C, lo16(self.free_blocks_count));
        put_u16(&mut b, 0x0E, lo16(self.free_inodes_count));
        put_u16(&mut b, 0x10, lo16(self.used_dirs_count));
        put_u16(&mut b, 0x12, self.flags);
        put_u32(&mut b, 0x14, lo32(self.exclude_bitmap));
        put_u16(&mut b, 0x18, lo16(self.block_bitmap_csum));
        put_u16(&mut b, 0x1A, lo16(self.inode_bitmap_csum));
        put_u16(&mut b, 0x1C, lo16(self.itable_unused));
        put_u16(&mut b, CSUM_OFF, self.checksum);
        if desc_size >= 64 {
            put_u32(&mut b, 0x20, hi32(self.block_bitmap));
            put_u32(&mut b, 0x24, hi32(self.inode_bitmap));
            put_u32(&mut b, 0x28, hi32(self.inode_table));
            put_u16(&mut b, 0x2C, hi16(self.free_blocks_count));
            put_u16(&mut b, 0x2E, hi16(self.free_inodes_count));
            put_u16(&mut b, 0x30, hi16(self.used_dirs_count));
            put_u16(&mut b, 0x32, hi16(self.itable_unused));
            put_u32(&mut b, 0x34, hi32(self.exclude_bitmap));
            put_u16(&mut b, 0x38, hi16(self.block_bitmap_csum));
            put_u16(&mut b, 0x3A, hi16(self.inode_bitmap_csum));
            put_u32(&mut b, 0x3C, self.reserved);
        }
        b
    }

    /// The checksum `bg_checksum` should hold for group `group` (0 when the volume has
    /// neither metadata_csum nor uninit_bg).
    pub fn compute_checksum(&self, sb: &Superblock, group: u32) -> u16 {
        let raw = self.encode(usize::from(sb.desc_size()));
        desc_csum(sb, group, &raw)
    }

    /// Sets `checksum` for group `group`.
    pub fn update_checksum(&mut self, sb: &Superblock, group: u32) {
        self.checksum = self.compute_checksum(sb, group);
    }

    /// Fails if the volume checksums descriptors and this one's does not match.
    pub fn verify_checksum(&self, sb: &Superblock, group: u32) -> Result<()> {
        if !sb.has_metadata_csum() && !sb.has_gdt_csum() {
            return Ok(());
        }
        check_csum("group descriptor", self.checksum.into(), self.compute_checksum(sb, group).into())
    }
}

/// The descriptor checksum over raw descriptor bytes (`bg_checksum` itself skipped):
/// metadata_csum: low 16 bits of crc32c(seed, group, desc); uninit_bg: crc16(~0, uuid,
/// group, desc).
pub fn desc_csum(sb: &Superblock, group: u32, raw: &[u8]) -> u16 {
    let size = usize::from(sb.desc_size()).min(raw.len());
    let before = slice(raw, 0, CSUM_OFF);
    let after = if size > CSUM_OFF + 2 { slice(raw, CSUM_OFF + 2, size - CSUM_OFF - 2) } else { &[] };
    let g = group.to_le_bytes();
    if sb.has_metadata_csum() {
        let mut c = crc32c_raw(sb.csum_seed(), &g);
        c = crc32c_raw(c, before);
        c = crc32c_raw(c, &[0, 0]);
        c = crc32c_raw(c, after);
        c as u16
    } else if sb.has_gdt_csum() {
        let mut c = crc16(!0, &sb.uuid);
        c = crc16(c, &g);
        c = crc16(c, before);
        c = crc16(c, after);
        c
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_desc(wide: bool) -> impl Strategy<Value = GroupDesc> {
        let m64 = if wide { u64::MAX } else { u64::from(u32::MAX) };
        let m32 = if wide { u32::MAX } else { u32::from(u16::MAX) };
        (
            (0..=m64, 0..=m64, 0..=m64, 0..=m64),
            (0..=m32, 0..=m32, 0..=m32, 0..=m32, 0..=m32, 0..=m32),
            (any::<u16>(), any::<u16>(), if wide { any::<u32>().boxed() } else { Just(0).boxed() }),
        )
            .prop_map(|((bb, ib, it, ex), (fb, fi, ud, bc, ic, iu), (flags, checksum, reserved))| {
                GroupDesc {
                    block_bitmap: bb,
                    inode_bitmap: ib,
                    inode_table: it,
                    exclude_bitmap: ex,
                    free_blocks_count: fb,
                    free_inodes_count: fi,
                    used_dirs_count: ud,
                    block_bitmap_csum: bc,
                    inode_bitmap_csum: ic,
                    itable_unused: iu,
                    flags,
                    checksum,
                    reserved,
                }
            })
    }

    proptest! {
        #[test]
        fn round_trips_64(d in any_desc(true)) {
            prop_assert_eq!(GroupDesc::decode(&d.encode(64), 64).unwrap(), d);
        }

        #[test]
        fn round_trips_32(d in any_desc(false)) {
            prop_assert_eq!(GroupDesc::decode(&d.encode(32), 32).unwrap(), d);
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80), size in 0usize..80) {
            let _ = GroupDesc::decode(&b, size);
        }
    }
}
