//! `cache`: a write-back cache with internal buffers — the driver the flush contract
//! is about (DESIGN.md, "The flush contract").
//!
//! - **writeback** (default): writes land in cached blocks and complete; a lazy writer
//!   writes dirty blocks behind in the background (every `interval`, 1/`share` of
//!   them per pass, as the NT Cache Manager's lazy writer does); writers are throttled
//!   at `dirty` bytes; FUA writes are written through. A flush writes every dirty
//!   block, waits, forwards the flush, and completes after it. Concurrent flushes
//!   coalesce: one lower flush serves every flush that arrived before it started.
//!   Block-aligned writes of at least `bypass` bytes (1 MiB by default) go straight down
//!   instead (write-around) when none of their blocks is dirty; the clean cached copies
//!   are dropped first, and the following flush covers them like any write that
//!   completed below. While such a write (or a discard, or write-zeroes) is on its way
//!   down, a partial write into one of its blocks goes down too instead of filling the
//!   block from a disk that may still hold older data. A write of at most `eager` bytes (64 KiB) that finds no block
//!   dirty is written behind by the lazy writer as soon as it has completed, followed by
//!   a flush without device sync (a disk may start its device writes for it): a client
//!   that writes a little and then flushes — a database commit, an fsync after a small
//!   write — finds its flush with nothing left to write and its data already on the
//!   way to the device. The writer never waits for it: a sender with many writes in
//!   flight goes on sending while the lazy writer writes behind what they dirtied, in
//!   batches. A cache that stays dirty never takes this path.
//! - **writethrough**: every write goes down before it completes; the cache only
//!   serves reads.
//! - **unsafe**: flushes complete at once without writing anything (nbdkit's and
//!   QEMU's `unsafe`). Only when asked for by name, and logged loudly.
//!
//! Blocks become clean only after their write succeeded; a failed write leaves them
//! dirty to be retried, and the flush that needed them fails. Dirty blocks are never
//! evicted; clean ones go least recently used first when the cache exceeds `size`.
//!
//! The allocation query (`FSCTL_QUERY_ALLOCATED_RANGES`) answers what the device below
//! says plus every block the cache holds that is not below yet (`allocated.rs`): a hole
//! it reports reads as zeroes through the cache.

mod allocated;
mod flush;
mod lazy;
mod read_write;
mod runs;
mod slab;
mod store;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use irp::{Characteristics, DeviceBuilder, DeviceRef, Driver, Irp, Status};

use irp::block::{AllocationQuery, DiskInfo, lower};
use store::Store;

/// How the cache treats writes and flushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheMode {
    /// Writes complete when cached; flush writes them down.
    WriteBack,
    /// Writes complete when written below; reads are cached.
    WriteThrough,
    /// Flushes are ignored: data is written only by the lazy writer, throttling and
    /// shutdown. For tests and throw-away data only.
    Unsafe,
}

/// Cache settings.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// Bound on cached bytes (clean + dirty).
    pub size: u64,
    /// The mode.
    pub mode: CacheMode,
    /// Block size (a multiple of the lower sector size).
    pub block_size: u32,
    /// Keep blocks read from below.
    pub read_cache: bool,
    /// Lazy writer period.
    pub lazy_interval: Duration,
    /// The lazy writer writes 1/`lazy_share` of the dirty blocks per pass.
    pub lazy_share: u32,
    /// Writers wait (writing behind themselves) above this many dirty bytes.
    pub dirty_threshold: u64,
    /// Block-aligned writes of at least this many bytes go straight to the device below
    /// (write-around; bcache's "sequential cutoff"): bulk copies gain nothing from being
    /// cached, and skipping the cache saves two copies. 0: every write is cached.
    pub bypass: u64,
    /// A write of at most this many bytes that finds no block dirty is written behind
    /// by the lazy writer right after it completed (see the module documentation).
    /// 0: never.
    pub eager: u64,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            size: 256 << 20,
            mode: CacheMode::WriteBack,
            block_size: 4096,
            read_cache: true,
            lazy_interval: Duration::from_secs(1),
            lazy_share: 8,
            dirty_threshold: 192 << 20,
            bypass: 1 << 20,
            eager: 64 << 10,
        }
    }
}

