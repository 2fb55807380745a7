//! The superblock and the group descriptors: checksums, counts within range, and the blocks
//! the metadata itself occupies (superblock and descriptor-table copies with their reserved
//! blocks, bitmaps, inode tables).

use super::Check;
use super::problem::Area;
use super::space::Owner;
use crate::mkfs::has_super;
use crate::ondisk::features::{compat, ro_compat};
use crate::ondisk::group_desc::BG_INODE_UNINIT;

/// Superblock sanity and checksum.
pub(super) fn check_superblock(c: &mut Check<'_>) {
    let sb = c.vol.superblock().clone();
    if let Err(e) = sb.verify_checksum() {
        c.problems.error(Area::Superblock, format!("superblock checksum: {e}"));
    }
    if sb.free_blocks_count > sb.blocks_count {
        c.problems.error(
            Area::Superblock,
            format!("{} free blocks in a {}-block volume", sb.free_blocks_count, sb.blocks_count),
        );
    }
    if sb.free_inodes_count > sb.inodes_count {
        c.problems
            .error(Area::Superblock, format!("{} free inodes of {}", sb.free_inodes_count, sb.inodes_count));
    }
    let groups = u64::from(sb.group_count());
    if u64::from(sb.inodes_per_group) * groups != u64::from(sb.inodes_count) {
        c.problems.error(
            Area::Superblock,
            format!(
                "{} inodes per group in {groups} groups, but {} inodes",
                sb.inodes_per_group, sb.inodes_count
            ),
        );
    }
}

/// Group descriptor checksums and counts.
pub(super) fn check_groups(c: &mut Check<'_>) {
    let sb = c.vol.superblock().clone();
    let groups = c.vol.groups().to_vec();
    for (g, gd) in groups.iter().enumerate() {
        let g = g as u32;
        if let Err(e) = gd.verify_checksum(&sb, g) {
            c.problems.error(Area::GroupDescriptor, format!("group {g}: descriptor checksum: {e}"));
        }
        if gd.free_inodes_count > sb.inodes_per_group {
            c.problems.error(
                Area::GroupDescriptor,
                format!("group {g}: {} free inodes of {}", gd.free_inodes_count, sb.inodes_per_group),
            );
        }
        if gd.itable_unused > sb.inodes_per_group {
            c.problems.error(Area::GroupDescriptor, format!("group {g}: itable_unused {}", gd.itable_unused));
        }
        if gd.flags & BG_INODE_UNINIT != 0 && gd.free_inodes_count != sb.inodes_per_group {
            c.problems.error(
                Area::GroupDescriptor,
                format!(
                    "group {g}: INODE_UNINIT with {} free inodes of {}",
                    gd.free_inodes_count, sb.inodes_per_group
                ),
            );
        }
    }
}

/// Whether group `g` carries a superblock and descriptor-table copy.
pub(super) fn group_has_super(c: &Check<'_>, g: u32) -> bool {
    let sb = c.vol.superblock();
    if g == 0 {
        return true;
    }
    if sb.features.compat & compat::SPARSE_SUPER2 != 0 {
        return sb.backup_bgs.contains(&g);
    }
    if sb.features.ro_compat & ro_compat::SPARSE_SUPER != 0 {
        return has_super(u64::from(g));
    }
    true
}

/// The first block of group `g` and its length.
pub(super) fn group_range(c: &Check<'_>, g: u32) -> (u64, u64) {
    let sb = c.vol.superblock();
    let start = u64::from(sb.first_data_block) + u64::from(g) * u64::from(sb.blocks_per_group);
    let len = u64::from(sb.blocks_per_group).min(sb.blocks_count.saturating_sub(start));
    (start, len)
}

/// Claims every metadata block.
pub(super) fn claim_metadata(c: &mut Check<'_>) {
    let sb = c.vol.superblock().clone();
    let bs = u64::from(c.vol.block_size());
    let gdt_blocks = (u64::from(sb.group_count()) * u64::from(sb.desc_size())).div_ceil(bs);
    let itable_blocks = (u64::from(sb.inodes_per_group) * u64::from(sb.inode_size())).div_ceil(bs);
    let groups = c.vol.groups().to_vec();
    for (g, gd) in groups.iter().enumerate() {
        let g = g as u32;
        if group_has_super(c, g) {
            let (start, _) = group_range(c, g);
            let copies = 1 + gdt_blocks + u64::from(sb.reserved_gdt_blocks);
            c.claims.claim(start, copies, Owner::Metadata("superblock and descriptor copy", g));
        }
        c.claims.claim(gd.block_bitmap, 1, Owner::Metadata("block bitmap", g));
        c.claims.claim(gd.inode_bitmap, 1, Owner::Metadata("inode bitmap", g));
        c.claims.claim(gd.inode_table, itable_blocks, Owner::Metadata("inode table", g));
    }
}
