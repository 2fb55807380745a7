//! A transaction being built: full images of metadata blocks keyed by fs block number,
//! and revokes. Nothing reaches the device until [`Journal::commit`](super::Journal::commit).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::error::Jbd2Error;

/// The blocks and revokes of one transaction.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    block_size: usize,
    pub(crate) blocks: BTreeMap<u64, Arc<[u8]>>,
    pub(crate) revokes: BTreeSet<u64>,
}

impl Transaction {
    /// An empty transaction for a journal of `block_size`-byte blocks (normally made by
    /// [`Journal::begin`](super::Journal::begin)).
    pub fn new(block_size: usize) -> Transaction {
        Transaction { block_size, blocks: BTreeMap::new(), revokes: BTreeSet::new() }
    }

    /// Logs the full new image of fs block `home`. A later call for the same block replaces
    /// the image; a revoke of `home` in this transaction is cancelled.
    pub fn add_block(&mut self, home: u64, image: impl Into<Arc<[u8]>>) -> Result<(), Jbd2Error> {
        let image = image.into();
        if image.len() != self.block_size {
            return Err(Jbd2Error::BadImage { home, len: image.len(), block_size: self.block_size });
        }
        self.revokes.remove(&home);
        self.blocks.insert(home, image);
        Ok(())
    }

    /// Revokes fs block `home`: copies of it logged by this or earlier transactions will not
    /// be replayed (use when a metadata block is freed, e.g. to be reused for file data).
    /// An image of `home` added to this transaction is dropped.
    pub fn revoke(&mut self, home: u64) {
        self.blocks.remove(&home);
        self.revokes.insert(home);
    }

    /// Number of logged blocks.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Number of revoked blocks.
    pub fn revoke_count(&self) -> usize {
        self.revokes.len()
    }

    /// No blocks and no revokes.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty() && self.revokes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_revoke_cancel_each_other() {
        let mut t = Transaction::new(1024);
        t.add_block(5, vec![1u8; 1024]).unwrap();
        t.revoke(5);
        assert_eq!((t.block_count(), t.revoke_count()), (0, 1));
        t.add_block(5, vec![2u8; 1024]).unwrap();
        assert_eq!((t.block_count(), t.revoke_count()), (1, 0));
        assert!(matches!(t.add_block(6, vec![0u8; 10]), Err(Jbd2Error::BadImage { home: 6, .. })));
    }
}
