//! Block and inode allocation: the group descriptors (kept in memory, written into the
//! descriptor table at each commit with their checksums), the bitmaps (read and changed
//! through the transaction's cache), the free counts of the superblock, and the policies that
//! choose where things go.
//!
//! Freed blocks are not reusable until the transaction that freed them commits: they stay
//! marked in the bitmap until [`Alloc::apply_frees`] runs as part of the commit. So a block a
//! committed transaction still points at is never overwritten with new data before the
//! transaction that lets go of it is durable (ordered mode's rule for reuse).

mod bits;
mod blocks;
mod inodes;
mod uninit;

use std::collections::{BTreeSet, HashMap};

use crate::error::{FsError, Result};
use crate::geometry::Geometry;
use crate::ondisk::bitmap::{block_bitmap_csum, inode_bitmap_csum};
use crate::ondisk::group_desc::{BG_BLOCK_UNINIT, BG_INODE_UNINIT, GroupDesc};
use crate::ondisk::superblock::Superblock;
use crate::txn::Txn;

/// What an operation changed, to undo it if the operation fails.
#[derive(Debug, Default)]
struct Undo {
    groups: HashMap<u32, GroupDesc>,
    free_blocks: u64,
    free_inodes: u32,
    frees_len: usize,
}

/// Allocation state.
#[derive(Debug)]
pub struct Alloc {
    geo: Geometry,
    groups: Vec<GroupDesc>,
    dirty: BTreeSet<u32>,
    /// Free blocks (the superblock's count).
    free_blocks: u64,
    /// Free inodes.
    free_inodes: u32,
    /// Freed in the running transaction, applied at commit: (first block, count).
    frees: Vec<(u64, u64)>,
    /// Per group: no free inode below this index.
    inode_hint: Vec<u32>,
    undo: Option<Undo>,
}

impl Alloc {
    /// Allocation state from the descriptors and the superblock's counts.
    pub fn new(geo: Geometry, groups: Vec<GroupDesc>, sb: &Superblock) -> Alloc {
        let n = groups.len();
        Alloc {
            geo,
            groups,
            dirty: BTreeSet::new(),
            free_blocks: sb.free_blocks_count,
            free_inodes: sb.free_inodes_count,
            frees: Vec::new(),
            inode_hint: vec![0; n],
            undo: None,
        }
    }

    /// The descriptors.
    pub fn groups(&self) -> &[GroupDesc] {
        &self.groups
    }

    /// Free blocks now (blocks freed in the running transaction not counted yet).
    pub fn free_blocks(&self) -> u64 {
        self.free_blocks
    }

    /// Blocks freed in the running transaction (free once it commits).
    pub fn pending_free_blocks(&self) -> u64 {
        self.frees.iter().map(|&(_, n)| n).sum()
    }

    /// Free inodes now.
    pub fn free_inodes(&self) -> u32 {
        self.free_inodes
    }

    /// Descriptor of group `g` for changing it (recorded for undo, marked for writing).
    fn group_mut(&mut self, g: u32) -> &mut GroupDesc {
        if let Some(u) = &mut self.undo {
            u.groups.entry(g).or_insert(self.groups[g as usize]);
        }
        self.dirty.insert(g);
        &mut self.groups[g as usize]
    }

    /// Starts recording an operation.
    pub fn begin_op(&mut self) {
        self.undo = Some(Undo {
            groups: HashMap::new(),
            free_blocks: self.free_blocks,
            free_inodes: self.free_inodes,
            frees_len: self.frees.len(),
        });
    }

    /// The operation succeeded.
    pub fn end_op(&mut self) {
        self.undo = None;
    }

    /// The operation failed: restore descriptors, counts and the list of frees.
    pub fn rollback_op(&mut self) {
        let Some(u) = self.undo.take() else { return };
        for (g, gd) in u.groups {
            self.groups[g as usize] = gd;
            self.inode_hint[g as usize] = 0;
        }
        self.free_blocks = u.free_blocks;
        self.free_inodes = u.free_inodes;
        self.frees.truncate(u.frees_len);
    }

