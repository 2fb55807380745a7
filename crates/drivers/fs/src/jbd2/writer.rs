//! Writing the journal: committing transactions to the circular log, and checkpointing
//! them to their home locations to free log space.
//!
//! Commit, in order (ASYNC_COMMIT is not used):
//! 1. if the journal was empty on disk (`s_start == 0`), the superblock is rewritten to point
//!    at the new transaction;
//! 2. revoke blocks, then descriptor blocks each followed by its data copies (a copy that
//!    begins with the jbd2 magic is escaped), are written to the log;
//! 3. the caller's ordered-data step runs (file data that the new metadata points at);
//! 4. flush — the log blocks and the ordered data are durable;
//! 5. the commit block is written, then flush — the transaction is committed.
//!
//! Checkpoint: every committed block image not since revoked is written home, flush, then
//! the superblock's `s_start`/`s_sequence` move to the head of the log, flush. A commit that
//! does not fit in the free log space checkpoints first.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::area::JournalArea;
use super::checksum;
use super::commit::CommitBlock;
use super::descriptor::{BlockTag, Descriptor, TAG_FLAG_ESCAPE};
use super::error::Jbd2Error;
use super::header::starts_with_magic;
use super::recovery::{ReplayReport, read_superblock, recover, write_superblock};
use super::revoke::RevokeBlock;
use super::ring::Ring;
use super::superblock::JournalSuperblock;
use super::transaction::Transaction;
use crate::breakage::{Breakage, Broken};
use crate::device::BlockDevice;

/// Where a committed transaction went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitInfo {
    /// The transaction id.
    pub sequence: u32,
    /// Its first log block.
    pub first_block: u32,
    /// Log blocks it took (descriptors, copies, revoke blocks, commit block).
    pub log_blocks: u32,
    /// Whether a checkpoint had to run first to make room.
    pub checkpointed_first: bool,
}

/// The source of commit timestamps (seconds, nanoseconds since the epoch).
pub type Clock = fn() -> (u64, u32);

