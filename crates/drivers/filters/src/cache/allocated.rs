//! The cache's answer to the allocation query (`FSCTL_QUERY_ALLOCATED_RANGES`): what the
//! device below says, united with every block the cache holds that is not below yet —
//! dirty blocks, and the blocks a write around the cache (write-around, discard,
//! write-zeroes) is changing below right now — so that a hole it reports reads as zeroes
//! through the cache, always. Correctness before precision: a block only partly dirty
//! counts as data whole.
//!
//! **Order.** The cache's blocks are taken first, then the device below is asked. A block
//! dirty at that moment is in the answer whatever happens next; a block that was dirty
//! before and is clean now was written below before it became clean (a block becomes clean
//! only once its write-back completed), so the device below sees it when it is asked. A
//! write that completed before the query was sent is therefore always seen, by one side
//! or the other.
//!
//! A device below that cannot tell (`STATUS_INVALID_DEVICE_REQUEST`) makes the cache
//! answer the same: everything is data, whatever the cache holds.

use irp::block::{AllocatedRange, Allocation, AllocationError, AllocationQuery};
use irp::{Irp, Status};

use super::Inner;

impl Inner {
    /// Answers `irp`, an allocation query for `query` (checked against the disk).
    pub(super) fn query_allocated(&self, irp: Irp, query: AllocationQuery) -> Status {
        if query.range.length == 0 {
            return Allocation::nothing(query.range).complete(irp, query.max_ranges);
        }
        let held = self.held_ranges(query.range);
        let irp = irp.forward_synchronously(&self.lower);
        let status = irp.io_status();
        let answered = usize::try_from(status.information).unwrap_or(usize::MAX);
        let buffer = &irp.system_buffer()[..answered.min(irp.system_buffer().len())];
        match Allocation::decode(query.range, status.status, buffer) {
            Ok(below) if !below.is_known() => irp.complete(Status::INVALID_DEVICE_REQUEST),
            Ok(below) => below.union(held).complete(irp, query.max_ranges),
            Err(e) => {
                if !matches!(e, AllocationError::Failed(_)) {
                    tracing::error!(cache = %self.name, "the allocation answer from below breaks the rules: {e}");
                }
                irp.complete(e.status())
            }
        }
    }

    /// The byte ranges of the blocks within `range` that hold data not below yet: dirty
    /// blocks (a block being written back stays dirty until its write completed) and the
    /// blocks a write around the cache is changing now.
    fn held_ranges(&self, range: AllocatedRange) -> Vec<AllocatedRange> {
        let blocks = self.block_range(range.offset, range.length);
        let mut runs: Vec<std::ops::RangeInclusive<u64>> = Vec::new();
        {
            let store = self.store();
            for block in store.dirty_in(blocks.clone()) {
                match runs.last_mut() {
                    Some(run) if *run.end() + 1 == block => *run = *run.start()..=block,
                    _ => runs.push(block..=block),
                }
            }
            runs.extend(store.written_below_now().iter().cloned());
        }
        let bs = self.block_size();
        runs.into_iter()
            .filter(|run| run.start() <= blocks.end() && run.end() >= blocks.start())
            .map(|run| {
                let start = run.start() * bs;
                let end = (run.end() + 1).saturating_mul(bs).min(self.info.size);
                AllocatedRange::new(start, end.saturating_sub(start))
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "allocated_tests.rs"]
mod tests;