/// Errors creating a cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A setting is out of range.
    #[error("cache: {0}")]
    Invalid(String),
    /// The lower device did not say its size.
    #[error("cache: the device below did not report its size: {0}")]
    LowerSize(#[source] Status),
    /// The device could not be built.
    #[error(transparent)]
    Device(#[from] irp::DeviceError),
}

/// Counters, updated while running.
#[derive(Debug, Default)]
pub(crate) struct CacheCounters {
    /// Flush IRPs received.
    pub(crate) flushes: AtomicU64,
    /// Flushes sent to the lower device.
    pub(crate) lower_flushes: AtomicU64,
    /// Blocks written below.
    pub(crate) blocks_written: AtomicU64,
    /// Block writes below that failed.
    pub(crate) write_errors: AtomicU64,
    /// Writes that had to write behind themselves (throttled).
    pub(crate) throttled: AtomicU64,
    /// Writes that went around the cache (at least `bypass` bytes).
    pub(crate) bypassed: AtomicU64,
    /// Eager write-behind passes (`eager`).
    pub(crate) eager: AtomicU64,
}

impl CacheCounters {
    fn snapshot(&self) -> CacheCounts {
        CacheCounts {
            flushes: self.flushes.load(Ordering::Relaxed),
            lower_flushes: self.lower_flushes.load(Ordering::Relaxed),
            blocks_written: self.blocks_written.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            bypassed: self.bypassed.load(Ordering::Relaxed),
            eager: self.eager.load(Ordering::Relaxed),
        }
    }
}

/// What the cache has counted so far (a snapshot: [`Cache::counters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Flush IRPs received.
    pub flushes: u64,
    /// Flushes sent to the lower device.
    pub lower_flushes: u64,
    /// Blocks written below.
    pub blocks_written: u64,
    /// Block writes below that failed.
    pub write_errors: u64,
    /// Writes that had to write behind themselves (throttled).
    pub throttled: u64,
    /// Writes that went around the cache (at least `bypass` bytes).
    pub bypassed: u64,
    /// Eager write-behind passes: small writes into a clean cache, written behind right
    /// after they completed (`eager`).
    pub eager: u64,
}

pub(crate) struct Inner {
    /// The cache device's name (for messages).
    name: String,
    options: CacheOptions,
    lower: DeviceRef,
    info: DiskInfo,
    store: Mutex<Store>,
    /// Serialises write-back passes, so two writes of the same block never race.
    pass: Mutex<()>,
    flushes: flush::FlushQueue<Irp>,
    lazy: lazy::Control,
    warned_unsafe: AtomicBool,
    counters: CacheCounters,
    /// The write-back passes' run buffers, kept between passes.
    run_buffers: runs::RunBuffers,
}

/// The cache driver.
pub struct Cache {
    inner: Arc<Inner>,
    /// The lazy writer, joined when the cache goes: it may hold `inner` (and so the disk
    /// below, and the disk's image lock) for the length of a pass.
    lazy_writer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

impl Cache {
    /// Creates a cache called `name` and attaches it on top of `lower`'s stack.
    pub fn create(name: &str, options: CacheOptions, lower: &DeviceRef) -> Result<DeviceRef, CacheError> {
        let lower = lower.attached_top();
        let size = lower::query_size(&lower).map_err(CacheError::LowerSize)?;
        let sector = lower.sector_size();
        let block = options.block_size;
        if block == 0 || !block.is_power_of_two() || !block.is_multiple_of(sector) {
            return Err(CacheError::Invalid(format!(
                "block size {block} must be a power of two and a multiple of the {sector}-byte sector"
            )));
        }
        if options.size < u64::from(block) {
            return Err(CacheError::Invalid(format!(
                "size {} is smaller than one {block}-byte block",
                options.size
            )));
        }
        if options.lazy_share == 0 {
            return Err(CacheError::Invalid("lazy share must be at least 1 (1/share per pass)".into()));
        }
        let mut options = options;
        options.dirty_threshold = options.dirty_threshold.clamp(u64::from(block), options.size);
        let mut characteristics = Characteristics::SHUTDOWN_NOTIFY | Characteristics::VOLATILE_CACHE;
        if options.mode == CacheMode::Unsafe {
            tracing::warn!(
                cache = name,
                "UNSAFE CACHE: flushes are ignored; data acknowledged by a flush can be lost on a crash"
            );
            characteristics = characteristics | Characteristics::UNSAFE_FLUSH;
        }
        let store = Store::new(block as usize, options.size);
        let inner = Arc::new(Inner {
            name: name.to_owned(),
            info: DiskInfo { size, sector_size: sector, volatile_cache: true, durable: true },
            options,
            lower: Arc::clone(&lower),
            store: Mutex::new(store),
            pass: Mutex::new(()),
            flushes: flush::FlushQueue::default(),
            lazy: lazy::Control::default(),
            warned_unsafe: AtomicBool::new(false),
            counters: CacheCounters::default(),
            run_buffers: runs::RunBuffers::default(),
        });
        // Also in write-through mode: it runs the queued flushes' rounds.
        let lazy_writer = lazy::start(&inner);
        let device = DeviceBuilder::new(name)
            .characteristics(characteristics)
            .attach(Cache { inner: Arc::clone(&inner), lazy_writer }, &lower)?;
        Ok(device)
    }

