//! Passes 4 and 5: every inode's link count against the entries naming it; the block and
//! inode bitmaps (checksums and bits) against what passes 1 to 3 found in use; each group's
//! free-block, free-inode and directory counts; the superblock's totals (a warning only:
//! the kernel updates them lazily, and e2fsck does not count them as errors either).

use super::Check;
use super::metadata::group_range;
use super::problem::Area;
use super::space::is_used;
use crate::ondisk::bitmap::{test_bit, verify_block_bitmap, verify_inode_bitmap};
use crate::ondisk::features::ro_compat;
use crate::ondisk::group_desc::{BG_BLOCK_UNINIT, BG_INODE_UNINIT};
use crate::ondisk::inode::{ROOT_INO, mode};

/// Most links a directory's count shows before dir_nlink pins it at 1.
const LINK_MAX: u32 = 65000;

/// Pass 4.
pub(super) fn check_link_counts(c: &mut Check<'_>) {
    let dir_nlink = c.vol.superblock().features.ro_compat & ro_compat::DIR_NLINK != 0;
    let first_ino = c.vol.superblock().first_ino();
    let mut inodes: Vec<_> = c.inodes.iter().map(|(&i, &info)| (i, info)).collect();
    inodes.sort_by_key(|&(i, _)| i);
    for (ino, info) in inodes {
        if ino < first_ino && ino != ROOT_INO {
            continue;
        }
        let refs = c.refs.get(&ino).copied().unwrap_or(0);
        let links = u32::from(info.links);
        let is_dir = info.mode & mode::S_IFMT == mode::S_IFDIR;
        if refs == 0 {
            c.problems
                .error(Area::LinkCount, format!("inode {ino} is in use but in no directory (unattached)"));
        } else if links != refs && !(is_dir && dir_nlink && links == 1 && refs >= LINK_MAX) {
            c.problems
                .error(Area::LinkCount, format!("inode {ino}: i_links_count is {links}, should be {refs}"));
        }
    }
}

