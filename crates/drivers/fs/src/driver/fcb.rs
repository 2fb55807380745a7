//! File control blocks (fastfat's `FCB`): one per open inode, shared by every open of it,
//! holding the inode as read and the counts that decide when it goes away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::Failure;
use crate::ondisk::inode::Inode;

/// The state of one open inode.
#[doc(alias = "FCB")]
#[derive(Debug)]
pub struct Fcb {
    ino: u32,
    state: Mutex<FcbState>,
}

/// What an FCB holds, under its lock.
#[derive(Debug)]
pub struct FcbState {
    /// The inode (read once at the first open; the write path keeps it current).
    pub inode: Inode,
    /// Handles not yet cleaned up (`UncleanCount`).
    pub handles: u32,
    /// File objects not yet closed (`OpenCount`): the FCB leaves the table at 0.
    pub references: u32,
    /// The name goes when the last handle is cleaned up (`FCB_STATE_DELETE_ON_CLOSE`).
    pub delete_pending: bool,
}

impl Fcb {
    /// The inode number.
    pub fn ino(&self) -> u32 {
        self.ino
    }

    /// The state, locked.
    pub fn state(&self) -> MutexGuard<'_, FcbState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the inode.
    pub fn inode(&self) -> Inode {
        self.state().inode.clone()
    }
}

/// Every FCB of a volume, by inode number (the volume's `FcbTable`).
#[derive(Debug, Default)]
pub struct FcbTable {
    map: Mutex<HashMap<u32, Arc<Fcb>>>,
}

impl FcbTable {
    fn lock(&self) -> MutexGuard<'_, HashMap<u32, Arc<Fcb>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The FCB of `ino` for one more open: the existing one, or a new one with the inode
    /// `load` reads.
    pub fn open(&self, ino: u32, load: impl FnOnce() -> Result<Inode, Failure>) -> Result<Arc<Fcb>, Failure> {
        let mut map = self.lock();
        if let Some(fcb) = map.get(&ino) {
            let mut s = fcb.state();
            s.handles += 1;
            s.references += 1;
            drop(s);
            return Ok(Arc::clone(fcb));
        }
        let inode = load()?;
        let fcb = Arc::new(Fcb {
            ino,
            state: Mutex::new(FcbState { inode, handles: 1, references: 1, delete_pending: false }),
        });
        map.insert(ino, Arc::clone(&fcb));
        Ok(fcb)
    }

    /// A handle of `fcb` was cleaned up; returns the handles left.
    pub fn cleanup(&self, fcb: &Fcb) -> u32 {
        let mut s = fcb.state();
        s.handles = s.handles.saturating_sub(1);
        s.handles
    }

    /// A file object of `fcb` was closed; the FCB leaves the table with its last one.
    pub fn close(&self, fcb: &Fcb) {
        let mut map = self.lock();
        let mut s = fcb.state();
        s.references = s.references.saturating_sub(1);
        if s.references == 0 {
            drop(s);
            map.remove(&fcb.ino);
        }
    }

    /// Open inodes.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no inode is open.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_share_one_fcb_which_leaves_with_the_last_close() {
        let t = FcbTable::default();
        let a = t.open(12, || Ok(Inode::zeroed())).unwrap();
        let b = t.open(12, || panic!("already loaded")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(t.cleanup(&a), 1);
        t.close(&a);
        assert_eq!(t.len(), 1);
        assert_eq!(t.cleanup(&b), 0);
        t.close(&b);
        assert!(t.is_empty());
        assert!(t.open(13, || Err(Failure::from(irp::Status::FILE_CORRUPT_ERROR))).is_err());
        assert!(t.is_empty());
    }
}
