//! Removing a logical range: extents inside it go, extents across its edges are trimmed
//! (one that spans it is cut in two), nodes left empty are freed and their index entries
//! removed, and index keys follow their subtree's new first block.

use super::node::{Entries, Loc, Node};
use super::{LBLK_END, NodeStore, Tree};
use crate::error::Result;
use crate::ondisk::extent::Extent;

/// What became of a node after a removal.
enum After {
    /// Unchanged.
    Same,
    /// Changed; its first key is now this.
    Changed(u32),
    /// No entries left (and, for a block, freed).
    Empty,
}

impl<S: NodeStore> Tree<'_, S> {
    /// Unmaps logical blocks `from..to` (`to` up to [`LBLK_END`]). With `free_data` the
    /// data blocks go back to the store; without, they stay allocated (the caller maps them
    /// again, as when unwritten extents become written).
    pub fn remove(&mut self, from: u64, to: u64, free_data: bool) -> Result<()> {
        let to = to.min(LBLK_END);
        if from >= to {
            return Ok(());
        }
        let mut pending = Vec::new();
        let root = self.read(Loc::Root, None)?;
        let after = self.remove_at(Loc::Root, root, from, to, LBLK_END, free_data, &mut pending)?;
        if matches!(after, After::Empty) {
            self.write(Loc::Root, &Node::empty_root())?;
        }
        for ext in pending {
            self.insert(ext)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn remove_at(
        &mut self,
        loc: Loc,
        mut node: Node,
        from: u64,
        to: u64,
        bound: u64,
        free_data: bool,
        pending: &mut Vec<Extent>,
    ) -> Result<After> {
        let depth = node.depth;
        let changed = match &mut node.entries {
            Entries::Leaf(v) => {
                let mut changed = false;
                let mut kept = Vec::with_capacity(v.len());
                for e in v.drain(..) {
                    let (eb, ee) = (u64::from(e.block), e.end());
                    if ee <= from || eb >= to {
                        kept.push(e);
                        continue;
                    }
                    changed = true;
                    let (a, b) = (eb.max(from), ee.min(to));
                    if free_data {
                        self.store.free_data(e.start + (a - eb), b - a)?;
                    }
                    let left = (eb < a).then(|| Extent { len: (a - eb) as u16, ..e });
                    let right = (b < ee).then(|| Extent {
                        block: b as u32,
                        len: (ee - b) as u16,
                        start: e.start + (b - eb),
                        unwritten: e.unwritten,
                    });
                    match (left, right) {
                        (Some(l), Some(r)) => {
                            kept.push(l);
                            pending.push(r);
                        }
                        (Some(x), None) | (None, Some(x)) => kept.push(x),
                        (None, None) => {}
                    }
                }
                *v = kept;
                changed
            }
            Entries::Index(v) => {
                let mut changed = false;
                let mut i = 0;
                while i < v.len() {
                    let start = u64::from(v[i].block);
                    let end = v.get(i + 1).map_or(bound, |n| u64::from(n.block));
                    if end <= from || start >= to {
                        i += 1;
                        continue;
                    }
                    let child_loc = Loc::Block(v[i].leaf);
                    let child = self.read(child_loc, Some(depth - 1))?;
                    match self.remove_at(child_loc, child, from, to, end, free_data, pending)? {
                        After::Same => i += 1,
                        After::Changed(k) => {
                            if v[i].block != k {
                                v[i].block = k;
                                changed = true;
                            }
                            i += 1;
                        }
                        After::Empty => {
                            v.remove(i);
                            changed = true;
                        }
                    }
                }
                changed
            }
        };
        if !changed {
            return Ok(After::Same);
        }
        if node.len() == 0 {
            if let Loc::Block(b) = loc {
                self.store.free_node(b)?;
                self.reshaped = true;
            }
            return Ok(After::Empty);
        }
        self.reshaped = true;
        self.write(loc, &node)?;
        Ok(After::Changed(node.first_key().unwrap_or(0)))
    }
}
