//! The cache's data path: reads served from cached blocks or from below, writes into
//! cached blocks (read-filled when partial), write-through, discards.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use irp::{Completion, DeviceRef, InvokeOn, Irp, Status};

use super::store::Store;
use super::{CacheMode, Inner};
use irp::block::{BlockRequest, lower};

/// The completion context of a write around the cache (read misses carry their epoch,
/// which never gets this high).
pub(super) const WRITE_AROUND: usize = usize::MAX;

impl Inner {
    pub(super) fn read(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        let (offset, length) = match BlockRequest::decode(&irp, &self.info) {
            Ok(BlockRequest::Read { offset, length }) => (offset, length),
            Ok(_) => return irp.complete(Status::INVALID_PARAMETER),
            Err(status) => return irp.complete(status),
        };
        // Everything cached: serve it here.
        let epoch;
        {
            let mut s = self.store();
            let mut all = true;
            self.pieces(offset, length as u64, |block, _, _| all &= s.get(block).is_some());
            if all {
                let Some(buf) = irp.mdl_mut().and_then(irp::Mdl::bytes_mut) else {
                    return irp.complete(Status::INVALID_PARAMETER);
                };
                self.pieces(offset, length as u64, |block, within, range| {
                    let data = s.data(block).expect("checked above");
                    buf[range.clone()].copy_from_slice(&data[within..within + range.len()]);
                    s.touch(block);
                });
                drop(s);
                return irp.complete_with(Status::SUCCESS, length as u64);
            }
            // No block of the range may leave while the read below is in flight: the
            // overlay after it needs every block that was dirty when it started.
            s.begin_read(self.block_range(offset, length as u64));
            epoch = s.epoch();
        }
        // A miss goes down asynchronously; `read_done` overlays the cache when it
        // completes (in whatever thread completes it). The completion context is the
        // epoch the read started in.
        irp.copy_current_location_to_next();
        irp.set_completion_routine(device, epoch as usize, InvokeOn::ALWAYS);
        self.lower.call(irp)
    }

    /// The completion routine of a read miss: cached blocks (dirty ones are newer than
    /// the disk) replace what was read, and whole blocks read join the cache unless a
    /// write went around the cache since the read started (`epoch`): what was read may
    /// predate it.
    pub(super) fn read_done(&self, mut irp: Irp, epoch: u64) -> Completion {
        let status = irp.io_status().status;
        let irp::Parameters::Read { offset, length } = *irp.parameters() else {
            return Completion::Continue(irp);
        };
        let mut s = self.store();
        if status.is_success() {
            let current = s.epoch() == epoch;
            if let Some(buf) = irp.mdl_mut().and_then(irp::Mdl::bytes_mut) {
                self.pieces(offset, u64::from(length), |block, within, range| match s.data(block) {
                    Some(data) => buf[range.clone()].copy_from_slice(&data[within..within + range.len()]),
                    None if self.options.read_cache
                        && current
                        && within == 0
                        && range.len() == self.block_len(block) =>
                    {
                        s.insert(block, &buf[range], false);
                    }
                    None => {}
                });
            }
        }
        s.end_read(self.block_range(offset, u64::from(length)));
        s.evict_to(self.options.size);
        drop(s);
        Completion::Continue(irp)
    }