    /// What the cache has counted so far.
    pub fn counters(&self) -> CacheCounts {
        self.inner.counters.snapshot()
    }

    /// Bytes cached and bytes dirty.
    pub fn usage(&self) -> (u64, u64) {
        let s = self.inner.store();
        (s.bytes, s.dirty_bytes)
    }
}

impl Drop for Cache {
    /// Stops the lazy writer and waits for it (unless this runs on it), so that the
    /// stack below is gone when the cache is: its disk closed, its image unlocked.
    fn drop(&mut self) {
        self.inner.lazy.stop();
        if let Some(thread) = self.lazy_writer.take()
            && thread.thread().id() != std::thread::current().id()
            && thread.join().is_err()
        {
            tracing::error!("cache: the lazy writer panicked");
        }
    }
}

impl Inner {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn block_size(&self) -> u64 {
        u64::from(self.options.block_size)
    }

    fn block_len(&self, block: u64) -> usize {
        let start = block * self.block_size();
        (self.info.size - start).min(self.block_size()) as usize
    }

    /// The blocks `offset..offset + len` touches (`len` > 0).
    fn block_range(&self, offset: u64, len: u64) -> std::ops::RangeInclusive<u64> {
        offset / self.block_size()..=(offset + len.max(1) - 1) / self.block_size()
    }

    /// Calls `f(block, offset_in_block, range_in_request)` per block piece.
    fn pieces(&self, offset: u64, len: u64, mut f: impl FnMut(u64, usize, std::ops::Range<usize>)) {
        let bs = self.block_size();
        let mut done = 0;
        while done < len {
            let at = offset + done;
            let (block, within) = (at / bs, at % bs);
            let n = (bs - within).min(len - done);
            f(block, within as usize, done as usize..(done + n) as usize);
            done += n;
        }
    }

    /// Writes behind: up to `limit` dirty blocks (all if `None`), lowest first.
    /// Returns the first failure; failed blocks stay dirty.
    fn write_back(&self, limit: Option<usize>) -> Result<(), Status> {
        let pass = self.pass.lock().unwrap_or_else(PoisonError::into_inner);
        self.write_back_holding(&pass, limit)
    }