fn system_clock() -> (u64, u32) {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

/// An open journal that commits transactions and checkpoints them.
pub struct Journal {
    dev: Arc<dyn BlockDevice>,
    area: JournalArea,
    /// The superblock as last written.
    sb: JournalSuperblock,
    seed: u32,
    ring: Ring,
    /// First log block of the oldest transaction not yet checkpointed (= `head` when none).
    tail: u32,
    /// Its id.
    tail_sequence: u32,
    /// Next log block to write.
    head: u32,
    /// Log blocks in use from `tail` to `head`.
    used: u32,
    /// Id of the next transaction.
    next_sequence: u32,
    /// Committed images not yet written home.
    pending: BTreeMap<u64, Arc<[u8]>>,
    clock: Clock,
    last_commit: (u64, u32),
    breakage: Breakage,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("area", &self.area)
            .field("sb", &self.sb)
            .field("tail", &self.tail)
            .field("head", &self.head)
            .field("used", &self.used)
            .field("next_sequence", &self.next_sequence)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens a journal that is empty on disk. A journal holding transactions is refused with
    /// [`Jbd2Error::NeedsRecovery`]: use [`recover_and_open`](Self::recover_and_open).
    pub fn open(dev: Arc<dyn BlockDevice>, area: JournalArea) -> Result<Journal, Jbd2Error> {
        let sb = read_superblock(&*dev, &area)?;
        if sb.start != 0 {
            return Err(Jbd2Error::NeedsRecovery { start: sb.start, sequence: sb.sequence });
        }
        Ok(Journal::with_superblock(dev, area, sb))
    }

    /// Replays whatever the journal holds (see [`recover`]), then opens it.
    pub fn recover_and_open(
        dev: Arc<dyn BlockDevice>,
        area: JournalArea,
    ) -> Result<(Journal, ReplayReport), Jbd2Error> {
        let report = recover(&*dev, &area)?;
        Ok((Journal::open(dev, area)?, report))
    }

    /// Writes a fresh, empty journal superblock over the whole area (as a formatter would;
    /// the log blocks are not cleared) and opens the journal.
    pub fn format(
        dev: Arc<dyn BlockDevice>,
        area: JournalArea,
        uuid: [u8; 16],
        features: super::Features,
    ) -> Result<Journal, Jbd2Error> {
        let maxlen = u32::try_from(area.len())
            .map_err(|_| Jbd2Error::Area(format!("{} blocks is more than a journal can have", area.len())))?;
        let sb = JournalSuperblock::new(area.block_size() as u32, maxlen, uuid, features);
        sb.validate(area.block_size(), area.len())?;
        write_superblock(&*dev, &area, &sb)?;
        dev.flush()?;
        Ok(Journal::with_superblock(dev, area, sb))
    }

    fn with_superblock(dev: Arc<dyn BlockDevice>, area: JournalArea, sb: JournalSuperblock) -> Journal {
        let ring = Ring { first: sb.first, maxlen: sb.maxlen };
        Journal {
            seed: sb.seed(),
            ring,
            tail: sb.first,
            tail_sequence: sb.sequence,
            head: sb.first,
            used: 0,
            next_sequence: sb.sequence,
            pending: BTreeMap::new(),
            clock: system_clock,
            last_commit: (0, 0),
            breakage: Breakage::NONE,
            dev,
            area,
            sb,
        }
    }

    /// Replaces the commit timestamp source (tests use a fixed clock).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Runs a deliberately broken variant (the crash checker's tests).
    pub(crate) fn set_breakage(&mut self, breakage: Breakage) {
        self.breakage = breakage;
    }

    /// An empty transaction for this journal.
    pub fn begin(&self) -> Transaction {
        Transaction::new(self.area.block_size())
    }

    /// The journal superblock as last written.
    pub fn superblock(&self) -> &JournalSuperblock {
        &self.sb
    }

    /// Id the next committed transaction will get.
    pub fn next_sequence(&self) -> u32 {
        self.next_sequence
    }

    /// Log blocks not holding un-checkpointed transactions.
    pub fn free_log_blocks(&self) -> u32 {
        self.ring.len() - self.used
    }

    /// Log blocks a transaction needs: descriptors, copies, revoke blocks, commit.
    pub fn log_blocks_needed(&self, tx: &Transaction) -> u64 {
        self.log_blocks_for(tx.block_count(), tx.revoke_count())
    }

    /// Log blocks a transaction of `blocks` block images and `revokes` revokes needs.
    pub fn log_blocks_for(&self, blocks: usize, revokes: usize) -> u64 {
        let bs = self.area.block_size();
        let per_desc = Descriptor::capacity(&self.sb.features, bs).max(1) as u64;
        let per_revoke = RevokeBlock::capacity(&self.sb.features, bs).max(1) as u64;
        let n = blocks as u64;
        let r = revokes as u64;
        n.div_ceil(per_desc) + n + r.div_ceil(per_revoke) + 1
    }

    /// Log blocks of the whole circular log (the most one transaction can take).
    pub fn capacity(&self) -> u32 {
        self.ring.len()
    }

    /// Commits `tx` with no ordered data.
    pub fn commit(&mut self, tx: Transaction) -> Result<CommitInfo, Jbd2Error> {
        self.commit_ordered(tx, || Ok::<(), std::convert::Infallible>(()))
    }

    /// Commits `tx`. `ordered_data` runs after the log blocks are written and before the
    /// flush that precedes the commit block: write (not necessarily flush) the file data the
    /// transaction's metadata points at there. If it fails, nothing is committed.
    pub fn commit_ordered<F, E>(&mut self, tx: Transaction, ordered_data: F) -> Result<CommitInfo, Jbd2Error>
    where
        F: FnOnce() -> Result<(), E>,
        E: std::fmt::Display,
    {
        let bs = self.area.block_size();
        if let Some((&home, b)) = tx.blocks.iter().find(|(_, b)| b.len() != bs) {
            return Err(Jbd2Error::BadImage { home, len: b.len(), block_size: bs });
        }
        let needed = self.log_blocks_needed(&tx);
        if needed > u64::from(self.ring.len()) {
            return Err(Jbd2Error::TransactionTooLarge { needed, capacity: self.ring.len().into() });
        }
        let needed = needed as u32;
        let mut checkpointed_first = false;
        if needed > self.free_log_blocks() {
            self.checkpoint()?;
            checkpointed_first = true;
        }
        let sequence = self.next_sequence;
        let first_block = self.head;
        let dev = Arc::clone(&self.dev);
        let features = self.sb.features;

        if self.sb.start == 0 {
            // The journal is empty on disk: point it at this transaction first. The flush
            // before the commit block makes this durable before the transaction counts.
            self.sb.start = self.tail;
            self.sb.sequence = self.tail_sequence;
            write_superblock(&*dev, &self.area, &self.sb)?;
        }

        let mut pos = self.head;
        let revokes: Vec<u64> = tx.revokes.iter().copied().collect();
        for chunk in revokes.chunks(RevokeBlock::capacity(&features, bs).max(1)) {
            let b = RevokeBlock { sequence, blocks: chunk.to_vec() }.encode(&features, self.seed, bs);
            self.area.write(&*dev, pos.into(), &b)?;
            pos = self.ring.advance(pos, 1);
        }
        let blocks: Vec<(u64, &Arc<[u8]>)> = tx.blocks.iter().map(|(&h, b)| (h, b)).collect();
        for chunk in blocks.chunks(Descriptor::capacity(&features, bs).max(1)) {
            let mut tags = Vec::with_capacity(chunk.len());
            let mut copies = Vec::with_capacity(chunk.len());
            for &(home, image) in chunk {
                let mut flags = 0;
                let copy: std::borrow::Cow<'_, [u8]> = if starts_with_magic(image) {
                    flags |= TAG_FLAG_ESCAPE;
                    let mut c = image.to_vec();
                    c[..4].fill(0);
                    c.into()
                } else {
                    (&image[..]).into()
                };
                let csum =
                    if features.csum_v3() { checksum::data_block(self.seed, sequence, &copy) } else { 0 };
                tags.push(BlockTag { home, flags, checksum: csum });
                copies.push(copy);
            }
            let d = Descriptor { sequence, tags }.encode(&features, self.seed, bs, &self.sb.uuid);
            self.area.write(&*dev, pos.into(), &d)?;
            pos = self.ring.advance(pos, 1);
            for c in copies {
                self.area.write(&*dev, pos.into(), &c)?;
                pos = self.ring.advance(pos, 1);
            }
        }

        ordered_data().map_err(|e| Jbd2Error::OrderedData { tid: sequence, reason: e.to_string() })?;
        if !self.breakage.is(Broken::CommitWithoutFlush) {
            dev.flush()?;
        }

        let now = (self.clock)();
        let stamp = if now > self.last_commit { now } else { self.last_commit };
        self.last_commit = stamp;
        let c = CommitBlock::new(sequence, stamp.0, stamp.1).encode(&features, self.seed, bs);
        self.area.write(&*dev, pos.into(), &c)?;
        dev.flush()?;

        self.head = self.ring.advance(pos, 1);
        self.used += needed;
        self.next_sequence = sequence.wrapping_add(1);
        for home in &tx.revokes {
            self.pending.remove(home);
        }
        self.pending.extend(tx.blocks);
        Ok(CommitInfo { sequence, first_block, log_blocks: needed, checkpointed_first })
    }

    /// Writes every committed block home, then frees the whole log.
    pub fn checkpoint(&mut self) -> Result<(), Jbd2Error> {
        if self.used == 0 {
            return Ok(());
        }
        let bs = self.area.block_size() as u64;
        for (&home, image) in &self.pending {
            self.dev.write_at(home * bs, image)?;
        }
        self.dev.flush()?;
        self.tail = self.head;
        self.tail_sequence = self.next_sequence;
        self.used = 0;
        self.pending.clear();
        self.sb.start = self.tail;
        self.sb.sequence = self.tail_sequence;
        write_superblock(&*self.dev, &self.area, &self.sb)?;
        self.dev.flush()?;
        Ok(())
    }

    /// Checkpoints everything and marks the journal empty (`s_start = 0`), as at unmount.
    pub fn close(mut self) -> Result<(), Jbd2Error> {
        self.checkpoint()?;
        self.sb.start = 0;
        self.sb.sequence = self.next_sequence;
        write_superblock(&*self.dev, &self.area, &self.sb)?;
        self.dev.flush()?;
        Ok(())
    }
}
