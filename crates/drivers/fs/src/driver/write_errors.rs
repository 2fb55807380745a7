//! Failed write-backs, reported once to every handle that was open when they failed
//! (Linux's `errseq_t`, after PostgreSQL's "fsyncgate"): the volume keeps a sequence of
//! failures; each open remembers how far it has seen. A flush (or a cleanup) reports a
//! failure the handle has not seen yet and moves its mark past it, so each handle open at
//! the time sees the failure exactly once, and a handle opened later does not see it.
//!
//! What counts: a flush sent below that failed (a lower cache could not write back, the
//! device could not sync), a commit of the journal that failed, the device flush of a
//! write-through write. The data below stays dirty where it is held (a cache keeps what it
//! could not write; the driver holds no file data of its own: it is written below before a
//! write completes).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use irp::Status;

/// The volume's write-back failures (`mapping->wb_err`).
#[derive(Debug, Default)]
pub struct WriteErrors {
    state: Mutex<Latest>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Latest {
    /// Failures so far.
    sequence: u64,
    /// The last one's status.
    status: Option<Status>,
}

/// How far one open has seen ([`WriteErrors::sample`] at its open; `file->f_wb_err`).
#[derive(Debug, Default)]
pub struct SeenErrors(AtomicU64);

impl WriteErrors {
    fn lock(&self) -> MutexGuard<'_, Latest> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a failed write-back (`errseq_set`).
    pub fn record(&self, status: Status) {
        let mut l = self.lock();
        l.sequence += 1;
        l.status = Some(status);
    }

    /// The mark of an open made now: it will see only failures after it.
    pub fn sample(&self) -> SeenErrors {
        SeenErrors(AtomicU64::new(self.lock().sequence))
    }

    /// Failures so far.
    pub fn count(&self) -> u64 {
        self.lock().sequence
    }

    /// The last failure `seen` has not seen, if any, moving its mark past it
    /// (`file_check_and_advance_wb_err`).
    pub fn check_and_advance(&self, seen: &SeenErrors) -> Option<Status> {
        let l = *self.lock();
        let before = seen.0.fetch_max(l.sequence, Ordering::AcqRel);
        if before < l.sequence { l.status } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_open_sees_a_failure_once_and_later_opens_never() {
        let e = WriteErrors::default();
        let (a, b) = (e.sample(), e.sample());
        assert_eq!(e.check_and_advance(&a), None);
        e.record(Status::IO_DEVICE_ERROR);
        let late = e.sample();
        assert_eq!(e.check_and_advance(&a), Some(Status::IO_DEVICE_ERROR));
        assert_eq!(e.check_and_advance(&a), None, "reported once");
        assert_eq!(e.check_and_advance(&late), None, "opened after the failure");
        e.record(Status::DISK_FULL);
        assert_eq!(e.check_and_advance(&b), Some(Status::DISK_FULL), "the latest of two unseen");
        assert_eq!(e.check_and_advance(&b), None);
        assert_eq!(e.check_and_advance(&late), Some(Status::DISK_FULL));
        assert_eq!(e.count(), 2);
    }
}
