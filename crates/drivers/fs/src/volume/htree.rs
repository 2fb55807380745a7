//! Indexed (htree) directories on the read path: the dx_root and dx_node blocks are
//! verified and walked, to skip them when listing and to find a name's leaf by its hash.

use std::collections::BTreeSet;

use super::error::{Result, VolumeError, corrupt};
use super::{BlockDevice, Volume};
use crate::ondisk::dirhash::{DirHash, dir_hash};
use crate::ondisk::htree::{DxEntry, DxNode, DxRoot, NODE_ENTRIES_OFF, ROOT_ENTRIES_OFF, verify_dx_csum};
use crate::ondisk::inode::Inode;

/// Deepest `indirect_levels` without large_dir (root → node → leaf).
const MAX_INDIRECT_LEVELS: u8 = 1;

impl<D: BlockDevice> Volume<D> {
    fn dx_err(ino: u32, lblk: u32) -> impl Fn(crate::ondisk::FormatError) -> VolumeError {
        move |e| VolumeError::Corrupt(e.at(format!("directory block {lblk}")).at(format!("inode {ino}")))
    }

    /// Decodes (and with metadata_csum verifies) the dx_root of an indexed directory.
    pub(crate) fn dx_root(&self, ino: u32, inode: &Inode) -> Result<DxRoot> {
        let block = self.read_dir_block(ino, inode, 0)?;
        let at = Self::dx_err(ino, 0);
        let root = DxRoot::decode(&block).map_err(&at)?;
        if self.verify_csums() {
            verify_dx_csum(&block, ROOT_ENTRIES_OFF, self.inode_seed(ino, inode)).map_err(&at)?;
        }
        if root.info.indirect_levels > MAX_INDIRECT_LEVELS {
            return Err(corrupt(
                format!("inode {ino}"),
                "dx_root",
                format!("indirect_levels {}, at most {MAX_INDIRECT_LEVELS}", root.info.indirect_levels),
            ));
        }
        Ok(root)
    }

    /// Decodes (and verifies) the dx_node at logical block `lblk`.
    fn dx_node(&self, ino: u32, inode: &Inode, lblk: u32) -> Result<DxNode> {
        if u64::from(lblk) >= u64::from(self.dir_blocks(ino, inode)?) || lblk == 0 {
            return Err(corrupt(format!("inode {ino}"), "dx entry", format!("points at block {lblk}")));
        }
        let block = self.read_dir_block(ino, inode, lblk)?;
        let at = Self::dx_err(ino, lblk);
        let node = DxNode::decode(&block).map_err(&at)?;
        if self.verify_csums() {
            verify_dx_csum(&block, NODE_ENTRIES_OFF, self.inode_seed(ino, inode)).map_err(&at)?;
        }
        Ok(node)
    }

    /// The root and the logical blocks that hold index (not leaf) data: block 0 and every
    /// dx_node.
    pub(crate) fn dx_index_blocks(&self, ino: u32, inode: &Inode) -> Result<(DxRoot, BTreeSet<u32>)> {
        let root = self.dx_root(ino, inode)?;
        let mut index = BTreeSet::from([0u32]);
        let mut level: Vec<u32> = root.entries.iter().map(|e| e.block).collect();
        for _ in 0..root.info.indirect_levels {
            let mut next = Vec::new();
            for lblk in level {
                if !index.insert(lblk) {
                    return Err(corrupt(
                        format!("inode {ino}"),
                        "dx_node",
                        format!("block {lblk} indexed twice"),
                    ));
                }
                next.extend(self.dx_node(ino, inode, lblk)?.entries.iter().map(|e| e.block));
            }
            level = next;
        }
        Ok((root, index))
    }

    /// Looks `name` up through the hash index: find the leaf whose hash range holds the
    /// name's hash, scan it, and go on to the next leaves while their hash continues ours
    /// (collisions spill over).
    pub(crate) fn dx_lookup(&self, ino: u32, inode: &Inode, name: &[u8]) -> Result<Option<u32>> {
        let root = self.dx_root(ino, inode)?;
        let Some(hash) = DirHash::from_raw(root.info.hash_version, self.sb.unsigned_dir_hash()) else {
            return Err(VolumeError::NotSupported { ino, what: "this directory hash version" });
        };
        let (target, _) = dir_hash(name, hash, &self.sb.hash_seed);
        let levels = usize::from(root.info.indirect_levels);
        // Path from the root: each level's entries and the position taken in it.
        let mut path: Vec<(Vec<DxEntry>, usize)> = Vec::with_capacity(levels + 1);
        let pos = find(&root.entries, target);
        path.push((root.entries, pos));
        while path.len() <= levels {
            let (entries, pos) = &path[path.len() - 1];
            let child = self.dx_node(ino, inode, entries[*pos].block)?;
            let p = find(&child.entries, target);
            path.push((child.entries, p));
        }
        loop {
            let (entries, pos) = &path[levels];
            let lblk = entries[*pos].block;
            let block = self.read_dir_block(ino, inode, lblk)?;
            if let Some(e) = self.parse_leaf(ino, inode, lblk, &block)?.into_iter().find(|e| e.name == name) {
                return Ok(Some(e.inode));
            }
            // Next leaf: advance at the deepest level that has a next entry, then take the
            // first entry of each level below.
            let Some(up) = (0..=levels).rev().find(|&l| path[l].1 + 1 < path[l].0.len()) else {
                return Ok(None);
            };
            path[up].1 += 1;
            let next_hash = path[up].0[path[up].1].hash;
            if next_hash & !1 != target {
                return Ok(None);
            }
            for l in up + 1..=levels {
                let (entries, pos) = &path[l - 1];
                let child = self.dx_node(ino, inode, entries[*pos].block)?;
                path[l] = (child.entries, 0);
            }
        }
    }
}

/// Position of the last entry whose hash is at or below `hash` (entry 0 covers all below).
fn find(entries: &[DxEntry], hash: u32) -> usize {
    entries.iter().skip(1).take_while(|e| e.hash <= hash).count()
}
