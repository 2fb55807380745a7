//! Reusing transfer buffers within a connection: a buffer freshly allocated for every
//! request costs a zeroing (and, above the allocator's mmap threshold, a page fault per
//! page); clients use a few sizes over and over, so buffers of exactly the same size are
//! kept for the next request. Per connection, so data never crosses between clients; the
//! bytes kept by all the pools of a server together are capped by a [`KeptBudget`], so
//! that many connections do not keep many times the memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use irp::{Mdl, MdlError};

/// The bytes kept by every [`BufferPool`] of one server, at most `max_bytes`.
#[derive(Debug)]
pub(crate) struct KeptBudget {
    bytes: AtomicUsize,
    max_bytes: usize,
}

impl KeptBudget {
    pub(crate) fn new(max_bytes: usize) -> KeptBudget {
        KeptBudget { bytes: AtomicUsize::new(0), max_bytes }
    }

    /// Counts `len` more bytes as kept, if the total stays within the cap.
    // Relaxed: only a count, it publishes no other memory.
    fn try_keep(&self, len: usize) -> bool {
        let add = |kept: usize| kept.checked_add(len).filter(|&total| total <= self.max_bytes);
        self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, add).is_ok()
    }

    /// `len` bytes are no longer kept.
    fn release(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::Relaxed);
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Free buffers of one connection, at most `max_bytes` of them, and no more than the
/// server-wide `budget` lets it keep.
#[derive(Debug)]
pub(crate) struct BufferPool {
    free: Mutex<Free>,
    max_bytes: usize,
    budget: Arc<KeptBudget>,
}

#[derive(Debug, Default)]
struct Free {
    buffers: Vec<Mdl>,
    /// Counted in the budget too.
    bytes: usize,
}

/// At most this many free buffers are kept (the search is linear).
const MAX_BUFFERS: usize = 32;

impl BufferPool {
    pub(crate) fn new(max_bytes: usize, budget: Arc<KeptBudget>) -> BufferPool {
        BufferPool { free: Mutex::new(Free::default()), max_bytes, budget }
    }

    /// An MDL over `len` bytes: a kept buffer of that size, or a new zeroed one. A kept
    /// buffer holds an earlier request's bytes: a read overwrites all of them (its reply
    /// is sent only when the IRP reports every byte read), a write's payload too.
    pub(crate) fn take(&self, len: usize) -> Result<Mdl, MdlError> {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let found = free.buffers.iter().rposition(|b| b.byte_count() == len);
            found.map(|i| {
                let mdl = free.buffers.swap_remove(i);
                free.bytes -= len;
                self.budget.release(len);
                mdl
            })
        };
        match reused {
            Some(mdl) => Ok(mdl),
            None => Mdl::with_len(len),
        }
    }

    /// Keeps the buffer of a finished request, if there is room in this pool and in the
    /// server's budget.
    pub(crate) fn give(&self, mut mdl: Mdl) {
        // Kept as a whole MDL (`MmPrepareMdlForReuse`): reusing it allocates nothing.
        if !mdl.prepare_for_reuse() {
            return;
        }
        let len = mdl.byte_count();
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.buffers.len() < MAX_BUFFERS && free.bytes + len <= self.max_bytes && self.budget.try_keep(len)
        {
            free.bytes += len;
            free.buffers.push(mdl);
        }
    }
}

impl Drop for BufferPool {
    /// The connection is gone: its kept buffers are freed, and leave the budget.
    fn drop(&mut self) {
        let free = self.free.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.budget.release(free.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mdl(len: usize) -> Mdl {
        Mdl::with_len(len).unwrap()
    }

    #[test]
    fn the_budget_caps_the_bytes_kept_by_all_pools_together() {
        let budget = Arc::new(KeptBudget::new(12 << 10));
        let a = BufferPool::new(8 << 10, Arc::clone(&budget));
        let b = BufferPool::new(8 << 10, Arc::clone(&budget));
        a.give(mdl(4096));
        a.give(mdl(4096));
        a.give(mdl(4096));
        assert_eq!(budget.kept(), 8 << 10, "the pool's own cap: 8 KiB");
        b.give(mdl(4096));
        b.give(mdl(4096));
        assert_eq!(budget.kept(), 12 << 10, "the server-wide cap: 12 KiB");

        // A buffer taken leaves the budget, which makes room for another pool.
        let taken = a.take(4096).unwrap();
        assert_eq!(budget.kept(), 8 << 10);
        b.give(mdl(4096));
        assert_eq!(budget.kept(), 12 << 10);
        drop(taken);

        // A pool dropped with its connection gives its bytes back.
        drop(b);
        assert_eq!(budget.kept(), 4 << 10);
        drop(a);
        assert_eq!(budget.kept(), 0);
    }

    #[test]
    fn a_pool_reuses_only_buffers_of_the_same_size() {
        let budget = Arc::new(KeptBudget::new(1 << 20));
        let pool = BufferPool::new(1 << 20, Arc::clone(&budget));
        pool.give(mdl(8192));
        let other = pool.take(4096).unwrap();
        assert_eq!(budget.kept(), 8192, "no kept buffer of 4 KiB: a new one");
        assert_eq!(other.byte_count(), 4096);
        let same = pool.take(8192).unwrap();
        assert_eq!(budget.kept(), 0, "the 8 KiB buffer was reused");
        assert_eq!(same.byte_count(), 8192);
    }
}