    pub(super) fn write(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        let (offset, length, fua) = match BlockRequest::decode(&irp, &self.info) {
            Ok(BlockRequest::Write { offset, length, fua }) => (offset, length, fua),
            Ok(_) => return irp.complete(Status::INVALID_PARAMETER),
            Err(status) => return irp.complete(status),
        };
        if self.options.mode == CacheMode::WriteThrough {
            return self.write_through(irp, offset, length);
        }
        if self.goes_around(offset, length) {
            match self.write_around(device, irp, offset, length) {
                Ok(status) => return status,
                Err(back) => irp = back,
            }
        }
        // Blocks this write covers whole: a FUA write that reached the disk makes them clean.
        let mut whole = Vec::new();
        let was_clean;
        {
            let Some(mdl) = irp.mdl() else { return irp.complete(Status::INVALID_PARAMETER) };
            let data = &mdl.bytes()[..length];
            // Every piece goes in under one lock, except parts of blocks that are not
            // cached: those are read first (without the lock), then written.
            let mut partial = Vec::new();
            {
                let mut s = self.store();
                was_clean = s.dirty_bytes == 0;
                self.pieces(offset, length as u64, |block, within, range| {
                    let is_whole = within == 0 && range.len() == self.block_len(block);
                    if is_whole {
                        whole.push(block);
                    }
                    let piece = &data[range.clone()];
                    let cached = s.write(block, within, piece) || (is_whole && s.insert(block, piece, true));
                    if !cached {
                        partial.push((block, within, range));
                    }
                });
            }
            for (block, within, range) in partial {
                if let Err(status) = self.write_piece(block, within, &data[range]) {
                    return irp.complete(status);
                }
            }
        }
        if fua {
            return self.write_fua(irp, &whole);
        }
        self.throttle();
        // A caller that waits for this write sends nothing else meanwhile: its thread
        // writes behind (and its crash tests stay deterministic). Any other sender goes on,
        // and the lazy writer writes behind for it.
        let caller_waits = irp.caller_waits();
        let status = irp.complete_with(Status::SUCCESS, length as u64);
        if was_clean
            && length as u64 <= self.options.eager
            && (caller_waits || !self.lazy.write_behind_soon())
        {
            self.write_behind_eagerly();
        }
        status
    }

