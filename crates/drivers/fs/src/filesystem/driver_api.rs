//! What the IRP driver needs of the file system beyond its public operations: inodes as
//! stored (the driver's file control blocks hold them), lookups by number, the block map
//! (SEEK_DATA / SEEK_HOLE), an append whose offset is the size under the same lock, and
//! the durability steps without the device flush the driver sends below itself.

use super::{Filesystem, Ino};
use crate::error::Result;
use crate::jbd2::ReplayReport;
use crate::ondisk::features::ro_compat;
use crate::ondisk::inode::Inode;
use crate::volume::Mapping;

impl Filesystem {
    /// Inode `ino` as stored; it must be in use (linked, or open after its last unlink).
    pub(crate) fn inode(&self, ino: Ino) -> Result<Inode> {
        self.lock().read_inode(ino)
    }

    /// The inode `name` names in directory `dir`, if any (`.` and `..` included).
    pub(crate) fn lookup_ino(&self, dir: Ino, name: &[u8]) -> Result<Option<Ino>> {
        self.lock().dir_lookup(dir, name)
    }

    /// Where logical block `lblk` of `ino` is.
    pub(crate) fn map_block(&self, ino: Ino, lblk: u32) -> Result<Mapping> {
        let mut i = self.lock();
        let inode = i.read_inode(ino)?;
        let (mapped, len) = i.map(ino, &inode, lblk)?;
        Ok(match mapped {
            Some((physical, unwritten)) => Mapping::Mapped { physical, len: len.max(1), unwritten },
            None => Mapping::Hole { len: len.max(1) },
        })
    }

    /// Whether `i_blocks` may count file-system blocks (the huge_file feature).
    pub(crate) fn huge_file(&self) -> bool {
        self.lock().sb.features.ro_compat & ro_compat::HUGE_FILE != 0
    }

    /// Writes `data` at the end of `ino` (`O_APPEND`, NT's `FILE_APPEND_DATA`): the size is
    /// read and the write made under one lock, so appends never overlap. Returns the offset
    /// written at and the bytes written.
    pub(crate) fn append(&self, ino: Ino, data: &[u8]) -> Result<(u64, usize)> {
        let mut i = self.lock();
        let size = i.read_inode(ino)?.size;
        let n = i.write_data(ino, size, data)?;
        Ok((size, n))
    }

    /// [`Filesystem::fsync`] without the device flush: commits the running transaction if
    /// it holds a change to `ino` (with `datasync`, one that matters to reading it back).
    pub(crate) fn commit_for(&self, ino: Ino, datasync: bool) -> Result<()> {
        self.lock().commit_for(ino, datasync)
    }

    /// [`Filesystem::sync`] without the device flush: commits the running transaction.
    /// Fails if an earlier commit failed (the journal is aborted).
    pub(crate) fn commit_all(&self) -> Result<()> {
        let mut i = self.lock();
        i.commit()?;
        match &i.aborted {
            Some(why) => Err(crate::error::FsError::Aborted(why.clone())),
            None => Ok(()),
        }
    }

    /// Commits the running transaction if it is older than the commit interval (the
    /// periodic commit, jbd2's `kjournald`).
    pub(crate) fn commit_if_due(&self) -> Result<()> {
        let mut i = self.lock();
        if i.read_only.is_some() || i.aborted.is_some() {
            return Ok(());
        }
        i.maybe_commit()
    }

    /// Unmounts in place ([`Filesystem::unmount`] through a shared reference): afterwards
    /// the volume is clean on the device, reads still work and changes are refused.
    pub(crate) fn shutdown(&self) -> Result<()> {
        self.lock().unmount()
    }

    /// What journal recovery did at mount, if the journal needed it.
    pub(crate) fn recovery(&self) -> Option<ReplayReport> {
        self.lock().recovery.clone()
    }
}
