//! Page locking: the memory object MDLs share, with a lock count so that `mlock`/`munlock`
//! run once however many MDLs (a source and its partials) hold the pages locked.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{IoBuffer, MdlError};

#[cfg(test)]
mod tests;

/// The memory an MDL and its partial MDLs share through `Arc`.
#[derive(Debug)]
pub(super) struct Memory {
    pub(super) buf: IoBuffer,
    /// A process-unique number (never reused, unlike the buffer's address).
    pub(super) id: u64,
    /// How many MDLs currently hold the pages locked. The pages are `mlock`ed exactly while
    /// this is non-zero; the mutex is held across the system call so that a concurrent lock
    /// and unlock cannot interleave between the count change and the call.
    pins: Mutex<usize>,
}

impl Memory {
    pub(super) fn new(buf: IoBuffer) -> Memory {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Memory { buf, id: NEXT_ID.fetch_add(1, Ordering::Relaxed), pins: Mutex::new(0) }
    }

    /// Takes one lock reference, locking the pages if it is the first.
    pub(super) fn pin(&self) -> Result<(), MdlError> {
        let mut pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        if *pins == 0 {
            let (start, len) = self.buf.page_range();
            mlock(start, len)?;
        }
        *pins += 1;
        Ok(())
    }

    /// Takes one more lock reference on pages that are already locked.
    pub(super) fn pin_again(&self) {
        let mut pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        debug_assert!(*pins > 0, "pin_again on unlocked memory");
        *pins += 1;
    }

    /// Drops one lock reference, unlocking the pages if it was the last.
    pub(super) fn unpin(&self) {
        let mut pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        debug_assert!(*pins > 0, "unpin without pin");
        *pins = pins.saturating_sub(1);
        if *pins == 0 {
            let (start, len) = self.buf.page_range();
            munlock(start, len);
        }
    }
}

/// `mlock(2)` of `len` bytes at the page-aligned `start`, mapping failures to [`MdlError`].
fn mlock(start: *const u8, len: usize) -> Result<(), MdlError> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: mlock only changes the residency of the pages in [start, start+len), which the
    // caller's `IoBuffer` owns; it reads and writes no memory of ours. On a bad range it fails
    // with an error instead of misbehaving.
    let rc = unsafe { libc::mlock(start.cast(), len) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // EAGAIN/ENOMEM: the limit would be exceeded; EPERM: the limit is 0 without
        // CAP_IPC_LOCK.
        Some(libc::EAGAIN | libc::ENOMEM | libc::EPERM) => {
            Err(MdlError::LockLimit { requested: len, limit: memlock_limit() })
        }
        _ => Err(MdlError::Lock { requested: len, source: err }),
    }
}

/// `munlock(2)` of `len` bytes at the page-aligned `start`.
fn munlock(start: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    // SAFETY: as for `mlock`: munlock only changes residency of pages the `IoBuffer` owns.
    let rc = unsafe { libc::munlock(start.cast(), len) };
    if rc != 0 {
        tracing::warn!(
            error = %io::Error::last_os_error(),
            len,
            "munlock of an I/O buffer failed"
        );
    }
}

/// The soft `RLIMIT_MEMLOCK` in bytes, `u64::MAX` when unlimited or unknown.
pub(super) fn memlock_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid, writable `rlimit` that getrlimit fills in.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    if rc != 0 || lim.rlim_cur == libc::RLIM_INFINITY { u64::MAX } else { lim.rlim_cur }
}