    /// [`write_back`](Self::write_back) by a caller that holds the pass lock.
    fn write_back_holding(&self, _pass: &MutexGuard<'_, ()>, limit: Option<usize>) -> Result<(), Status> {
        // Blocks per pass of writes in flight together (bounds the copies in memory).
        const BATCH: usize = 1024;
        let chosen = self.store().dirty_blocks(limit.unwrap_or(usize::MAX));
        let mut first_error = None;
        for batch in chosen.chunks(BATCH) {
            let writes = {
                let s = self.store();
                let blocks: Vec<(u64, u64)> = batch
                    .iter()
                    .filter_map(|&block| s.get(block).filter(|b| b.dirty).map(|b| (block, b.generation)))
                    .collect();
                runs::runs(&blocks, self.block_size(), &self.run_buffers, |block| s.data(block))
            };
            let mut writes = match writes {
                Ok(w) => w,
                Err(status) => {
                    first_error.get_or_insert(status);
                    break;
                }
            };
            let statuses = runs::write_all(&self.lower, &mut writes, &self.run_buffers);
            let mut s = self.store();
            for (w, status) in writes.iter().zip(statuses) {
                if status.is_success() {
                    for &(block, generation) in &w.blocks {
                        s.mark_clean(block, generation);
                    }
                    self.counters.blocks_written.fetch_add(w.blocks.len() as u64, Ordering::Relaxed);
                } else {
                    self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(offset = w.offset, blocks = w.blocks.len(), %status, "cache: write-behind failed; the blocks stay dirty");
                    first_error.get_or_insert(status);
                }
            }
            s.evict_to(self.options.size);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Half the throttling threshold: above it the lazy writer writes behind at once,
    /// until the dirty bytes are back under it.
    fn low_mark(&self) -> u64 {
        self.options.dirty_threshold / 2
    }

    /// Whether dirty bytes are above [`low_mark`](Self::low_mark).
    fn over_low_mark(&self) -> bool {
        self.store().dirty_bytes > self.low_mark()
    }

    fn flush(&self, irp: Irp) -> Status {
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        if self.options.mode == CacheMode::Unsafe {
            if !self.warned_unsafe.swap(true, Ordering::Relaxed) {
                tracing::warn!("UNSAFE CACHE: a flush was ignored (mode=unsafe); nothing was written");
            }
            return irp.complete(Status::SUCCESS);
        }
        let flags = irp.flush_flags();
        if !flags.syncs_device() {
            // No device sync: nothing to coalesce. The same flush goes below (a disk may
            // start its device writes for it).
            return irp.complete(self.flush_everything(flags));
        }
        if flush::completing_a_round() {
            // Sent from a flush's completion routine: a round of its own, now.
            let status = self.flush_everything(flags);
            return flush::completing(|| complete_flush(irp, status));
        }
        let irp = match self.flushes.join(irp, Irp::mark_pending) {
            flush::Joined::Lead(irp) => irp,
            flush::Joined::Queued => return Status::PENDING,
        };
        let status = self.flush_everything(flags);
        // Flushes that arrived during this round get the next one: on the lazy writer,
        // or in this thread when there is none.
        if self.flushes.finish_round() && !self.lazy.hand_flushes() {
            self.run_queued_flushes();
        }
        flush::completing(|| complete_flush(irp, status))
    }

    /// Fails the flushes queued now with `status` without running a round (the lazy
    /// writer that was to run them panicked); the queue is idle at once, so flushes that
    /// arrive meanwhile lead rounds of their own.
    pub(super) fn fail_queued_flushes(&self, status: Status) {
        let group = self.flushes.abandon();
        flush::completing(|| {
            for irp in group {
                irp.complete(status);
            }
        });
    }

    /// Runs rounds for the queued flushes until none is left (the queue is then idle).
    pub(super) fn run_queued_flushes(&self) {
        loop {
            let group = self.flushes.next_group();
            if group.is_empty() {
                return;
            }
            self.flush_group(group);
        }
    }

    /// One round for `group`: every dirty block written, one lower flush, then each
    /// flush of the group completed with the result.
    fn flush_group(&self, group: Vec<Irp>) {
        let status = self.flush_everything(flush::group_flags(&group));
        flush::completing(|| {
            for irp in group {
                complete_flush(irp, status);
            }
        });
    }

    /// A flush's work (a round's, or a NoSync flush's): write every dirty block, then
    /// send the flush (`flags`) to the device below.
    fn flush_everything(&self, flags: irp::FlushFlags) -> Status {
        let written = self.write_back(None);
        self.counters.lower_flushes.fetch_add(1, Ordering::Relaxed);
        let lower = lower::flush(&self.lower, flags);
        match written {
            Err(status) => status,
            Ok(()) => lower,
        }
    }

    fn shutdown(&self, irp: Irp) -> Status {
        let written = self.write_back(None);
        let irp = irp.forward_synchronously(&self.lower);
        let lower = irp.io_status().status;
        irp.complete(written.err().unwrap_or(lower))
    }
}

/// Completes a flush that a round served with `status`.
fn complete_flush(mut irp: Irp, status: Status) -> Status {
    if status.is_success() {
        irp.mark_flush_covered();
    }
    irp.complete(status)
}

impl Driver for Cache {
    fn read(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.inner.read(device, irp)
    }
    /// A read miss came back from below.
    /// A read miss (context: the epoch it started in) or a write around the cache
    /// came back from below.
    fn completion(&self, _: &DeviceRef, irp: Irp, context: usize) -> irp::Completion {
        if context == read_write::WRITE_AROUND {
            return self.inner.write_around_done(irp);
        }
        self.inner.read_done(irp, context as u64)
    }
    fn write(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.inner.write(device, irp)
    }
    fn discard(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.inner.zero_range(irp)
    }
    fn write_zeroes(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.inner.zero_range(irp)
    }
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.inner.flush(irp)
    }
    fn shutdown(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.inner.shutdown(irp)
    }
    /// The allocation query adds the blocks the cache holds to the answer from below
    /// (`allocated.rs`); other controls go down.
    fn device_control(&self, device: &DeviceRef, irp: Irp) -> Status {
        match AllocationQuery::decode(&irp, self.inner.info.size) {
            None => irp::default_dispatch(device, irp),
            Some(Err(status)) => irp.complete(status),
            Some(Ok(query)) => self.inner.query_allocated(irp, query),
        }
    }
}
