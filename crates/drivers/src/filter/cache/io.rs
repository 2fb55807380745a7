//! The cache's data path: reads served from cached blocks or from below, writes into
//! cached blocks (read-filled when partial), write-through, discards.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use irp::{Completion, DeviceRef, InvokeOn, Irp, Status};

use super::{CacheMode, Inner, lower};
use crate::disk::BlockRequest;

impl Inner {
    pub(super) fn read(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        let (offset, length) = match BlockRequest::decode(&irp, &self.info) {
            Ok(BlockRequest::Read { offset, length }) => (offset, length),
            Ok(_) => return irp.complete(Status::INVALID_PARAMETER),
            Err(status) => return irp.complete(status),
        };
        // Everything cached: serve it here.
        {
            let mut s = self.store();
            let mut all = true;
            self.pieces(offset, length as u64, |block, _, _| all &= s.get(block).is_some());
            if all {
                let Some(buf) = irp.mdl_mut().and_then(irp::Mdl::bytes_mut) else {
                    return irp.complete(Status::INVALID_PARAMETER);
                };
                self.pieces(offset, length as u64, |block, within, range| {
                    let b = s.get(block).expect("checked above");
                    buf[range.clone()].copy_from_slice(&b.data[within..within + range.len()]);
                    s.touch(block);
                });
                drop(s);
                return irp.complete_with(Status::SUCCESS, length as u64);
            }
            // No clean block may leave while the read below is in flight: the overlay
            // after it needs every block that was dirty when it started.
            self.readers.fetch_add(1, Ordering::AcqRel);
        }
        // A miss goes down asynchronously; `read_done` overlays the cache when it
        // completes (in whatever thread completes it).
        irp.copy_current_location_to_next();
        irp.set_completion_routine(device, 0, InvokeOn::ALWAYS);
        self.lower.call(irp)
    }

    /// The completion routine of a read miss: cached blocks (dirty ones are newer than
    /// the disk) replace what was read, and whole blocks read join the cache.
    pub(super) fn read_done(&self, mut irp: Irp) -> Completion {
        let status = irp.io_status().status;
        if status.is_success()
            && let irp::Parameters::Read { offset, length } = *irp.parameters()
        {
            let mut s = self.store();
            if let Some(buf) = irp.mdl_mut().and_then(irp::Mdl::bytes_mut) {
                self.pieces(offset, u64::from(length), |block, within, range| match s.get(block) {
                    Some(b) => buf[range.clone()].copy_from_slice(&b.data[within..within + range.len()]),
                    None if self.options.read_cache
                        && within == 0
                        && range.len() == self.block_len(block) =>
                    {
                        s.insert(block, buf[range].into(), false);
                    }
                    None => {}
                });
            }
        }
        let last_reader = self.readers.fetch_sub(1, Ordering::AcqRel) == 1;
        if last_reader {
            self.store().evict_to(self.options.size);
        }
        Completion::Continue(irp)
    }

    pub(super) fn write(&self, irp: Irp) -> Status {
        let (offset, length, fua) = match BlockRequest::decode(&irp, &self.info) {
            Ok(BlockRequest::Write { offset, length, fua }) => (offset, length, fua),
            Ok(_) => return irp.complete(Status::INVALID_PARAMETER),
            Err(status) => return irp.complete(status),
        };
        if self.options.mode == CacheMode::WriteThrough {
            return self.write_through(irp, offset, length);
        }
        // Blocks this write covers whole: a FUA write that reached the disk makes them clean.
        let mut whole = Vec::new();
        let mut failure = None;
        {
            let Some(mdl) = irp.mdl() else { return irp.complete(Status::INVALID_PARAMETER) };
            let data = &mdl.bytes()[..length];
            self.pieces(offset, length as u64, |block, within, range| {
                if failure.is_some() {
                    return;
                }
                if within == 0 && range.len() == self.block_len(block) {
                    whole.push(block);
                }
                if let Err(status) = self.write_piece(block, within, &data[range]) {
                    failure = Some(status);
                }
            });
        }
        if let Some(status) = failure {
            return irp.complete(status);
        }
        if fua {
            return self.write_fua(irp, &whole);
        }
        self.throttle();
        irp.complete_with(Status::SUCCESS, length as u64)
    }

