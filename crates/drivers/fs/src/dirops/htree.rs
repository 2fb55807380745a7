//! Indexed (htree) directories: which blocks are dx blocks (the root at block 0 and the
//! interior nodes), and the change that makes such a directory linear. The leaves of an
//! htree are ordinary linear blocks already; the dx blocks become linear too (block 0 keeps
//! "." and "..", the nodes become empty blocks) and the INDEX flag goes. The directory is
//! then a valid linear directory, which e2fsck accepts as it is.

use std::collections::BTreeSet;

use super::block;
use crate::error::{FsError, Result};
use crate::filesystem::inner::Inner;
use crate::ondisk::dirent::set_dirblock_csum;
use crate::ondisk::htree::{DxNode, DxRoot, NODE_ENTRIES_OFF, ROOT_ENTRIES_OFF, verify_dx_csum};
use crate::ondisk::inode::{Inode, flags, mode};

/// Most `indirect_levels` without large_dir.
const MAX_LEVELS: u8 = 1;

impl Inner {
    fn dx_block(
        &mut self,
        dir: u32,
        inode: &Inode,
        lblk: u32,
        entries_off: usize,
    ) -> Result<std::sync::Arc<Vec<u8>>> {
        let p = self.dir_phys(dir, inode, lblk)?;
        let b = self.txn.read(p)?;
        if self.geo.metadata_csum && self.opts.verify_checksums {
            verify_dx_csum(&b, entries_off, self.inode_seed(dir, inode))
                .map_err(|e| e.at(format!("directory block {lblk}")).at(format!("inode {dir}")))?;
        }
        Ok(b)
    }

    /// The ".." of an indexed directory and its dx blocks (block 0 and the dx nodes).
    pub(crate) fn dx_blocks(&mut self, dir: u32, inode: &Inode) -> Result<(u32, Vec<u32>)> {
        let n = self.dir_blocks(dir, inode)?;
        let b = self.dx_block(dir, inode, 0, ROOT_ENTRIES_OFF)?;
        let root = DxRoot::decode(&b).map_err(|e| e.at(format!("inode {dir}")))?;
        if root.info.indirect_levels > MAX_LEVELS {
            return Err(FsError::corrupt(
                format!("inode {dir}"),
                "dx_root",
                "more index levels than without large_dir",
            ));
        }
        let mut index = BTreeSet::from([0u32]);
        let mut level: Vec<u32> = root.entries.iter().map(|e| e.block).collect();
        for _ in 0..root.info.indirect_levels {
            let mut next = Vec::new();
            for lblk in level {
                if lblk == 0 || lblk >= n || !index.insert(lblk) {
                    return Err(FsError::corrupt(
                        format!("inode {dir}"),
                        "dx_node",
                        format!("bad node block {lblk}"),
                    ));
                }
                let nb = self.dx_block(dir, inode, lblk, NODE_ENTRIES_OFF)?;
                let node = DxNode::decode(&nb).map_err(|e| e.at(format!("inode {dir}")))?;
                next.extend(node.entries.iter().map(|e| e.block));
            }
            level = next;
        }
        Ok((root.dotdot_inode, index.into_iter().collect()))
    }

    /// Makes indexed directory `dir` linear (the caller writes the inode).
    pub(crate) fn dir_unindex(&mut self, dir: u32, inode: &mut Inode) -> Result<()> {
        let Some(blocks) = self.dirs.get(dir).and_then(|i| i.htree_blocks.clone()) else {
            inode.flags &= !flags::INDEX;
            return Ok(());
        };
        let parent = self.dirs.get(dir).map_or(0, |i| i.parent);
        let csum = self.geo.metadata_csum;
        let seed = self.inode_seed(dir, inode);
        let bs = self.geo.bsz();
        let dt = self.ftype(mode::S_IFDIR);
        let end = self.dir_end();
        for lblk in blocks {
            let mut b = if lblk == 0 {
                block::first_block(bs, csum, dir, parent, dt)
            } else {
                block::empty_block(bs, csum)
            };
            if csum {
                set_dirblock_csum(&mut b, seed);
            }
            let room = block::largest_room(&b, end)?;
            let p = self.dir_phys(dir, inode, lblk)?;
            self.txn.modify(p, |img| img.copy_from_slice(&b))?;
            if let Some(idx) = self.dirs.get_mut(dir) {
                idx.set_room(lblk, room);
            }
        }
        if let Some(idx) = self.dirs.get_mut(dir) {
            idx.htree_blocks = None;
        }
        inode.flags &= !flags::INDEX;
        Ok(())
    }
}
