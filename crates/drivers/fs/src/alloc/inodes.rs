//! Inode allocation: regular files near their directory, directories spread over groups
//! with more than their share of free inodes and blocks (a simple form of ext4's Orlov
//! allocator), and the bookkeeping of `bg_itable_unused` and INODE_UNINIT.

use super::{Alloc, bits};
use crate::error::Result;
use crate::ondisk::group_desc::BG_INODE_ZEROED;
use crate::ondisk::inode::ROOT_INO;
use crate::txn::Txn;

impl Alloc {
    /// Picks the group for a new inode whose parent directory is `parent`.
    fn inode_group(&self, parent: u32, is_dir: bool) -> Option<u32> {
        let geo = &self.geo;
        let n = geo.groups;
        let pg = geo.group_of_inode(parent.max(1));
        let has_room = |g: u32| self.groups[g as usize].free_inodes_count > 0;
        if is_dir {
            let avg_inodes = self.free_inodes / n;
            let avg_blocks = self.free_blocks / u64::from(n);
            let roomy = |g: u32| {
                let gd = &self.groups[g as usize];
                gd.free_inodes_count > 0
                    && gd.free_inodes_count >= avg_inodes
                    && u64::from(gd.free_blocks_count) >= avg_blocks
            };
            // Top-level directories spread out; deeper ones stay near their parent.
            if parent != ROOT_INO && roomy(pg) {
                return Some(pg);
            }
            let start =
                if parent == ROOT_INO { (self.free_inodes as u64 * 7 % u64::from(n)) as u32 } else { pg };
            if let Some(g) = (0..n).map(|i| (start + i) % n).find(|&g| roomy(g)) {
                return Some(g);
            }
        }
        (0..n).map(|i| (pg + i) % n).find(|&g| has_room(g))
    }

    /// Allocates an inode for a child of `parent`; returns its number. The caller writes the
    /// inode itself.
    pub fn alloc_inode(&mut self, txn: &mut Txn, parent: u32, is_dir: bool) -> Result<u32> {
        if self.free_inodes == 0 {
            return Err(Self::no_space("inodes"));
        }
        let geo = self.geo;
        let first = self.inode_group(parent, is_dir);
        let Some(g0) = first else { return Err(Self::no_space("inodes")) };
        for i in 0..geo.groups {
            let g = (g0 + i) % geo.groups;
            if self.groups[g as usize].free_inodes_count == 0 {
                continue;
            }
            let bitmap = self.inode_bitmap(txn, g)?;
            let map = txn.read(bitmap)?;
            let reserved = if g == 0 { geo.first_ino - 1 } else { 0 };
            let from = self.inode_hint[g as usize].max(reserved) as usize;
            let Some(idx) = bits::find_zero(&map, from, geo.ipg as usize) else {
                tracing::warn!(group = g, "descriptor counts free inodes the bitmap does not have");
                continue;
            };
            drop(map);
            txn.modify(bitmap, |m| bits::set(m, idx))?;
            self.inode_hint[g as usize] = idx as u32 + 1;
            let ipg = geo.ipg;
            let uninit = geo.uninit_flags();
            let gd = self.group_mut(g);
            gd.free_inodes_count = gd.free_inodes_count.saturating_sub(1);
            if is_dir {
                gd.used_dirs_count += 1;
            }
            let mut zero_from = None;
            if uninit {
                let boundary = ipg.saturating_sub(gd.itable_unused);
                if idx as u32 >= boundary {
                    gd.itable_unused = ipg - idx as u32 - 1;
                    if gd.flags & BG_INODE_ZEROED == 0 {
                        zero_from = Some(boundary);
                    }
                }
            }
            let table = gd.inode_table;
            self.free_inodes -= 1;
            let ino = g * ipg + idx as u32 + 1;
            if let Some(from) = zero_from {
                // A table nobody zeroed: the slots now inside the used area must read as free.
                for slot in from..idx as u32 {
                    let (block, off) = geo.inode_location(table, g * ipg + slot + 1);
                    let isz = usize::from(geo.inode_size);
                    txn.modify(block, |b| b[off..off + isz].fill(0))?;
                }
            }
            return Ok(ino);
        }
        Err(Self::no_space("inodes"))
    }

    /// Frees inode `ino` (the caller has released its blocks and written it as deleted).
    pub fn free_inode(&mut self, txn: &mut Txn, ino: u32, is_dir: bool) -> Result<()> {
        let geo = self.geo;
        let g = geo.group_of_inode(ino);
        let idx = ((ino - 1) % geo.ipg) as usize;
        let bitmap = self.inode_bitmap(txn, g)?;
        let was = txn.modify(bitmap, |m| {
            let was = bits::test(m, idx);
            bits::clear(m, idx);
            was
        })?;
        if !was {
            tracing::warn!(ino, "freeing an inode that was not in use");
            return Ok(());
        }
        self.inode_hint[g as usize] = self.inode_hint[g as usize].min(idx as u32);
        let gd = self.group_mut(g);
        gd.free_inodes_count += 1;
        if is_dir {
            gd.used_dirs_count = gd.used_dirs_count.saturating_sub(1);
        }
        self.free_inodes += 1;
        Ok(())
    }
}
