//! Logical-to-physical block mapping: extent trees of any depth (checksums, magic, depth
//! and ordering checked at every node) and, for inodes without the extents flag, the
//! classic direct/indirect block map.

use super::error::{Result, VolumeError, corrupt};
use super::{BlockDevice, Volume};
use crate::ondisk::extent::{ExtentNode, MAX_DEPTH, verify_extent_block};
use crate::ondisk::inode::{Inode, flags};

/// Where a run of logical blocks starting at the one asked for lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// `len` blocks at physical `physical`; `unwritten` ones read as zeros.
    Mapped {
        /// First physical block.
        physical: u64,
        /// Blocks in the run (at least 1).
        len: u64,
        /// Allocated but unwritten (an unwritten extent).
        unwritten: bool,
    },
    /// `len` blocks with nothing allocated (up to the next mapped block).
    Hole {
        /// Blocks in the hole (at least 1).
        len: u64,
    },
}

/// Logical blocks are 32-bit: the first one past the end of any file.
const LBLK_END: u64 = 1 << 32;

impl<D: BlockDevice> Volume<D> {
    /// Maps logical block `lblk` of inode `ino`.
    pub fn map_block(&self, ino: u32, inode: &Inode, lblk: u32) -> Result<Mapping> {
        if inode.flags & flags::INLINE_DATA != 0 {
            return Err(VolumeError::NotSupported { ino, what: "inline data" });
        }
        if inode.uses_extents() {
            self.map_extent(ino, inode, lblk).map_err(|e| match e {
                VolumeError::Corrupt(f) => VolumeError::Corrupt(f.at(format!("inode {ino}"))),
                other => other,
            })
        } else {
            self.map_indirect(ino, inode, lblk)
        }
    }

    fn map_extent(&self, ino: u32, inode: &Inode, lblk: u32) -> Result<Mapping> {
        let target = u64::from(lblk);
        let mut node = ExtentNode::decode(&inode.block)?;
        let mut bound = LBLK_END; // where the subtree we are in stops covering
        let mut expect_depth: Option<u16> = None;
        let mut where_ = String::from("extent root");
        let seed = self.inode_seed(ino, inode);
        loop {
            let h = *node.header();
            if let Some(d) = expect_depth
                && h.depth != d
            {
                return Err(corrupt(&where_, "extent header", format!("depth {}, expected {d}", h.depth)));
            }
            match node {
                ExtentNode::Index(_, idx) => {
                    let mut chosen = None;
                    for (i, e) in idx.iter().enumerate() {
                        if i > 0 && e.block <= idx[i - 1].block {
                            return Err(corrupt(&where_, "extent index", format!("entry {i} out of order")));
                        }
                        if u64::from(e.block) <= target {
                            chosen = Some(i);
                        }
                    }
                    let Some(i) = chosen else {
                        let first = idx.first().map_or(bound, |e| u64::from(e.block));
                        return Ok(Mapping::Hole { len: first.min(bound).saturating_sub(target).max(1) });
                    };
                    if let Some(next) = idx.get(i + 1) {
                        bound = bound.min(u64::from(next.block));
                    }
                    let child = idx[i].leaf;
                    where_ = format!("extent block {child}");
                    let raw = self.read_block(child, "extent block")?;
                    if self.verify_csums() {
                        verify_extent_block(&raw, seed).map_err(|e| e.at(&where_))?;
                    }
                    node = ExtentNode::decode(&raw).map_err(|e| e.at(&where_))?;
                    expect_depth = Some(h.depth - 1);
                }
                ExtentNode::Leaf(_, ext) => {
                    let mut prev_end = 0u64;
                    for (i, e) in ext.iter().enumerate() {
                        if e.len == 0 || u64::from(e.block) < prev_end || e.end() > LBLK_END {
                            return Err(corrupt(
                                &where_,
                                "extent",
                                format!("entry {i} (block {}, {} long) overlaps or is empty", e.block, e.len),
                            ));
                        }
                        prev_end = e.end();
                        if target < u64::from(e.block) {
                            return Ok(Mapping::Hole { len: u64::from(e.block).min(bound) - target });
                        }
                        if target < e.end() {
                            let off = target - u64::from(e.block);
                            let physical = e.start + off;
                            let len = e.end() - target;
                            self.check_range(physical, len, "extent").map_err(|err| match err {
                                VolumeError::Corrupt(f) => VolumeError::Corrupt(f.at(&where_)),
                                o => o,
                            })?;
                            return Ok(Mapping::Mapped { physical, len, unwritten: e.unwritten });
                        }
                    }
                    return Ok(Mapping::Hole { len: bound.saturating_sub(target).max(1) });
                }
            }
            if expect_depth.is_some_and(|d| d >= MAX_DEPTH) {
                return Err(corrupt(&where_, "extent header", "tree deeper than 5"));
            }
        }
    }

    /// Direct blocks 0..12, then single, double and triple indirect blocks.
    fn map_indirect(&self, ino: u32, inode: &Inode, lblk: u32) -> Result<Mapping> {
        let per = u64::from(self.block_size() / 4);
        let word = |i: usize| u64::from(crate::ondisk::inode::i_block_word(&inode.block, i));
        let mut l = u64::from(lblk);
        if l < 12 {
            return self.finish_indirect(word(l as usize), 1);
        }
        l -= 12;
        let mut span = 1u64;
        for (level, slot) in [(1u32, 12usize), (2, 13), (3, 14)] {
            span *= per;
            if l < span {
                let mut blk = word(slot);
                let mut sub = span;
                for _ in 0..level {
                    if blk == 0 {
                        return Ok(Mapping::Hole { len: sub - l % sub });
                    }
                    sub /= per;
                    let raw = self.read_block(blk, "indirect block").map_err(|e| match e {
                        VolumeError::Corrupt(f) => VolumeError::Corrupt(f.at(format!("inode {ino}"))),
                        o => o,
                    })?;
                    let i = (l / sub % per) as usize;
                    blk = u64::from(crate::ondisk::inode::i_block_word(&raw, i));
                }
                return self.finish_indirect(blk, 1);
            }
            l -= span;
        }
        Ok(Mapping::Hole { len: 1 })
    }

    fn finish_indirect(&self, blk: u64, len: u64) -> Result<Mapping> {
        if blk == 0 {
            return Ok(Mapping::Hole { len });
        }
        self.check_range(blk, len, "mapped block")?;
        Ok(Mapping::Mapped { physical: blk, len, unwritten: false })
    }
}
