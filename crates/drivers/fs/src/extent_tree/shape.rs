//! The shape e2fsck expects. After scanning a tree, e2fsck offers to rebuild it when a
//! level could be narrower (its nodes have more than a block's worth of free slots between
//! them) or the tree could be shorter (a level's entries would fit in the slots of a level
//! above). It counts a non-root node that is not full as one slot smaller. A tree that
//! breaks either rule is rebuilt here with every node full but the last of each level,
//! which keeps both, reusing the tree's own blocks (a packed tree never needs more).

use super::node::{Entries, Loc, Node, ROOT_MAX};
use super::{NodeStore, Tree};
use crate::error::Result;
use crate::ondisk::extent::ExtentIndex;

impl<S: NodeStore> Tree<'_, S> {
    /// Per level from the root: (entries, slots as e2fsck counts them).
    fn level_stats(&mut self) -> Result<Vec<(u64, u64)>> {
        let mut levels: Vec<(u64, u64)> = Vec::new();
        let mut current = vec![Loc::Root];
        let mut depth = None;
        while !current.is_empty() {
            let mut next = Vec::new();
            let (mut num, mut max) = (0u64, 0u64);
            let mut child_depth = None;
            for loc in current {
                let node = self.read(loc, depth)?;
                let n = node.len() as u64;
                num += n;
                max += u64::from(node.max);
                if loc != Loc::Root && n < u64::from(node.max) {
                    max -= 1;
                }
                if let Entries::Index(v) = &node.entries {
                    next.extend(v.iter().map(|e| Loc::Block(e.leaf)));
                    child_depth = Some(node.depth - 1);
                }
            }
            levels.push((num, max));
            current = next;
            depth = child_depth;
        }
        Ok(levels)
    }

    /// Whether the tree keeps e2fsck's rules (see the module documentation).
    pub(super) fn shape_ok(&mut self) -> Result<bool> {
        if self.depth()? == 0 {
            return Ok(true);
        }
        let per_block = u64::from(self.block_max());
        let levels = self.level_stats()?;
        for (i, &(num, max)) in levels.iter().enumerate() {
            if max.saturating_sub(num) > per_block {
                return Ok(false);
            }
            if levels[..i].iter().any(|&(_, upper_max)| num < upper_max) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Rewrites the tree packed: the same extents, nodes filled left to right.
    pub(super) fn rebuild(&mut self) -> Result<()> {
        let mut extents = Vec::new();
        let mut blocks = Vec::new();
        self.collect(Loc::Root, None, &mut extents, &mut blocks)?;
        let cap = usize::from(self.block_max());
        blocks.reverse(); // popped in walk order
        let mut take = |store: &mut S| -> Result<u64> {
            match blocks.pop() {
                Some(b) => Ok(b),
                None => store.alloc_node(),
            }
        };
        if extents.len() <= usize::from(ROOT_MAX) {
            let root = Node { depth: 0, max: ROOT_MAX, entries: Entries::Leaf(extents) };
            self.write(Loc::Root, &root)?;
        } else {
            // Leaves, then index levels until the root can hold the top one.
            let mut level: Vec<(u32, u64)> = Vec::new();
            for chunk in extents.chunks(cap) {
                let b = take(&mut *self.store)?;
                let node = Node { depth: 0, max: cap as u16, entries: Entries::Leaf(chunk.to_vec()) };
                self.write(Loc::Block(b), &node)?;
                level.push((chunk[0].block, b));
            }
            let mut depth = 1u16;
            while level.len() > usize::from(ROOT_MAX) {
                let mut up = Vec::new();
                for chunk in level.chunks(cap) {
                    let b = take(&mut *self.store)?;
                    let node = Node { depth, max: cap as u16, entries: Entries::Index(index(chunk)) };
                    self.write(Loc::Block(b), &node)?;
                    up.push((chunk[0].0, b));
                }
                level = up;
                depth += 1;
            }
            let root = Node { depth, max: ROOT_MAX, entries: Entries::Index(index(&level)) };
            self.write(Loc::Root, &root)?;
        }
        for b in blocks {
            self.store.free_node(b)?;
        }
        Ok(())
    }
}

fn index(children: &[(u32, u64)]) -> Vec<ExtentIndex> {
    children.iter().map(|&(block, leaf)| ExtentIndex { block, leaf, unused: 0 }).collect()
}
