//! What was written since the last `fdatasync`, so that a flush without device sync
//! (`FLUSH_FLAGS_NO_SYNC`) can start those writes towards the device at once.
//!
//! A buffered write ends in the page cache; the kernel writes it to the device when
//! `fdatasync` asks, or seconds later. A NoSync flush says "write the data, don't sync
//! the device cache": the disk then starts the device writes of what was written since
//! the last sync (`sync_file_range(SYNC_FILE_RANGE_WRITE)`) and completes without
//! waiting, so that the next full flush finds them done or under way instead of
//! starting them itself. The cache sends one after writing a lone small write behind
//! (`eager`), which is what turns a client's write + flush into mostly waiting for a
//! device write that began while the reply to the write was on the wire.
//!
//! Only a small amount is started this way ([`START_AT_MOST`]): with more written since
//! the sync (bulk writes that were never flushed) the kernel's own writeback and the
//! next `fdatasync` deal with it, and the flush doesn't stall its thread submitting it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes written since the last sync above which a NoSync flush starts nothing.
pub(super) const START_AT_MOST: u64 = 1 << 20;

/// The span and amount of the writes since the last sync. Only a hint: a write racing
/// a sync may be counted for either side.
#[derive(Debug)]
pub(super) struct Unsynced {
    low: AtomicU64,
    high: AtomicU64,
    bytes: AtomicU64,
}

impl Default for Unsynced {
    fn default() -> Self {
        Unsynced { low: AtomicU64::new(u64::MAX), high: AtomicU64::new(0), bytes: AtomicU64::new(0) }
    }
}

impl Unsynced {
    /// Counts a write of `len` bytes at `offset`.
    pub(super) fn wrote(&self, offset: u64, len: u64) {
        self.low.fetch_min(offset, Ordering::Relaxed);
        self.high.fetch_max(offset.saturating_add(len), Ordering::Relaxed);
        self.bytes.fetch_add(len, Ordering::Relaxed);
    }

    /// A full sync is about to start: what was written before it is its business.
    pub(super) fn syncing(&self) {
        self.bytes.store(0, Ordering::Relaxed);
        self.low.store(u64::MAX, Ordering::Relaxed);
        self.high.store(0, Ordering::Relaxed);
    }

    /// The span (offset, length) to start writing for a NoSync flush: `None` when
    /// nothing was written since the sync, or more than [`START_AT_MOST`] bytes.
    pub(super) fn span_to_start(&self) -> Option<(u64, u64)> {
        let bytes = self.bytes.load(Ordering::Relaxed);
        if bytes == 0 || bytes > START_AT_MOST {
            return None;
        }
        let (low, high) = (self.low.load(Ordering::Relaxed), self.high.load(Ordering::Relaxed));
        (high > low).then(|| (low, high - low))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_covers_the_writes_since_the_last_sync_and_only_small_amounts() {
        let u = Unsynced::default();
        assert_eq!(u.span_to_start(), None);
        u.wrote(8192, 4096);
        u.wrote(4096, 512);
        assert_eq!(u.span_to_start(), Some((4096, 8192)));
        u.syncing();
        assert_eq!(u.span_to_start(), None);
        u.wrote(1 << 30, START_AT_MOST);
        assert_eq!(u.span_to_start(), Some((1 << 30, START_AT_MOST)));
        u.wrote(0, 1);
        assert_eq!(u.span_to_start(), None, "more than START_AT_MOST since the sync");
    }
}
