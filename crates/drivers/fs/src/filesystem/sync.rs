//! Durability: `fsync` commits the running transaction if it holds a change to the file
//! (directory entries included: they are in the same transaction), `fdatasync` only if the
//! change matters to reading the data back (size, blocks), and both end with a device flush.
//! There is one running transaction, so a commit covers every earlier change too.

use super::inner::Inner;
use crate::breakage::Broken;
use crate::error::Result;

impl Inner {
    /// Makes `ino`'s data and metadata (or with `datasync`, what reading it back needs)
    /// durable.
    pub fn fsync(&mut self, ino: u32, datasync: bool) -> Result<()> {
        self.commit_for(ino, datasync)?;
        self.txn.device().flush()?;
        Ok(())
    }

    /// `fsync` without its device flush: commits the running transaction if it holds a
    /// change to `ino` (with `datasync`, one that matters to reading the data back). The
    /// driver sends the flush below itself, as the flush request it is answering.
    pub fn commit_for(&mut self, ino: u32, datasync: bool) -> Result<()> {
        self.read_inode(ino)?;
        let pending = if datasync { self.data_changed.contains(&ino) } else { self.changed.contains(&ino) };
        if pending && !self.opts.breakage.is(Broken::FsyncSkipsCommit) {
            self.commit()?;
        }
        self.writable_or_read_only()
    }

    /// Commits everything and flushes the device (syncfs, a volume flush).
    pub fn sync_all(&mut self) -> Result<()> {
        self.commit()?;
        self.writable_or_read_only()?;
        self.txn.device().flush()?;
        Ok(())
    }

    /// A read-only volume has nothing to sync; an aborted one fails.
    fn writable_or_read_only(&self) -> Result<()> {
        match &self.aborted {
            Some(why) => Err(crate::error::FsError::Aborted(why.clone())),
            None => Ok(()),
        }
    }
}
