//! A node in memory: depth, capacity and entries, decoded from and encoded to the on-disk
//! header and entry arrays.

use crate::error::{FsError, Result};
use crate::ondisk::extent::{Extent, ExtentHeader, ExtentIndex, ExtentNode};

/// Where a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Loc {
    /// In the inode.
    Root,
    /// In a block.
    Block(u64),
}

/// A node's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entries {
    /// Extents (depth 0).
    Leaf(Vec<Extent>),
    /// Index entries.
    Index(Vec<ExtentIndex>),
}

/// A decoded node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    pub depth: u16,
    pub max: u16,
    pub entries: Entries,
}

/// Entries of the root in `i_block`.
pub(super) const ROOT_MAX: u16 = 4;

impl Node {
    /// An empty root leaf.
    pub fn empty_root() -> Node {
        Node { depth: 0, max: ROOT_MAX, entries: Entries::Leaf(Vec::new()) }
    }

    /// Decodes a node and checks its entries are in order (extents non-empty and not
    /// overlapping, index keys increasing), so the tree code can rely on it.
    pub fn decode(b: &[u8]) -> Result<Node> {
        let bad = |why: String| Err(FsError::corrupt("extent tree", "extent node", why));
        match ExtentNode::decode(b)? {
            ExtentNode::Leaf(h, v) => {
                let mut prev_end = 0u64;
                for (i, e) in v.iter().enumerate() {
                    if e.len == 0 || u64::from(e.block) < prev_end || e.end() > super::LBLK_END {
                        return bad(format!(
                            "extent {i} (block {}, {} long) overlaps or is empty",
                            e.block, e.len
                        ));
                    }
                    prev_end = e.end();
                }
                Ok(Node { depth: h.depth, max: h.max, entries: Entries::Leaf(v) })
            }
            ExtentNode::Index(h, v) => {
                if v.is_empty() {
                    return bad("index node without entries".into());
                }
                if v.windows(2).any(|w| w[1].block <= w[0].block) {
                    return bad("index entries out of order".into());
                }
                Ok(Node { depth: h.depth, max: h.max, entries: Entries::Index(v) })
            }
        }
    }

    pub fn encode_into(&self, b: &mut [u8]) {
        let header =
            |n: usize| ExtentHeader { entries: n as u16, max: self.max, depth: self.depth, generation: 0 };
        match &self.entries {
            Entries::Leaf(v) => ExtentNode::Leaf(header(v.len()), v.clone()).encode_into(b),
            Entries::Index(v) => ExtentNode::Index(header(v.len()), v.clone()).encode_into(b),
        }
    }

    pub fn len(&self) -> usize {
        match &self.entries {
            Entries::Leaf(v) => v.len(),
            Entries::Index(v) => v.len(),
        }
    }

    /// The first logical block the node covers (its first entry's key).
    pub fn first_key(&self) -> Option<u32> {
        match &self.entries {
            Entries::Leaf(v) => v.first().map(|e| e.block),
            Entries::Index(v) => v.first().map(|e| e.block),
        }
    }

    /// Moves the entries from `at` on into a new node of capacity `max` at the same depth.
    pub fn split_off(&mut self, at: usize, max: u16) -> Node {
        let entries = match &mut self.entries {
            Entries::Leaf(v) => Entries::Leaf(v.split_off(at)),
            Entries::Index(v) => Entries::Index(v.split_off(at)),
        };
        Node { depth: self.depth, max, entries }
    }
}
