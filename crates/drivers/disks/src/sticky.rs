//! The sticky flush error (the flush contract's rule 4, after PostgreSQL's "fsyncgate"),
//! shared by the disks with a page cache below them: `file` (`fdatasync`) and `pmem` (`msync`).
//!
//! When writeback of a buffered (page-cache) file fails, Linux reports the error once, to
//! the next `fsync`/`fdatasync` on the file, and marks the failed pages *clean*: the data
//! is gone from the cache, and a later `fdatasync` that finds nothing dirty succeeds. A
//! retry therefore cannot recover it, and a flush that succeeded after a failed one would
//! claim durability for data that was dropped. So the first failure is remembered and
//! every later flush (and ForceUnitAccess write) of the disk fails with it, until the
//! disk is reopened — a new `FileDisk` — and whoever reopens it checks what is on disk.
//!
//! With `O_DIRECT` the data sits in the device's volatile write cache instead of the page
//! cache, and a failed `fdatasync` is a failed cache flush: the device may have dropped
//! what it could not write (ATA removes a failed sector from its cache and a repeated
//! FLUSH goes on with the rest), and nothing above this driver keeps a copy to write
//! again. The next flush could succeed without covering that data either, so the error
//! sticks there too — as PostgreSQL, which since fsyncgate treats every failed fsync as
//! fatal, does.
//!
//! `msync(MS_SYNC)` of a memory-mapped file (the `pmem` disk without MAP_SYNC) reports a
//! writeback error the same way: once, with the failed pages marked clean.

use std::sync::atomic::{AtomicI32, Ordering};

use irp::Status;

/// The first failed sync of a disk whose failed writeback cannot be retried.
#[derive(Debug, Default)]
pub(crate) struct StickyError {
    /// The errno of the first failure; 0 while there was none.
    errno: AtomicI32,
}

impl StickyError {
    /// A clean record (a newly opened disk).
    pub(crate) fn new() -> StickyError {
        StickyError { errno: AtomicI32::new(0) }
    }

    /// The error every flush must fail with, if one stuck.
    pub(crate) fn get(&self) -> Option<Status> {
        match self.errno.load(Ordering::Acquire) {
            0 => None,
            errno => Some(Status::from_errno(errno)),
        }
    }

    /// Feeds the outcome of a sync (`what`: `fdatasync`, `msync`): `Ok(())` or `Err(errno)`. Returns what
    /// the flush that asked for it must report: the stuck error if there is one (even if
    /// this sync succeeded), else this sync's own outcome.
    pub(crate) fn sync_result(&self, result: Result<(), i32>, what: &str) -> Result<(), Status> {
        if let Err(errno) = result {
            self.record(errno, what);
        }
        match self.get() {
            Some(stuck) => Err(stuck),
            None => result.map_err(Status::from_errno),
        }
    }

    /// A ForceUnitAccess write (`RWF_DSYNC`) failed with `errno`. The sync part of such a
    /// write may have consumed a writeback error, so it sticks like a failed `fdatasync` —
    /// unless the errno says the request was refused before any data was touched.
    pub(crate) fn fua_write_failed(&self, errno: i32) {
        if !matches!(errno, libc::EINVAL | libc::EFAULT | libc::EBADF) {
            self.record(errno, "write with RWF_DSYNC");
        }
    }

    fn record(&self, errno: i32, what: &str) {
        if errno == 0 {
            return;
        }
        if self.errno.compare_exchange(0, errno, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            tracing::error!(
                errno,
                status = %Status::from_errno(errno),
                "{what} failed: the data it covered may have been dropped, so every later flush \
                 fails until the disk is reopened"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_sync_sticks_until_reopen() {
        let sticky = StickyError::new();
        assert_eq!(sticky.sync_result(Ok(()), "fdatasync"), Ok(()));
        assert_eq!(sticky.get(), None);
        assert_eq!(sticky.sync_result(Err(libc::EIO), "fdatasync"), Err(Status::IO_DEVICE_ERROR));
        // The kernel marked the pages clean: the next fdatasync "succeeds". The flush must not.
        assert_eq!(sticky.sync_result(Ok(()), "fdatasync"), Err(Status::IO_DEVICE_ERROR));
        // A different later failure does not replace the first one.
        assert_eq!(sticky.sync_result(Err(libc::ENOSPC), "fdatasync"), Err(Status::IO_DEVICE_ERROR));
        assert_eq!(sticky.get(), Some(Status::IO_DEVICE_ERROR));
        // "Reopening" is a new record.
        assert_eq!(StickyError::new().sync_result(Ok(()), "fdatasync"), Ok(()));
    }

    #[test]
    fn fua_write_failures_stick_unless_refused_up_front() {
        let sticky = StickyError::new();
        sticky.fua_write_failed(libc::EINVAL);
        assert_eq!(sticky.get(), None);
        sticky.fua_write_failed(libc::ENOSPC);
        assert_eq!(sticky.get(), Some(Status::DISK_FULL));
        assert_eq!(sticky.sync_result(Ok(()), "fdatasync"), Err(Status::DISK_FULL));
    }

    #[test]
    fn concurrent_failures_keep_exactly_one() {
        let sticky = std::sync::Arc::new(StickyError::new());
        let threads: Vec<_> = [libc::EIO, libc::ENOSPC, libc::EROFS, libc::EDQUOT]
            .into_iter()
            .map(|errno| {
                let sticky = std::sync::Arc::clone(&sticky);
                std::thread::spawn(move || sticky.sync_result(Err(errno), "fdatasync").unwrap_err())
            })
            .collect();
        let seen: Vec<Status> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let stuck = sticky.get().unwrap();
        // Every flush reports the one error that stuck, whichever thread recorded it.
        assert!(seen.iter().all(|s| *s == stuck), "{seen:?} vs {stuck:?}");
        assert_eq!(sticky.sync_result(Ok(()), "fdatasync"), Err(stuck));
    }
}
