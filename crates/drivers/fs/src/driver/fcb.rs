//! File control blocks (fastfat's `FCB`): one per open inode, shared by every open of it,
//! holding the inode as last read, the counts that decide when it goes away, and the name
//! it goes by when it is to be deleted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::Failure;
use crate::ondisk::inode::Inode;

/// A name of an inode: the directory it is in and the name there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The directory.
    pub dir: u32,
    /// The name in it.
    pub name: Vec<u8>,
}

impl Link {
    /// The name, lossily as text (for messages).
    pub fn shown(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

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
    /// The inode (read at the first open; on a read-write mount read again by every
    /// request that looks at it, [`Vcb::inode_of`](super::Vcb::inode_of)).
    pub inode: Inode,
    /// Handles not yet cleaned up (`UncleanCount`).
    pub handles: u32,
    /// File objects not yet closed (`OpenCount`): the FCB leaves the table at 0.
    pub references: u32,
    /// The name that goes when the last handle is cleaned up
    /// (`FCB_STATE_DELETE_ON_CLOSE`), if the file is to be deleted.
    pub delete_pending: Option<Link>,
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
            state: Mutex::new(FcbState { inode, handles: 1, references: 1, delete_pending: None }),
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

    /// A file object of `fcb` was closed; the FCB leaves the table with its last one
    /// (then `true`).
    pub fn close(&self, fcb: &Fcb) -> bool {
        let mut map = self.lock();
        let mut s = fcb.state();
        s.references = s.references.saturating_sub(1);
        if s.references == 0 {
            drop(s);
            map.remove(&fcb.ino);
            return true;
        }
        false
    }

    /// The FCB of `ino`, if it is open.
    pub fn get(&self, ino: u32) -> Option<Arc<Fcb>> {
        self.lock().get(&ino).cloned()
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
        assert!(!t.close(&a));
        assert_eq!(t.len(), 1);
        assert!(t.get(12).is_some());
        assert_eq!(t.cleanup(&b), 0);
        assert!(t.close(&b), "the last close");
        assert!(t.get(12).is_none());
        assert!(t.is_empty());
        assert!(t.open(13, || Err(Failure::from(irp::Status::FILE_CORRUPT_ERROR))).is_err());
        assert!(t.is_empty());
    }
}
