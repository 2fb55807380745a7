//! The lazy writer: writes dirty blocks behind in the background, 1/`share` of them
//! every `interval` (the NT Cache Manager writes 1/8 of the dirty pages per scan) — and,
//! when writers push the dirty bytes past half the throttling threshold, at once and
//! until they are back under it, so that writers rarely reach the threshold and have to
//! write behind themselves (the Cache Manager's lazy writer also scans harder when the
//! dirty page count is high, and CcCanIWrite only holds writers back at the limit).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};

use super::Inner;

/// Wakes or stops the lazy writer.
#[derive(Debug, Default)]
pub(super) struct Control {
    stopped: Mutex<bool>,
    wake: Condvar,
    /// Set by [`kick`](Self::kick), cleared by the lazy writer when it starts its pass.
    kicked: AtomicBool,
}

impl Control {
    pub(super) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Asks for a pass now (dirty bytes are high). Cheap when a pass is already asked for.
    pub(super) fn kick(&self) {
        if !self.kicked.swap(true, Ordering::AcqRel) {
            let _guard = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
            self.wake.notify_all();
        }
    }
}

/// Blocks per write-behind batch under pressure.
const PRESSURE_BATCH: usize = 1024;

/// Starts the lazy writer thread for `inner`; it holds only a weak reference and ends
/// when the cache is stopped or dropped.
pub(super) fn start(inner: &Arc<Inner>) {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let interval = inner.options.lazy_interval;
    let share = inner.options.lazy_share as usize;
    let spawned = std::thread::Builder::new().name("cache-lazy-writer".into()).spawn(move || {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            {
                let stopped = inner.lazy.stopped.lock().unwrap_or_else(PoisonError::into_inner);
                let (stopped, _) = inner
                    .lazy
                    .wake
                    .wait_timeout_while(stopped, interval, |stopped| {
                        !*stopped && !inner.lazy.kicked.load(Ordering::Acquire)
                    })
                    .unwrap_or_else(PoisonError::into_inner);
                if *stopped {
                    return;
                }
            }
            if inner.lazy.kicked.swap(false, Ordering::AcqRel) {
                // Under pressure: write behind until back under the low mark.
                while inner.over_low_mark() {
                    if let Err(status) = inner.write_back(Some(PRESSURE_BATCH)) {
                        tracing::warn!(%status, "cache: write-behind under pressure failed; blocks stay dirty");
                        break;
                    }
                }
                continue;
            }
            let dirty = inner.store().dirty_count();
            if dirty > 0 {
                let limit = dirty.div_ceil(share);
                if let Err(status) = inner.write_back(Some(limit)) {
                    tracing::warn!(%status, "cache: lazy write-behind failed; blocks stay dirty");
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cache: cannot start the lazy writer: {e}");
    }
}
