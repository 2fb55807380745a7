//! The extent tree's node store for an inode: nodes are metadata blocks in the transaction
//! (checksummed with the inode's seed), new ones come from the allocator near the file, and
//! the blocks the tree lets go of are freed at commit. It counts what it allocates and
//! frees so the caller can keep `i_blocks` exact.

use std::sync::Arc;

use crate::error::{FsError, Result};
use crate::extent_tree::NodeStore;
use crate::filesystem::inner::Inner;
use crate::ondisk::extent::{set_extent_block_csum, verify_extent_block};

/// Nodes of one inode's tree.
pub(crate) struct InodeStore<'a> {
    pub fs: &'a mut Inner,
    seed: u32,
    /// Where new node blocks should go.
    pub goal: u64,
    /// The mapped blocks are metadata (a directory's): freeing them revokes them too.
    metadata: bool,
    /// Blocks allocated minus blocks freed, nodes and data alike.
    pub delta: i64,
}

impl<'a> InodeStore<'a> {
    /// The store for inode `ino` with checksum seed `seed`.
    pub fn new(fs: &'a mut Inner, seed: u32, goal: u64, metadata: bool) -> InodeStore<'a> {
        InodeStore { fs, seed, goal, metadata, delta: 0 }
    }

    fn check(&self, block: u64) -> Result<()> {
        if block <= self.fs.geo.first_data_block || block >= self.fs.geo.blocks_count {
            return Err(FsError::corrupt(
                format!("block {block}"),
                "extent tree",
                "points outside the volume",
            ));
        }
        Ok(())
    }
}

impl NodeStore for InodeStore<'_> {
    fn node_size(&self) -> usize {
        self.fs.geo.bsz()
    }

    fn read_node(&mut self, block: u64) -> Result<Arc<Vec<u8>>> {
        self.check(block)?;
        let b = self.fs.txn.read(block)?;
        if self.fs.geo.metadata_csum && self.fs.opts.verify_checksums {
            verify_extent_block(&b, self.seed).map_err(|e| e.at(format!("extent block {block}")))?;
        }
        Ok(b)
    }

    fn write_node(&mut self, block: u64, mut image: Vec<u8>) -> Result<()> {
        self.check(block)?;
        if self.fs.geo.metadata_csum {
            set_extent_block_csum(&mut image, self.seed)?;
        }
        self.fs.txn.write_new(block, image)
    }

    fn alloc_node(&mut self) -> Result<u64> {
        let (b, _) = self.fs.alloc.alloc_blocks(&mut self.fs.txn, self.goal, 1)?;
        self.delta += 1;
        Ok(b)
    }

    fn free_node(&mut self, block: u64) -> Result<()> {
        self.check(block)?;
        self.fs.txn.forget(block);
        self.fs.alloc.release_blocks(block, 1);
        self.delta -= 1;
        Ok(())
    }

    fn free_data(&mut self, start: u64, len: u64) -> Result<()> {
        self.check(start)?;
        if start.saturating_add(len) > self.fs.geo.blocks_count {
            return Err(FsError::corrupt(
                format!("block {start}"),
                "extent",
                format!("{len} blocks run past the volume"),
            ));
        }
        if self.metadata {
            for b in start..start + len {
                self.fs.txn.forget(b);
            }
        }
        self.fs.alloc.release_blocks(start, len);
        self.delta -= len as i64;
        Ok(())
    }
}
