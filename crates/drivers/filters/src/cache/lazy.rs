//! The lazy writer: runs the rounds of queued flushes (see `flush.rs`), and writes dirty
//! blocks behind in the background, 1/`share` of them
//! every `interval` (the NT Cache Manager writes 1/8 of the dirty pages per scan) — and,
//! when writers push the dirty bytes past half the throttling threshold, at once and
//! until they are back under it, so that writers rarely reach the threshold and have to
//! write behind themselves (the Cache Manager's lazy writer also scans harder when the
//! dirty page count is high, and CcCanIWrite only holds writers back at the limit).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

use irp::Condvar;

use super::Inner;

/// Wakes or stops the lazy writer.
#[derive(Debug, Default)]
pub(super) struct Control {
    stopped: Mutex<bool>,
    wake: Condvar,
    /// Set by [`kick`](Self::kick), cleared by the lazy writer when it starts its pass.
    kicked: AtomicBool,
    /// Set by [`hand_flushes`](Self::hand_flushes): queued flushes need rounds.
    flushes: AtomicBool,
    /// Set by [`write_behind_soon`](Self::write_behind_soon): a small write found the
    /// cache clean; write everything dirty behind now.
    eager: AtomicBool,
    /// The lazy writer thread runs (and will look at `flushes`).
    alive: AtomicBool,
}

impl Control {
    pub(super) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Hands the queued flushes to the lazy writer, which runs rounds until none is
    /// left. Returns false when there is no lazy writer to take them (it could not be
    /// started, or has stopped): the caller runs them.
    pub(super) fn hand_flushes(&self) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        if *stopped || !self.alive.load(Ordering::Acquire) {
            return false;
        }
        self.flushes.store(true, Ordering::Release);
        self.wake.notify_all();
        drop(stopped);
        true
    }

    /// Asks for an eager write-behind pass now (`eager`): everything dirty is written
    /// below and the disk is asked to start its device writes, in the lazy writer's
    /// thread, so the writer that asked goes on at once. Returns false when there is no
    /// lazy writer to ask. Cheap when a pass is already asked for.
    pub(super) fn write_behind_soon(&self) -> bool {
        if !self.alive.load(Ordering::Acquire) {
            return false;
        }
        if !self.eager.swap(true, Ordering::AcqRel) {
            let _guard = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
            self.wake.notify_all();
        }
        true
    }

    /// Asks for a pass now (dirty bytes are high). Cheap when a pass is already asked for.
    pub(super) fn kick(&self) {
        if !self.kicked.swap(true, Ordering::AcqRel) {
            let _guard = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
            self.wake.notify_all();
        }
    }
}

/// If the lazy writer unwinds (it panicked), no flush may be left waiting for it: it is
/// marked gone — later flushes run their rounds in their callers' threads — and the
/// flushes queued for it fail with `STATUS_INTERNAL_ERROR`. (A flush whose round was
/// under way completes as its IRP is dropped: with the same status.)
struct FailOnPanic(Weak<Inner>);

impl Drop for FailOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Some(inner) = self.0.upgrade() else { return };
        tracing::error!(cache = %inner.name, "cache: the lazy writer panicked; its queued flushes fail with STATUS_INTERNAL_ERROR");
        {
            let _stopped = inner.lazy.stopped.lock().unwrap_or_else(PoisonError::into_inner);
            inner.lazy.alive.store(false, Ordering::Release);
        }
        inner.lazy.flushes.store(false, Ordering::Release);
        // A completion routine that panics too must not turn this into an abort.
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            inner.fail_queued_flushes(irp::Status::INTERNAL_ERROR);
        }));
        if failed.is_err() {
            tracing::error!(cache = %inner.name, "cache: failing the queued flushes panicked too");
        }
    }
}

/// Blocks per write-behind batch under pressure.
const PRESSURE_BATCH: usize = 1024;

/// Starts the lazy writer thread for `inner`; it holds a weak reference between its
/// rounds and ends when the cache is stopped or dropped (the cache's drop joins it).
pub(super) fn start(inner: &Arc<Inner>) -> Option<std::thread::JoinHandle<()>> {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let interval = inner.options.lazy_interval;
    let share = inner.options.lazy_share as usize;
    inner.lazy.alive.store(true, Ordering::Release);
    let spawned = std::thread::Builder::new().name("cache-lazy-writer".into()).spawn(move || {
        let _guard = FailOnPanic(weak.clone());
        let mut last_pass = Instant::now();
        loop {
            let Some(inner) = weak.upgrade() else { return };
            let lazy = &inner.lazy;
            let stopped = {
                let stopped = lazy.stopped.lock().unwrap_or_else(PoisonError::into_inner);
                let wait = interval.saturating_sub(last_pass.elapsed());
                let (stopped, _) = lazy
                    .wake
                    .wait_timeout_while(stopped, wait, |stopped| {
                        !*stopped
                            && !lazy.kicked.load(Ordering::Acquire)
                            && !lazy.flushes.load(Ordering::Acquire)
                            && !lazy.eager.load(Ordering::Acquire)
                    });
                if *stopped {
                    // No flush is handed over from now on (`hand_flushes` checks under
                    // this lock); serve those handed over before.
                    lazy.alive.store(false, Ordering::Release);
                }
                *stopped
            };
            if lazy.flushes.swap(false, Ordering::AcqRel) {
                irp::testing::panics::panic_point("cache-lazy-writer", &inner.name);
                inner.run_queued_flushes();
            }
            if stopped {
                return;
            }
            if lazy.eager.swap(false, Ordering::AcqRel) {
                inner.write_behind_eagerly();
            }
            if lazy.kicked.swap(false, Ordering::AcqRel) {
                // Under pressure: write behind until back under the low mark, serving
                // flushes handed over in between.
                while inner.over_low_mark() {
                    if let Err(status) = inner.write_back(Some(PRESSURE_BATCH)) {
                        tracing::warn!(%status, "cache: write-behind under pressure failed; blocks stay dirty");
                        break;
                    }
                    if lazy.flushes.swap(false, Ordering::AcqRel) {
                        inner.run_queued_flushes();
                    }
                }
                continue;
            }
            if last_pass.elapsed() < interval {
                continue;
            }
            last_pass = Instant::now();
            let dirty = inner.store().dirty_count();
            if dirty > 0 {
                let limit = dirty.div_ceil(share);
                if let Err(status) = inner.write_back(Some(limit)) {
                    tracing::warn!(%status, "cache: lazy write-behind failed; blocks stay dirty");
                }
            }
        }
    });
    match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            inner.lazy.alive.store(false, Ordering::Release);
            tracing::error!("cache: cannot start the lazy writer: {e}; flushes are served by their callers");
            None
        }
    }
}
