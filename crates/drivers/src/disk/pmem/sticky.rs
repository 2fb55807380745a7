//! The sticky `msync` error (the flush contract's rule 4).
//!
//! `msync(MS_SYNC)` reports a writeback error of the file once (it advances the file's error
//! sequence) and the kernel has marked the failed pages clean, so a retried `msync` finds
//! nothing to write and succeeds although the data is gone. The first failure is therefore
//! remembered, and every later flush and ForceUnitAccess write fails with it until the disk
//! is reopened — as the `file` disk does with `fdatasync`. (The file disk's `StickyError` is
//! private to its module, so this is the same small logic, for `msync`.)

use std::sync::atomic::{AtomicI32, Ordering};

use irp::Status;

/// The first failed `msync` of a disk; 0 while there was none.
#[derive(Debug, Default)]
pub(super) struct StickyError {
    errno: AtomicI32,
}

impl StickyError {
    /// The error every flush must fail with, if one stuck.
    pub(super) fn get(&self) -> Option<Status> {
        match self.errno.load(Ordering::Acquire) {
            0 => None,
            errno => Some(Status::from_errno(errno)),
        }
    }

    /// Feeds the outcome of an `msync` and returns what the request that asked for it must
    /// report: the stuck error if there is one (even if this `msync` succeeded), else this
    /// one's own outcome.
    pub(super) fn sync_result(&self, result: std::io::Result<()>) -> Result<(), Status> {
        if let Err(err) = &result {
            let errno = err.raw_os_error().unwrap_or(libc::EIO);
            if self.errno.compare_exchange(0, errno, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                tracing::error!(
                    errno,
                    status = %Status::from_errno(errno),
                    "msync failed on a pmem disk: the data it covered may have been dropped, so \
                     every later flush fails until the disk is reopened"
                );
            }
        }
        match self.get() {
            Some(stuck) => Err(stuck),
            None => result.map_err(|e| Status::from_io_error(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn the_first_failure_sticks() {
        let sticky = StickyError::default();
        assert_eq!(sticky.sync_result(Ok(())), Ok(()));
        assert_eq!(sticky.get(), None);
        let eio = io::Error::from_raw_os_error(libc::EIO);
        assert_eq!(sticky.sync_result(Err(eio)), Err(Status::IO_DEVICE_ERROR));
        assert_eq!(sticky.sync_result(Ok(())), Err(Status::IO_DEVICE_ERROR));
        let enospc = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(sticky.sync_result(Err(enospc)), Err(Status::IO_DEVICE_ERROR));
        assert_eq!(sticky.get(), Some(Status::IO_DEVICE_ERROR));
    }
}
