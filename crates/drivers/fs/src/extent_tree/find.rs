//! Lookups: the extent holding a logical block (or where the hole around it ends), and the
//! last extent before a logical block.

use super::node::{Entries, Loc};
use super::{LBLK_END, NodeStore, Tree};
use crate::error::Result;
use crate::ondisk::extent::Extent;

/// What the tree has at a logical block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// The extent that maps it.
    Mapped(Extent),
    /// Nothing; the next mapped block is at `next` ([`LBLK_END`] if none).
    Hole {
        /// First mapped logical block after the hole.
        next: u64,
    },
}

/// Position of the child covering `lblk`: the last entry whose key is at or below it (the
/// first entry if all are above).
pub(super) fn child_pos(keys: impl Iterator<Item = u32>, lblk: u32) -> usize {
    keys.skip(1).take_while(|&k| k <= lblk).count()
}

impl<S: NodeStore> Tree<'_, S> {
    /// What maps logical block `lblk`.
    pub fn find(&mut self, lblk: u32) -> Result<Found> {
        let mut loc = Loc::Root;
        let mut depth = None;
        let mut bound = LBLK_END;
        loop {
            let node = self.read(loc, depth)?;
            match node.entries {
                Entries::Index(v) => {
                    let i = child_pos(v.iter().map(|e| e.block), lblk);
                    if let Some(next) = v.get(i + 1) {
                        bound = bound.min(u64::from(next.block));
                    }
                    if lblk < v[0].block {
                        return Ok(Found::Hole { next: u64::from(v[0].block) });
                    }
                    loc = Loc::Block(v[i].leaf);
                    depth = Some(node.depth - 1);
                }
                Entries::Leaf(v) => {
                    let t = u64::from(lblk);
                    for e in v {
                        if t < u64::from(e.block) {
                            return Ok(Found::Hole { next: u64::from(e.block).min(bound) });
                        }
                        if t < e.end() {
                            return Ok(Found::Mapped(e));
                        }
                    }
                    return Ok(Found::Hole { next: bound });
                }
            }
        }
    }

    /// The extent with the highest start below `end`, if any (the last extent of a file
    /// truncated to `end` blocks, or the neighbour a new block should follow).
    pub fn last_before(&mut self, end: u64) -> Result<Option<Extent>> {
        if end == 0 {
            return Ok(None);
        }
        let target = (end - 1).min(LBLK_END - 1) as u32;
        let mut loc = Loc::Root;
        let mut depth = None;
        loop {
            let node = self.read(loc, depth)?;
            match node.entries {
                Entries::Index(v) => {
                    if target < v[0].block {
                        return Ok(None);
                    }
                    let i = child_pos(v.iter().map(|e| e.block), target);
                    loc = Loc::Block(v[i].leaf);
                    depth = Some(node.depth - 1);
                }
                Entries::Leaf(v) => return Ok(v.into_iter().rev().find(|e| e.block <= target)),
            }
        }
    }
}
