//! Bitmaps of groups whose descriptor says BLOCK_UNINIT or INODE_UNINIT: the on-disk bitmap
//! block holds nothing meaningful, and the bitmap is what the layout implies. They are built
//! here when a group is first allocated from, and written with the flag cleared.

use crate::geometry::Geometry;
use crate::ondisk::group_desc::GroupDesc;

use super::bits::set;

/// The block bitmap an uninitialized group `g` stands for: its superblock backup,
/// descriptor table and reserved GDT blocks, any group's bitmaps and inode table that lie in
/// it, and the bits past the end of the volume (and past the group) set.
pub(crate) fn block_bitmap(geo: &Geometry, groups: &[GroupDesc], g: u32) -> Vec<u8> {
    let mut map = vec![0u8; geo.bsz()];
    let start = geo.group_start(g);
    let len = geo.group_len(g);
    let mut mark = |b: u64, n: u64| {
        for x in b..b.saturating_add(n) {
            if x >= start && x < start + len {
                set(&mut map, (x - start) as usize);
            }
        }
    };
    if geo.has_super(g) {
        // With 1 KiB blocks group 0 starts at block 1, which holds the superblock.
        mark(start, 1 + geo.gdt_blocks + geo.reserved_gdt);
    }
    for gd in groups {
        mark(gd.block_bitmap, 1);
        mark(gd.inode_bitmap, 1);
        mark(gd.inode_table, geo.itable_blocks);
    }
    for i in len as usize..geo.bsz() * 8 {
        set(&mut map, i);
    }
    map
}

/// The inode bitmap of an uninitialized group: no inode in use, padding bits set.
pub(crate) fn inode_bitmap(geo: &Geometry) -> Vec<u8> {
    let mut map = vec![0u8; geo.bsz()];
    for i in geo.ipg as usize..geo.bsz() * 8 {
        set(&mut map, i);
    }
    map
}
