//! Transactions: every metadata change goes through here.
//!
//! [`Txn`] owns the journal and the metadata buffer cache ([`cache`]). A change reads the
//! block through the cache and replaces its image; the image stays in memory (dirty) until
//! the running transaction commits through [`Journal::commit_ordered`], then (logged) until
//! a checkpoint writes it home. Nothing but a checkpoint writes a metadata block home.
//!
//! Operations are atomic in memory too: [`Txn::begin_op`] opens an undo record of every block
//! the operation touches, and [`Txn::rollback_op`] puts them back when the operation fails
//! half-way (out of space, say), so a failed operation changes nothing. Commits happen only
//! between operations, so a transaction always holds whole operations.

mod cache;
mod held;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use crate::breakage::{Breakage, Broken};
use crate::device::BlockDevice;
use crate::error::{FsError, Result};
use crate::jbd2::{CommitInfo, Journal};
use cache::{Cache, Entry, State};

/// The undo record of the operation in progress.
#[derive(Debug, Default)]
struct Undo {
    /// Each touched block's entry before its first change (None: it was not cached).
    blocks: HashMap<u64, Option<Entry>>,
    /// Revokes this operation added.
    revokes: Vec<u64>,
}

/// Sizes that bound the cache and the transactions.
#[derive(Debug, Clone, Copy)]
pub struct TxnLimits {
    /// Blocks kept in the cache (clean ones are dropped past it).
    pub cache_blocks: usize,
    /// Dirty plus committed-not-checkpointed blocks allowed before a checkpoint is forced.
    pub pinned_blocks: usize,
    /// A running transaction with more dirty blocks than this is committed before the next
    /// operation (jbd2 uses a quarter of the journal).
    pub max_transaction_blocks: usize,
}

/// The running transaction, the journal and the metadata cache.
pub struct Txn {
    dev: Arc<dyn BlockDevice>,
    /// Where file data goes: `dev`, or (a broken variant) a [`held::HeldData`] over it.
    data: Arc<dyn BlockDevice>,
    held: Option<Arc<held::HeldData>>,
    journal: Option<Journal>,
    bs: usize,
    cache: Cache,
    revokes: BTreeSet<u64>,
    undo: Option<Undo>,
    /// Our id of the running transaction (counts commits since mount).
    tid: u64,
    /// When the running transaction got its first change.
    started: Option<Instant>,
    limits: TxnLimits,
}

impl std::fmt::Debug for Txn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn")
            .field("journal", &self.journal)
            .field("cached", &self.cache.len())
            .field("dirty", &self.cache.dirty_len())
            .field("revokes", &self.revokes.len())
            .field("tid", &self.tid)
            .finish_non_exhaustive()
    }
}

impl Txn {
    /// A transaction manager over `dev` with `journal` (None: read-only, nothing can change).
    pub fn new(
        dev: Arc<dyn BlockDevice>,
        journal: Option<Journal>,
        block_size: usize,
        limits: TxnLimits,
    ) -> Txn {
        let max_tx = match &journal {
            Some(j) => limits.max_transaction_blocks.min(j.capacity() as usize / 4).max(8),
            None => limits.max_transaction_blocks,
        };
        Txn {
            data: Arc::clone(&dev),
            held: None,
            dev,
            journal,
            bs: block_size,
            cache: Cache::new(limits.cache_blocks),
            revokes: BTreeSet::new(),
            undo: None,
            tid: 1,
            started: None,
            limits: TxnLimits { max_transaction_blocks: max_tx, ..limits },
        }
    }

    /// The device file data is read from and written to (and flushed through).
    pub fn device(&self) -> &Arc<dyn BlockDevice> {
        &self.data
    }

    /// Runs a deliberately broken variant (the crash checker's tests): the journal's, or
    /// for [`Broken::DataAfterCommit`], file data held back until after each commit.
    pub fn set_breakage(&mut self, breakage: Breakage) {
        if let Some(j) = self.journal.as_mut() {
            j.set_breakage(breakage);
        }
        if breakage.is(Broken::DataAfterCommit) {
            let held = Arc::new(held::HeldData::new(Arc::clone(&self.dev)));
            self.data = Arc::clone(&held) as Arc<dyn BlockDevice>;
            self.held = Some(held);
        }
    }

    /// The running transaction has changes to commit.
    pub fn has_changes(&self) -> bool {
        self.cache.dirty_len() > 0 || !self.revokes.is_empty()
    }

    /// How long ago the running transaction got its first change.
    pub fn age(&self) -> Option<std::time::Duration> {
        self.started.map(|s| s.elapsed())
    }

    /// The running transaction is over its size limit (commit before the next operation).
    pub fn is_full(&self) -> bool {
        self.cache.dirty_len() + self.revokes.len() / 64 >= self.limits.max_transaction_blocks
    }

    /// Whether the running transaction fits the journal at all.
    pub fn fits_journal(&self) -> bool {
        match &self.journal {
            Some(j) => {
                j.log_blocks_for(self.cache.dirty_len(), self.revokes.len()) <= u64::from(j.capacity())
            }
            None => true,
        }
    }

