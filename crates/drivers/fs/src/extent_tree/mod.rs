//! Extent trees that change: lookups, inserts with leaf and index splits and depth growth,
//! range removal that frees empty nodes, and a compaction that keeps every tree in the shape
//! `e2fsck` accepts without wanting to "optimize" it.
//!
//! The tree is ext4's: the root (4 entries) lives in the inode's `i_block`, nodes below it
//! are whole blocks with a checksum tail. Every index entry's key equals the first logical
//! block of its subtree, which e2fsck checks. The tree reaches blocks through a
//! [`NodeStore`], which the file system implements over its transaction (and tests over
//! memory, with tiny nodes so that trees get deep).
//!
//! - `node`: the in-memory form of a node and its encoding;
//! - `find`: lookups;
//! - `insert`: adding an extent (merging with neighbours, splitting);
//! - `remove`: removing a logical range (trimming and splitting extents);
//! - `convert`: unwritten extents becoming written;
//! - `shape`: the e2fsck shape rules and the rebuild that restores them.

mod convert;
mod find;
mod insert;
mod node;
mod remove;
mod shape;

use std::sync::Arc;

use crate::error::{FsError, Result};
use crate::ondisk::extent::{Extent, MAX_DEPTH, MAX_INIT_LEN};
use node::{Entries, Loc, Node};

pub(crate) use find::Found;

/// The first logical block past any file (logical block numbers are 32-bit).
pub(crate) const LBLK_END: u64 = 1 << 32;

/// Longest extent of either kind.
pub(crate) fn max_len(unwritten: bool) -> u32 {
    if unwritten { u32::from(MAX_INIT_LEN) - 1 } else { u32::from(MAX_INIT_LEN) }
}

/// Where the tree's nodes live and where the blocks it frees go.
pub(crate) trait NodeStore {
    /// Bytes of a node block.
    fn node_size(&self) -> usize;
    /// The image of node block `block` (checksum verified).
    fn read_node(&mut self, block: u64) -> Result<Arc<Vec<u8>>>;
    /// Stores a node image (the store sets the checksum tail).
    fn write_node(&mut self, block: u64, image: Vec<u8>) -> Result<()>;
    /// A new block for a node.
    fn alloc_node(&mut self) -> Result<u64>;
    /// A node block is no longer used.
    fn free_node(&mut self, block: u64) -> Result<()>;
    /// Data blocks the tree no longer maps (an error if they are not the volume's).
    fn free_data(&mut self, start: u64, len: u64) -> Result<()>;
}

/// Writes an empty root into `i_block` (a new file).
pub(crate) fn init_root(root: &mut [u8; 60]) {
    root.fill(0);
    Node::empty_root().encode_into(root);
}

/// A tree, rooted in an inode's `i_block`.
pub(crate) struct Tree<'a, S: NodeStore> {
    root: &'a mut [u8; 60],
    store: &'a mut S,
    /// The tree's shape changed (a split, a node freed): check the shape rules at the end.
    reshaped: bool,
}

impl<'a, S: NodeStore> Tree<'a, S> {
    /// The tree whose root is `root`.
    pub fn new(root: &'a mut [u8; 60], store: &'a mut S) -> Tree<'a, S> {
        Tree { root, store, reshaped: false }
    }

    /// The node store (for callers that allocate data blocks alongside the tree).
    pub fn store(&mut self) -> &mut S {
        self.store
    }

    /// Entries of a node block.
    fn block_max(&self) -> u16 {
        ((self.store.node_size() - 12) / 12) as u16
    }

    fn read(&mut self, loc: Loc, expect_depth: Option<u16>) -> Result<Node> {
        let node = match loc {
            Loc::Root => Node::decode(&self.root[..])?,
            Loc::Block(b) => {
                let raw = self.store.read_node(b)?;
                Node::decode(&raw).map_err(|e| match e {
                    FsError::Corrupt(f) => FsError::Corrupt(f.at(format!("extent block {b}"))),
                    o => o,
                })?
            }
        };
        if let Some(d) = expect_depth
            && node.depth != d
        {
            return Err(FsError::corrupt(
                format!("{loc:?}"),
                "extent header",
                format!("depth {}, expected {d}", node.depth),
            ));
        }
        if node.depth > MAX_DEPTH {
            return Err(FsError::corrupt(format!("{loc:?}"), "extent header", "tree deeper than 5"));
        }
        Ok(node)
    }

    fn write(&mut self, loc: Loc, node: &Node) -> Result<()> {
        match loc {
            Loc::Root => {
                self.root.fill(0);
                node.encode_into(&mut self.root[..]);
                Ok(())
            }
            Loc::Block(b) => {
                let mut image = vec![0u8; self.store.node_size()];
                node.encode_into(&mut image);
                self.store.write_node(b, image)
            }
        }
    }

    /// Depth of the tree (0: the root holds the extents).
    pub fn depth(&mut self) -> Result<u16> {
        Ok(self.read(Loc::Root, None)?.depth)
    }

    /// Every extent, in logical order.
    #[cfg(test)]
    pub fn extents(&mut self) -> Result<Vec<Extent>> {
        let mut out = Vec::new();
        self.collect(Loc::Root, None, &mut out, &mut Vec::new())?;
        Ok(out)
    }

    /// Every extent and every node block, walking the whole tree.
    fn collect(
        &mut self,
        loc: Loc,
        depth: Option<u16>,
        extents: &mut Vec<Extent>,
        blocks: &mut Vec<u64>,
    ) -> Result<()> {
        let node = self.read(loc, depth)?;
        if let Loc::Block(b) = loc {
            blocks.push(b);
        }
        match node.entries {
            Entries::Leaf(v) => extents.extend(v),
            Entries::Index(v) => {
                for e in v {
                    self.collect(Loc::Block(e.leaf), Some(node.depth - 1), extents, blocks)?;
                }
            }
        }
        Ok(())
    }

    /// After a change: restores the shape rules if the change may have broken them.
    pub fn finish(&mut self) -> Result<()> {
        if self.reshaped {
            self.reshaped = false;
            if !self.shape_ok()? {
                self.rebuild()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
