//! The mounted volume's state behind the [`Filesystem`](super::Filesystem) lock, and the two
//! things every change goes through: [`Inner::op`], which makes an operation atomic (all of
//! it lands in the running transaction, or on failure none of it), and [`Inner::commit`].

use std::collections::{HashMap, HashSet};

use super::types::{Clock, MountOptions, Timestamp};
use crate::alloc::Alloc;
use crate::dirops::DirCache;
use crate::error::{FsError, Result};
use crate::geometry::Geometry;
use crate::ondisk::superblock::{SUPERBLOCK_SIZE, Superblock};
use crate::txn::Txn;

/// What an operation changed outside the blocks and the allocator, for its undo.
#[derive(Debug)]
struct OpUndo {
    sb: Superblock,
    orphans: Vec<u32>,
}

/// The state of a mounted volume.
#[derive(Debug)]
pub(crate) struct Inner {
    pub geo: Geometry,
    /// The superblock as it will be committed next.
    pub sb: Superblock,
    pub txn: Txn,
    pub alloc: Alloc,
    pub dirs: DirCache,
    /// The orphan list, head first (`s_last_orphan`, then each inode's `i_dtime`).
    pub orphans: Vec<u32>,
    /// Orphans that are there for a truncation in progress, not for an unlink.
    pub truncating: HashSet<u32>,
    /// Open counts.
    pub open: HashMap<u32, u32>,
    /// Inodes changed in the running transaction (fsync commits it).
    pub changed: HashSet<u32>,
    /// Inodes whose data-relevant metadata (size, blocks) changed in it (fdatasync commits it).
    pub data_changed: HashSet<u32>,
    pub clock: Clock,
    pub opts: MountOptions,
    /// Why the volume takes no changes, if it does not.
    pub read_only: Option<String>,
    /// Set when a commit failed: nothing more is written.
    pub aborted: Option<String>,
    pub next_generation: u32,
    /// What journal recovery did at mount, if the journal needed it.
    pub recovery: Option<crate::jbd2::ReplayReport>,
    undo: Option<OpUndo>,
}

impl Inner {
    /// Assembles the state (mount does the checking).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        geo: Geometry,
        sb: Superblock,
        txn: Txn,
        alloc: Alloc,
        opts: MountOptions,
        read_only: Option<String>,
        orphans: Vec<u32>,
    ) -> Inner {
        let t = (opts.clock)();
        Inner {
            geo,
            dirs: DirCache::new(opts.dir_index_entries),
            next_generation: (t.secs as u32).wrapping_mul(0x9E37_79B9) ^ t.nanos ^ sb.uuid[0] as u32,
            sb,
            txn,
            alloc,
            orphans,
            truncating: HashSet::new(),
            open: HashMap::new(),
            changed: HashSet::new(),
            data_changed: HashSet::new(),
            clock: opts.clock,
            opts,
            read_only,
            aborted: None,
            recovery: None,
            undo: None,
        }
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Fails unless changes are allowed.
    pub fn writable(&self) -> Result<()> {
        if let Some(why) = &self.aborted {
            return Err(FsError::Aborted(why.clone()));
        }
        if let Some(reason) = &self.read_only {
            return Err(FsError::ReadOnly { reason: reason.clone() });
        }
        Ok(())
    }

    fn begin(&mut self) {
        self.txn.begin_op();
        self.alloc.begin_op();
        self.dirs.begin_op();
        self.undo = Some(OpUndo { sb: self.sb.clone(), orphans: self.orphans.clone() });
    }

    fn end(&mut self) {
        self.txn.end_op();
        self.alloc.end_op();
        self.dirs.end_op();
        self.undo = None;
    }

    fn rollback(&mut self) {
        self.txn.rollback_op();
        self.alloc.rollback_op();
        self.dirs.rollback_op();
        if let Some(u) = self.undo.take() {
            self.sb = u.sb;
            self.orphans = u.orphans;
        }
    }

    /// Runs `f` as one atomic operation. Before it, the running transaction is committed if
    /// it is full or older than the commit interval. If `f` fails, every change it made is
    /// undone; if it failed for lack of space while the running transaction holds freed
    /// blocks, the transaction is committed (making them free) and `f` runs once more.
    pub fn op<T>(&mut self, mut f: impl FnMut(&mut Inner) -> Result<T>) -> Result<T> {
        self.writable()?;
        self.maybe_commit()?;
        let mut retried = false;
        loop {
            let had_frees = self.alloc.pending_free_blocks() > 0;
            self.begin();
            let r = f(self);
            match r {
                Ok(v) if self.txn.fits_journal() => {
                    self.end();
                    return Ok(v);
                }
                Ok(_) => {
                    self.rollback();
                    return Err(FsError::NoSpace { what: "journal (the operation is larger than the log)" });
                }
                Err(e) => {
                    self.rollback();
                    if matches!(e, FsError::NoSpace { .. }) && had_frees && !retried {
                        retried = true;
                        self.commit()?;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Commits if the running transaction is full or due.
    pub fn maybe_commit(&mut self) -> Result<()> {
        let due = self.txn.age().is_some_and(|a| a >= self.opts.commit_interval);
        if self.txn.is_full() || due {
            self.commit()?;
        }
        Ok(())
    }

    /// Commits the running transaction: the frees it made take effect, the descriptors and
    /// the superblock join it, and it goes to the journal. A failure aborts the volume.
    pub fn commit(&mut self) -> Result<()> {
        if let Some(why) = &self.aborted {
            return Err(FsError::Aborted(why.clone()));
        }
        if !self.txn.has_changes() && !self.alloc.has_dirty() {
            return Ok(());
        }
        let r = self.commit_inner();
        if let Err(e) = &r {
            tracing::error!(error = %e, "commit failed; the volume takes no more changes");
            self.aborted = Some(e.to_string());
        }
        r
    }

    fn commit_inner(&mut self) -> Result<()> {
        self.alloc.apply_frees(&mut self.txn)?;
        self.alloc.write_descriptors(&mut self.txn, &mut self.sb)?;
        self.stage_superblock()?;
        self.txn.commit(|| Ok::<(), std::convert::Infallible>(()))?;
        self.changed.clear();
        self.data_changed.clear();
        Ok(())
    }

    /// Puts the superblock (checksummed) into the running transaction.
    pub fn stage_superblock(&mut self) -> Result<()> {
        self.sb.wtime = self.now().secs as u32;
        self.sb.update_checksum();
        let raw = self.sb.encode();
        let off = self.geo.superblock_offset();
        self.txn.modify(self.geo.superblock_block(), |b| b[off..off + SUPERBLOCK_SIZE].copy_from_slice(&raw))
    }

    /// Records that `ino` changed in the running transaction (`data`: in a way fdatasync
    /// must make durable).
    pub fn touched(&mut self, ino: u32, data: bool) {
        self.changed.insert(ino);
        if data {
            self.data_changed.insert(ino);
        }
    }

    /// A fresh inode generation.
    pub fn generation(&mut self) -> u32 {
        self.next_generation = self.next_generation.wrapping_mul(1_103_515_245).wrapping_add(12345);
        self.next_generation
    }
}