    /// Writes the dirty blocks behind now, after a small write found the cache clean
    /// (`eager`): in the thread of a caller that waits for its write anyway, else in the
    /// lazy writer's (`lazy::Control::write_behind_soon`). The
    /// write has completed and its sender goes on, and the time until its next request —
    /// typically the flush that follows a small synchronous write — is spent writing, so
    /// that flush finds little left to write. The writer itself never waits for it: a
    /// sender with many writes in flight keeps sending while the lazy writer writes what
    /// they dirtied in batches (when the writer did this itself, a fast disk kept the cache
    /// clean, so every write wrote behind synchronously: a queue depth of one below). It
    /// does not wait while a flush round or another pass holds the write-back: those
    /// write the blocks anyway.
    pub(super) fn write_behind_eagerly(&self) {
        let pass = match self.pass.try_lock() {
            Ok(pass) => pass,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        self.counters.eager.fetch_add(1, Ordering::Relaxed);
        let written = self.write_back_holding(&pass, None);
        drop(pass);
        match written {
            // Asks the disk to start its device writes too (a flush without device
            // sync): the flush that follows then mostly waits for writes under way.
            Ok(()) => drop(lower::flush(&self.lower, irp::FlushFlags::NoSync)),
            Err(status) => tracing::warn!(%status, "cache: eager write-behind failed; the blocks stay dirty"),
        }
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

    /// Whether a write of `length` bytes at `offset` bypasses the cache: at least
    /// `bypass` bytes, starting and ending on block boundaries (or at the disk's end).
    fn goes_around(&self, offset: u64, length: usize) -> bool {
        let (bs, len) = (self.block_size(), length as u64);
        self.options.bypass > 0
            && len >= self.options.bypass
            && offset.is_multiple_of(bs)
            && ((offset + len).is_multiple_of(bs) || offset + len == self.info.size)
    }

    /// Write-around: the write goes down as it is (ForceUnitAccess included), unless
    /// one of its blocks is dirty — then it gives the IRP back to be cached like any
    /// write: the cache alone holds that acknowledged data, and a failed write-around
    /// must not lose it (the crash checker caught that with faults below). The clean
    /// cached copies of its blocks are dropped first, under the pass lock: no write-back
    /// of older data of these blocks is in flight then (a pass that copied some has
    /// finished), and later passes no longer see them. The IRP is sent after the lock is
    /// dropped, so completions never run under it; `write_around_done` drops what a read
    /// cached meanwhile.
    fn write_around(
        &self,
        device: &DeviceRef,
        mut irp: Irp,
        offset: u64,
        length: usize,
    ) -> Result<Status, Irp> {
        {
            let _pass = self.pass.lock().unwrap_or_else(PoisonError::into_inner);
            let mut s = self.store();
            let mut dirty = false;
            self.pieces(offset, length as u64, |block, _, _| dirty |= s.get(block).is_some_and(|b| b.dirty));
            if dirty {
                return Err(irp);
            }
            self.drop_clean(&mut s, offset, length as u64);
            s.begin_write_below(self.block_range(offset, length as u64));
        }
        self.counters.bypassed.fetch_add(1, Ordering::Relaxed);
        irp.copy_current_location_to_next();
        irp.set_completion_routine(device, WRITE_AROUND, InvokeOn::ALWAYS);
        Ok(self.lower.call(irp))
    }

    /// A write around the cache completed: a read that ran alongside it may have cached
    /// data from before it; those clean blocks go, and reads still in flight will not
    /// cache what they got (the epoch moves on).
    pub(super) fn write_around_done(&self, irp: Irp) -> Completion {
        if let irp::Parameters::Write { offset, length } = *irp.parameters() {
            let mut s = self.store();
            self.drop_clean(&mut s, offset, u64::from(length));
            s.end_write_below(self.block_range(offset, u64::from(length)));
        }
        Completion::Continue(irp)
    }

    /// Around a write below the cache: no clean copy of `offset..+len` read before it
    /// stays, and no read in flight caches what it read.
    fn drop_clean(&self, s: &mut Store, offset: u64, len: u64) {
        s.invalidate();
        self.pieces(offset, len, |block, _, _| s.remove_clean(block));
    }

    /// Puts one block piece into the cache, reading the block first when the piece
    /// covers only part of a block that is not cached. While a write around the cache
    /// is changing that block below, what is below may predate it: the piece is written
    /// down instead (the device orders the two writes; the block stays out of the cache).
    fn write_piece(&self, block: u64, within: usize, data: &[u8]) -> Result<(), Status> {
        let whole = within == 0 && data.len() == self.block_len(block);
        loop {
            let epoch = {
                let mut s = self.store();
                if s.write(block, within, data) {
                    return Ok(());
                }
                if whole {
                    s.insert(block, data, true);
                    return Ok(());
                }
                if s.written_below(block) {
                    drop(s);
                    return lower::write(&self.lower, block * self.block_size() + within as u64, data);
                }
                s.epoch()
            };
            let filled = lower::read(&self.lower, block * self.block_size(), self.block_len(block))?;
            let mut s = self.store();
            // A write around the cache meanwhile may have replaced what was read: read again.
            if s.epoch() == epoch {
                s.insert(block, &filled, false);
            }
        }
    }

    /// Past half the dirty threshold the lazy writer is woken to write behind; at the
    /// threshold, writers wait by writing behind themselves.
    fn throttle(&self) {
        let over = {
            let mut s = self.store();
            s.evict_to(self.options.size);
            if s.dirty_bytes > self.low_mark() {
                self.lazy.kick();
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
        self.store().invalidate();
        let irp = irp.forward_synchronously(&self.lower);
        self.drop_clean(&mut self.store(), offset, length as u64);
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
            s.invalidate();
            self.pieces(offset, length, |block, within, range| {
                if within == 0 && range.len() == self.block_len(block) {
                    s.discard(block);
                } else {
                    let zeros = vec![0u8; range.len()];
                    // A cached partial block gets the zeroes too (and is written again later).
                    s.write(block, within, &zeros);
                }
            });
            s.begin_write_below(self.block_range(offset, length));
        }
        let irp = irp.forward_synchronously(&self.lower);
        {
            let mut s = self.store();
            self.drop_clean(&mut s, offset, length);
            s.end_write_below(self.block_range(offset, length));
        }
        drop(pass);
        let st = irp.io_status();
        irp.complete_with(st.status, st.information)
    }
}
