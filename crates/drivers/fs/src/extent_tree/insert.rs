//! Inserting an extent into a range the tree does not map: merged into a neighbour when it
//! continues it on disk, else added; a full node splits (at the end when the new entry is
//! last, so appends leave full nodes behind, else in the middle), and a full root moves its
//! entries into a new block one level down.

use super::find::child_pos;
use super::node::{Entries, Loc, Node, ROOT_MAX};
use super::{NodeStore, Tree, max_len};
use crate::error::{FsError, Result};
use crate::ondisk::extent::{Extent, ExtentIndex, MAX_DEPTH};

/// `b` continues `a` logically and physically, with the same kind, and the sum fits.
fn mergeable(a: &Extent, b: &Extent) -> bool {
    a.end() == u64::from(b.block)
        && a.start + u64::from(a.len) == b.start
        && a.unwritten == b.unwritten
        && u32::from(a.len) + u32::from(b.len) <= max_len(a.unwritten)
}

/// A node that overflowed and split: the new right sibling's first key and block.
type Split = Option<(u32, u64)>;

impl<S: NodeStore> Tree<'_, S> {
    /// Maps `ext` (its range must be unmapped; at most [`max_len`] long).
    pub fn insert(&mut self, ext: Extent) -> Result<()> {
        if ext.len == 0 || u32::from(ext.len) > max_len(ext.unwritten) || ext.end() > super::LBLK_END {
            return Err(FsError::Invalid(format!("extent {ext:?}")));
        }
        let root = self.read(Loc::Root, None)?;
        self.insert_at(Loc::Root, root, ext)?;
        Ok(())
    }

    fn insert_at(&mut self, loc: Loc, mut node: Node, ext: Extent) -> Result<Split> {
        let depth = node.depth;
        let at_end = match &mut node.entries {
            Entries::Leaf(v) => {
                let pos = v.partition_point(|e| e.block < ext.block);
                let overlaps_left = pos > 0 && v[pos - 1].end() > u64::from(ext.block);
                let overlaps_right = v.get(pos).is_some_and(|r| u64::from(r.block) < ext.end());
                if overlaps_left || overlaps_right {
                    return Err(FsError::corrupt(
                        format!("{loc:?}"),
                        "extent tree",
                        format!("insert of blocks {}..{} over mapped ones", ext.block, ext.end()),
                    ));
                }
                if pos > 0 && mergeable(&v[pos - 1], &ext) {
                    v[pos - 1].len += ext.len;
                    if pos < v.len() && mergeable(&v[pos - 1], &v[pos]) {
                        let r = v.remove(pos);
                        v[pos - 1].len += r.len;
                    }
                    false
                } else if pos < v.len() && mergeable(&ext, &v[pos]) {
                    let r = &mut v[pos];
                    r.block = ext.block;
                    r.start = ext.start;
                    r.len += ext.len;
                    false
                } else {
                    v.insert(pos, ext);
                    pos + 1 == v.len()
                }
            }
            Entries::Index(v) => {
                let i = child_pos(v.iter().map(|e| e.block), ext.block);
                let child_loc = Loc::Block(v[i].leaf);
                let child = self.read(child_loc, Some(depth - 1))?;
                let split = self.insert_at(child_loc, child, ext)?;
                let mut changed = false;
                if ext.block < v[i].block {
                    v[i].block = ext.block;
                    changed = true;
                }
                let mut at_end = false;
                if let Some((key, block)) = split {
                    v.insert(i + 1, ExtentIndex { block: key, leaf: block, unused: 0 });
                    at_end = i + 2 == v.len();
                    changed = true;
                }
                if !changed {
                    return Ok(None);
                }
                at_end
            }
        };
        self.place(loc, node, at_end)
    }

    /// Writes a changed node, splitting it (or growing the tree at the root) if it holds
    /// more than it can.
    fn place(&mut self, loc: Loc, mut node: Node, at_end: bool) -> Result<Split> {
        if node.len() <= usize::from(node.max) {
            self.write(loc, &node)?;
            return Ok(None);
        }
        self.reshaped = true;
        let bmax = self.block_max();
        match loc {
            Loc::Root => {
                if node.depth >= MAX_DEPTH {
                    return Err(FsError::NoSpace { what: "extent tree depth" });
                }
                // Everything moves one level down into a new block; the root indexes it.
                // (With nodes as small as the root, that block splits in turn.)
                let block = self.store.alloc_node()?;
                let mut child = node;
                child.max = bmax;
                let key = child.first_key().unwrap_or(0);
                let depth = child.depth + 1;
                let mut index = vec![ExtentIndex { block: key, leaf: block, unused: 0 }];
                if let Some((k, b)) = self.place(Loc::Block(block), child, at_end)? {
                    index.push(ExtentIndex { block: k, leaf: b, unused: 0 });
                }
                let root = Node { depth, max: ROOT_MAX, entries: Entries::Index(index) };
                self.write(Loc::Root, &root)?;
                Ok(None)
            }
            Loc::Block(_) => {
                let n = node.len();
                let at = if at_end { n - 1 } else { n / 2 };
                let right = node.split_off(at, bmax);
                let block = self.store.alloc_node()?;
                self.write(Loc::Block(block), &right)?;
                self.write(loc, &node)?;
                Ok(Some((right.first_key().unwrap_or(0), block)))
            }
        }
    }
}