    /// The block bitmap of group `g`, building it if the group is BLOCK_UNINIT (then the
    /// flag is cleared: the built bitmap goes into the transaction).
    fn block_bitmap(&mut self, txn: &mut Txn, g: u32) -> Result<u64> {
        let gd = self.groups[g as usize];
        if self.geo.uninit_flags() && gd.flags & BG_BLOCK_UNINIT != 0 {
            let map = uninit::block_bitmap(&self.geo, &self.groups, g);
            txn.write_new(gd.block_bitmap, map)?;
            self.group_mut(g).flags &= !BG_BLOCK_UNINIT;
        }
        Ok(gd.block_bitmap)
    }

    /// The inode bitmap of group `g`, built if the group is INODE_UNINIT.
    fn inode_bitmap(&mut self, txn: &mut Txn, g: u32) -> Result<u64> {
        let gd = self.groups[g as usize];
        if self.geo.uninit_flags() && gd.flags & BG_INODE_UNINIT != 0 {
            txn.write_new(gd.inode_bitmap, uninit::inode_bitmap(&self.geo))?;
            self.group_mut(g).flags &= !BG_INODE_UNINIT;
        }
        Ok(gd.inode_bitmap)
    }

    /// Part of a commit: the blocks freed by the running transaction become free (bitmaps
    /// and counts change in the same transaction).
    pub fn apply_frees(&mut self, txn: &mut Txn) -> Result<()> {
        for (start, len) in std::mem::take(&mut self.frees) {
            if start <= self.geo.first_data_block || start.saturating_add(len) > self.geo.blocks_count {
                tracing::warn!(start, len, "not freeing blocks outside the volume");
                continue;
            }
            let mut b = start;
            while b < start + len {
                let g = self.geo.group_of_block(b);
                let gstart = self.geo.group_start(g);
                let n = (start + len - b).min(gstart + self.geo.group_len(g) - b);
                let bitmap = self.block_bitmap(txn, g)?;
                let first = (b - gstart) as usize;
                let cleared = txn.modify(bitmap, |map| {
                    let mut c = 0u32;
                    for i in first..first + n as usize {
                        if bits::test(map, i) {
                            bits::clear(map, i);
                            c += 1;
                        }
                    }
                    c
                })?;
                if u64::from(cleared) != n {
                    tracing::warn!(block = b, count = n, cleared, "freeing blocks that were not in use");
                }
                self.group_mut(g).free_blocks_count += cleared;
                self.free_blocks += u64::from(cleared);
                b += n;
            }
        }
        Ok(())
    }

    /// Part of a commit: every changed descriptor (bitmap checksums recomputed) into the
    /// descriptor table, and the free counts into `sb`.
    pub fn write_descriptors(&mut self, txn: &mut Txn, sb: &mut Superblock) -> Result<()> {
        let ds = usize::from(self.geo.desc_size);
        for g in std::mem::take(&mut self.dirty) {
            let mut gd = self.groups[g as usize];
            if self.geo.metadata_csum {
                if !(self.geo.uninit_flags() && gd.flags & BG_BLOCK_UNINIT != 0) {
                    let map = txn.read(gd.block_bitmap)?;
                    gd.block_bitmap_csum = block_bitmap_csum(&map, sb)?;
                }
                if !(self.geo.uninit_flags() && gd.flags & BG_INODE_UNINIT != 0) {
                    let map = txn.read(gd.inode_bitmap)?;
                    gd.inode_bitmap_csum = inode_bitmap_csum(&map, sb)?;
                }
            }
            gd.update_checksum(sb, g);
            self.groups[g as usize] = gd;
            let (block, off) = self.geo.desc_location(g);
            let raw = gd.encode(ds);
            txn.modify(block, |b| {
                if let Some(dst) = b.get_mut(off..off + ds) {
                    dst.copy_from_slice(&raw);
                }
            })?;
        }
        sb.free_blocks_count = self.free_blocks;
        sb.free_inodes_count = self.free_inodes;
        Ok(())
    }

    /// Descriptors changed since the last commit.
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty() || !self.frees.is_empty()
    }

    fn no_space(what: &'static str) -> FsError {
        FsError::NoSpace { what }
    }
}

#[cfg(test)]
mod tests;
