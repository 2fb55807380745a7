//! The lazy writer: writes dirty blocks behind in the background, 1/`share` of them
//! every `interval` (the NT Cache Manager writes 1/8 of the dirty pages per scan).

use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};

use super::Inner;

/// Tells the lazy writer to stop.
#[derive(Debug, Default)]
pub(super) struct Control {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Control {
    pub(super) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }
}

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
                let (stopped, _) =
                    inner.lazy.wake.wait_timeout(stopped, interval).unwrap_or_else(PoisonError::into_inner);
                if *stopped {
                    return;
                }
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