/// Pass 5.
pub(super) fn check_bitmaps_and_counts(c: &mut Check<'_>, used: &[u64]) {
    let sb = c.vol.superblock().clone();
    let csummed = sb.has_metadata_csum() || sb.has_gdt_csum();
    let groups = c.vol.groups().to_vec();
    let (mut free_blocks_total, mut free_inodes_total) = (0u64, 0u64);
    for (g, gd) in groups.iter().enumerate() {
        let g = g as u32;
        let (start, len) = group_range(c, g);
        let used_here = (start..start + len).filter(|&b| is_used(used, b)).count() as u64;
        free_blocks_total += len - used_here;
        if csummed && gd.flags & BG_BLOCK_UNINIT != 0 {
            // Never written: only the group's own metadata may be in it.
            let meta = super::metadata_blocks_in(c, g);
            if used_here != meta {
                c.problems.error(
                    Area::BlockBitmap,
                    format!(
                        "group {g}: BLOCK_UNINIT, but {} blocks are in use",
                        used_here - meta.min(used_here)
                    ),
                );
            }
        } else {
            match c.vol.read_block(gd.block_bitmap, "block bitmap") {
                Err(e) => c.problems.error(Area::BlockBitmap, format!("group {g}: {e}")),
                Ok(bitmap) => {
                    if let Err(e) = verify_block_bitmap(&bitmap, &sb, gd) {
                        c.problems.error(Area::BlockBitmap, format!("group {g}: {e}"));
                    }
                    compare(
                        c,
                        Area::BlockBitmap,
                        g,
                        "block",
                        start,
                        len,
                        |i| test_bit(&bitmap, i),
                        |b| is_used(used, b),
                    );
                }
            }
        }
        if u64::from(gd.free_blocks_count) != len - used_here {
            c.problems.error(
                Area::Counts,
                format!(
                    "group {g}: free blocks count is {}, counted {}",
                    gd.free_blocks_count,
                    len - used_here
                ),
            );
        }

        let ipg = u64::from(sb.inodes_per_group);
        let first = u64::from(g) * ipg + 1;
        let in_use = |ino: u64| ino < u64::from(sb.first_ino()) || c.inodes.contains_key(&(ino as u32));
        let used_inodes = (first..first + ipg).filter(|&i| in_use(i)).count() as u64;
        let dirs = (first..first + ipg)
            .filter(|&i| c.inodes.get(&(i as u32)).is_some_and(|n| n.mode & mode::S_IFMT == mode::S_IFDIR))
            .count() as u64;
        free_inodes_total += ipg - used_inodes;
        if csummed && gd.flags & BG_INODE_UNINIT != 0 {
            if used_inodes != 0 {
                c.problems.error(
                    Area::InodeBitmap,
                    format!("group {g}: INODE_UNINIT, but {used_inodes} inodes are in use"),
                );
            }
        } else {
            match c.vol.read_block(gd.inode_bitmap, "inode bitmap") {
                Err(e) => c.problems.error(Area::InodeBitmap, format!("group {g}: {e}")),
                Ok(bitmap) => {
                    if let Err(e) = verify_inode_bitmap(&bitmap, &sb, gd) {
                        c.problems.error(Area::InodeBitmap, format!("group {g}: {e}"));
                    }
                    let inodes = c.inodes.clone();
                    let first_ino = u64::from(sb.first_ino());
                    compare(
                        c,
                        Area::InodeBitmap,
                        g,
                        "inode",
                        first,
                        ipg,
                        |i| test_bit(&bitmap, i),
                        |ino| ino < first_ino || inodes.contains_key(&(ino as u32)),
                    );
                }
            }
        }
        if u64::from(gd.free_inodes_count) != ipg - used_inodes {
            c.problems.error(
                Area::Counts,
                format!(
                    "group {g}: free inodes count is {}, counted {}",
                    gd.free_inodes_count,
                    ipg - used_inodes
                ),
            );
        }
        if u64::from(gd.used_dirs_count) != dirs {
            c.problems.error(
                Area::Counts,
                format!("group {g}: directories count is {}, counted {dirs}", gd.used_dirs_count),
            );
        }
    }
    if sb.free_blocks_count != free_blocks_total {
        c.problems.warning(
            Area::Counts,
            format!("free blocks count wrong ({}, counted {free_blocks_total})", sb.free_blocks_count),
        );
    }
    if u64::from(sb.free_inodes_count) != free_inodes_total {
        c.problems.warning(
            Area::Counts,
            format!("free inodes count wrong ({}, counted {free_inodes_total})", sb.free_inodes_count),
        );
    }
    c.free_blocks = free_blocks_total;
    c.free_inodes = free_inodes_total;
}

/// Compares `len` bitmap bits (bit `i` for object `first + i`) with what is in use, and
/// reports the differences as ranges.
#[allow(clippy::too_many_arguments)]
fn compare(
    c: &mut Check<'_>,
    area: Area,
    g: u32,
    what: &str,
    first: u64,
    len: u64,
    on_disk: impl Fn(u64) -> bool,
    in_use: impl Fn(u64) -> bool,
) {
    let mut i = 0u64;
    while i < len {
        let (disk, used) = (on_disk(i), in_use(first + i));
        if disk == used {
            i += 1;
            continue;
        }
        let start = i;
        while i < len && on_disk(i) == disk && in_use(first + i) == used && on_disk(i) != in_use(first + i) {
            i += 1;
        }
        let range = if i - start == 1 {
            format!("{}", first + start)
        } else {
            format!("{}-{}", first + start, first + i - 1)
        };
        let text = if used { "in use but marked free" } else { "marked in use but free" };
        c.problems.error(area, format!("group {g}: {what} bitmap differences: {what}s {range} are {text}"));
    }
}