    /// ForceUnitAccess: the request itself goes down with FUA, holding the pass lock so
    /// no write-back of an older copy of these blocks lands after it. (The cached
    /// blocks may have been written back without FUA and evicted meanwhile; only this
    /// write makes the data durable.)
    fn write_fua(&self, irp: Irp, whole: &[u64]) -> Status {
        let pass = self.pass.lock().unwrap_or_else(PoisonError::into_inner);
        let generations: Vec<(u64, u64)> = {
            let s = self.store();
            whole.iter().filter_map(|&b| s.get(b).map(|block| (b, block.generation))).collect()
        };
        let irp = irp.forward_synchronously(&self.lower);
        let st = irp.io_status();
        if st.status.is_success() {
            let mut s = self.store();
            for (block, generation) in generations {
                s.mark_clean(block, generation);
            }
        }
        // Completion runs the callers' routines: never while holding the pass lock (one
        // that sends a request back down this stack would wait for it forever).
        drop(pass);
        irp.complete_with(st.status, st.information)
    }

    /// Puts one block piece into the cache, reading the block first when the piece
    /// covers only part of a block that is not cached.
    fn write_piece(&self, block: u64, within: usize, data: &[u8]) -> Result<(), Status> {
        let whole = within == 0 && data.len() == self.block_len(block);
        loop {
            {
                let mut s = self.store();
                if s.write(block, within, data) {
                    return Ok(());
                }
                if whole {
                    s.insert(block, data.into(), true);
                    return Ok(());
                }
            }
            let filled = lower::read(&self.lower, block * self.block_size(), self.block_len(block))?;
            self.store().insert(block, filled, false);
        }
    }

    /// Writers wait at the dirty threshold by writing behind themselves.
    fn throttle(&self) {
        let over = {
            let mut s = self.store();
            if self.readers.load(Ordering::Acquire) == 0 {
                s.evict_to(self.options.size);
            }
            s.dirty_bytes.saturating_sub(self.options.dirty_threshold)
        };
        if over > 0 {
            self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            // Write down to 7/8 of the threshold so throttling does not happen on
            // every write.
            let target = over + self.options.dirty_threshold / 8;
            let blocks = target.div_ceil(self.block_size()) as usize;
            if let Err(status) = self.write_back(Some(blocks)) {
                tracing::warn!(%status, "cache: throttled write-behind failed");
            }
        }
    }

    fn write_through(&self, irp: Irp, offset: u64, length: usize) -> Status {
        let irp = irp.forward_synchronously(&self.lower);
        let mut s = self.store();
        self.pieces(offset, length as u64, |block, _, _| s.remove_clean(block));
        drop(s);
        let st = irp.io_status();
        irp.complete_with(st.status, st.information)
    }

    /// Discard and write-zeroes: cached copies of the range are superseded, then the
    /// request goes down, holding the pass lock so no older dirty data lands after it.
    pub(super) fn zero_range(&self, irp: Irp) -> Status {
        let (offset, length) = match BlockRequest::decode(&irp, &self.info) {
            Ok(r) => r.range(),
            Err(status) => return irp.complete(status),
        };
        let pass = self.pass.lock().unwrap_or_else(PoisonError::into_inner);
        {
            let mut s = self.store();
            self.pieces(offset, length, |block, within, range| {
                if within == 0 && range.len() == self.block_len(block) {
                    s.discard(block);
                } else {
                    let zeros = vec![0u8; range.len()];
                    // A cached partial block gets the zeroes too (and is written again later).
                    s.write(block, within, &zeros);
                }
            });
        }
        let irp = irp.forward_synchronously(&self.lower);
        drop(pass);
        let st = irp.io_status();
        irp.complete_with(st.status, st.information)
    }
}