    /// The current image of metadata block `block`.
    pub fn read(&mut self, block: u64) -> Result<Arc<Vec<u8>>> {
        if let Some(e) = self.cache.get(block) {
            return Ok(Arc::clone(&e.data));
        }
        let mut buf = vec![0u8; self.bs];
        self.dev.read_at(block * self.bs as u64, &mut buf)?;
        let data = Arc::new(buf);
        if self.undo.is_none() {
            self.cache.trim(); // before the insert, so the block just read stays
        }
        self.cache.set(block, Some(Entry { data: Arc::clone(&data), state: State::Clean }));
        Ok(data)
    }

    fn touch(&mut self, block: u64) {
        if let Some(u) = &mut self.undo {
            u.blocks.entry(block).or_insert_with(|| self.cache.get(block).cloned());
        }
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
    }

    /// Changes metadata block `block` in the running transaction.
    pub fn modify<R>(&mut self, block: u64, f: impl FnOnce(&mut [u8]) -> R) -> Result<R> {
        self.read(block)?;
        self.touch(block);
        let Some(e) = self.cache.get_mut(block) else {
            return Err(FsError::corrupt(format!("block {block}"), "buffer cache", "block vanished"));
        };
        let r = f(Arc::make_mut(&mut e.data).as_mut_slice());
        let data = Arc::clone(&e.data);
        self.cache.set(block, Some(Entry { data, state: State::Dirty }));
        Ok(r)
    }

    /// Sets the whole image of a block (a newly allocated one: its old contents do not matter).
    pub fn write_new(&mut self, block: u64, data: Vec<u8>) -> Result<()> {
        if data.len() != self.bs {
            return Err(FsError::corrupt(
                format!("block {block}"),
                "buffer cache",
                "image of the wrong size",
            ));
        }
        self.touch(block);
        self.revokes.remove(&block);
        self.cache.set(block, Some(Entry { data: Arc::new(data), state: State::Dirty }));
        Ok(())
    }

    /// A metadata block was freed: drop its image and revoke it, so no journaled copy of it
    /// is replayed over whatever the block holds next.
    pub fn forget(&mut self, block: u64) {
        self.touch(block);
        self.cache.set(block, None);
        if self.revokes.insert(block)
            && let Some(u) = &mut self.undo
        {
            u.revokes.push(block);
        }
    }

    /// Starts recording an operation's changes.
    pub fn begin_op(&mut self) {
        self.undo = Some(Undo::default());
    }

    /// The operation succeeded: keep its changes.
    pub fn end_op(&mut self) {
        self.undo = None;
        self.cache.trim();
    }

    /// The operation failed: put back every block it touched and drop its revokes.
    pub fn rollback_op(&mut self) {
        let Some(u) = self.undo.take() else { return };
        for (block, entry) in u.blocks {
            self.cache.set(block, entry);
        }
        for r in u.revokes {
            self.revokes.remove(&r);
        }
        if !self.has_changes() {
            self.started = None;
        }
    }

    /// Commits the running transaction (nothing if it is empty). `ordered_data` writes the
    /// file data its metadata points at; it runs before the commit block is written.
    pub fn commit<F, E>(&mut self, ordered_data: F) -> Result<Option<CommitInfo>>
    where
        F: FnOnce() -> std::result::Result<(), E>,
        E: std::fmt::Display,
    {
        if !self.has_changes() {
            return Ok(None);
        }
        let Some(journal) = self.journal.as_mut() else {
            return Err(FsError::ReadOnly { reason: "no journal open".into() });
        };
        let mut tx = journal.begin();
        for b in self.cache.dirty_blocks() {
            if let Some(e) = self.cache.get(b) {
                tx.add_block(b, &e.data[..])?;
            }
        }
        for &r in &self.revokes {
            tx.revoke(r);
        }
        let info = journal.commit_ordered(tx, ordered_data)?;
        if let Some(held) = &self.held {
            held.release()?;
        }
        if info.checkpointed_first {
            self.cache.checkpointed();
        }
        self.cache.committed();
        self.revokes.clear();
        self.tid += 1;
        self.started = None;
        if self.cache.pinned() > self.limits.pinned_blocks {
            self.checkpoint()?;
        }
        self.cache.trim();
        Ok(Some(info))
    }

    /// Writes every committed block home and frees the log.
    pub fn checkpoint(&mut self) -> Result<()> {
        if let Some(j) = self.journal.as_mut() {
            j.checkpoint()?;
        }
        self.cache.checkpointed();
        self.cache.trim();
        Ok(())
    }

    /// Commits, checkpoints and marks the journal empty (unmount). The journal is closed
    /// afterwards: nothing more can be committed.
    pub fn close(&mut self) -> Result<()> {
        self.commit(|| Ok::<(), std::convert::Infallible>(()))?;
        if let Some(j) = self.journal.take() {
            j.close()?;
        }
        self.cache.checkpointed();
        Ok(())
    }

    /// Writes a clean block home directly (outside the journal): only for the superblock
    /// at mount and unmount, when the journal is empty. The cache keeps the same image.
    pub fn write_home(&mut self, block: u64, data: Vec<u8>) -> Result<()> {
        self.dev.write_at(block * self.bs as u64, &data)?;
        self.cache.set(block, Some(Entry { data: Arc::new(data), state: State::Clean }));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
