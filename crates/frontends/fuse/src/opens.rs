//! The open files and directories of a mount: a FUSE file handle (`fh`) names the I/O
//! manager [`Handle`] an `open`, `create` or `opendir` made, until `release` closes it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use irp::{Handle, Status};

/// One open: its handle, its inode, and the write errors the writer was not told of.
#[derive(Debug)]
pub struct Open {
    /// The handle (its file object carries the access and the caller's credentials).
    pub handle: Handle,
    /// The inode number.
    pub ino: u64,
    /// The first failure of a write the kernel sent from its page cache (writeback): the
    /// process that wrote the data had its `write` answered already. The next `flush`
    /// (close) or `fsync` on this open reports it, once.
    deferred: Mutex<Option<Status>>,
}

impl Open {
    /// An open of inode `ino` through `handle`.
    pub fn new(handle: Handle, ino: u64) -> Open {
        Open { handle, ino, deferred: Mutex::new(None) }
    }

    /// Records a failure to report later (the first one is kept).
    pub fn defer(&self, status: Status) {
        self.deferred.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(status);
    }

    /// The failure not yet reported, if any; it is reported once.
    pub fn take_deferred(&self) -> Option<Status> {
        self.deferred.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The table of opens, by file handle.
#[derive(Debug)]
pub struct Opens {
    next: AtomicU64,
    map: RwLock<HashMap<u64, Arc<Open>>>,
}

impl Default for Opens {
    fn default() -> Opens {
        Opens { next: AtomicU64::new(1), map: RwLock::new(HashMap::new()) }
    }
}

impl Opens {
    /// Adds an open; returns its file handle (never 0).
    pub fn insert(&self, open: Open) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed);
        self.map.write().unwrap_or_else(PoisonError::into_inner).insert(fh, Arc::new(open));
        fh
    }

    /// The open of `fh`.
    pub fn get(&self, fh: u64) -> Option<Arc<Open>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner).get(&fh).cloned()
    }

    /// Takes the open of `fh` out of the table.
    pub fn remove(&self, fh: u64) -> Option<Arc<Open>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner).remove(&fh)
    }

    /// Takes every open out of the table (at unmount).
    pub fn drain(&self) -> Vec<Arc<Open>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, o)| o).collect()
    }

    /// How many opens there are.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// Closes an open taken out of the table: `IRP_MJ_CLEANUP` and `IRP_MJ_CLOSE`, and the
/// first failure. An open still used by another request (which the kernel does not do:
/// it releases a file after its last request) is closed when that request drops it.
pub fn close(open: Arc<Open>) -> Result<(), Status> {
    match Arc::try_unwrap(open) {
        Ok(open) => open.handle.close(),
        Err(shared) => {
            tracing::warn!(ino = shared.ino, "released while a request still used it: closed after it");
            Ok(())
        }
    }
}
