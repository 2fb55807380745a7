//! The part of an IRP that outlives a move: cancel state, pending marks for the
//! verifier, and the rendezvous slots where a waiting thread receives the IRP.
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::condvar::Condvar;

use super::{IrpBody, MAX_STACK_SIZE};

type CancelRoutine = Box<dyn FnOnce() + Send>;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// State shared between an IRP and the threads that may cancel or wait for it.
pub(crate) struct IrpShared {
    id: AtomicU64,
    cancelled: AtomicBool,
    /// Whether `cancel_routine` may hold a routine (spares completion the lock).
    has_cancel_routine: AtomicBool,
    cancel_routine: Mutex<Option<CancelRoutine>>,
    /// Dispatch epochs: each watched dispatch starts a new one.
    epoch: AtomicU32,
    /// Per location, the epoch of its last `mark_pending` (0 = never).
    marks: [AtomicU32; MAX_STACK_SIZE],
    /// Where the final completion leaves the IRP for a synchronous originator.
    done: Slot,
    /// Where a forward-synchronously completion routine leaves the IRP.
    rendezvous: Slot,
}

impl std::fmt::Debug for IrpShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IrpShared")
            .field("id", &self.id())
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl IrpShared {
    pub(crate) fn new() -> IrpShared {
        IrpShared {
            id: AtomicU64::new(NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            cancelled: AtomicBool::new(false),
            has_cancel_routine: AtomicBool::new(false),
            cancel_routine: Mutex::new(None),
            epoch: AtomicU32::new(0),
            marks: [const { AtomicU32::new(0) }; MAX_STACK_SIZE],
            done: Slot::default(),
            rendezvous: Slot::default(),
        }
    }

    /// Prepares a shared block nobody else references for a new IRP.
    pub(crate) fn reset(&mut self) {
        *self.id.get_mut() = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        *self.cancelled.get_mut() = false;
        *self.has_cancel_routine.get_mut() = false;
        *self.cancel_routine.get_mut().unwrap_or_else(PoisonError::into_inner) = None;
        *self.epoch.get_mut() = 0;
        for m in &mut self.marks {
            *m.get_mut() = 0;
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id.load(Ordering::Relaxed)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn cancel(&self) -> bool {
        self.cancelled.store(true, Ordering::Release);
        let routine = lock(&self.cancel_routine).take();
        match routine {
            Some(r) => {
                r();
                true
            }
            None => false,
        }
    }

    pub(crate) fn set_cancel_routine(&self, routine: CancelRoutine) -> bool {
        let mut slot = lock(&self.cancel_routine);
        // Checked under the lock: `cancel` sets the flag before taking the routine,
        // so either it sees this routine or we see its flag.
        if self.is_cancelled() {
            return false;
        }
        *slot = Some(routine);
        self.has_cancel_routine.store(true, Ordering::Release);
        true
    }

    pub(crate) fn clear_cancel_routine(&self) {
        if self.has_cancel_routine.swap(false, Ordering::AcqRel) {
            lock(&self.cancel_routine).take();
        }
    }

    /// Starts watching a dispatch at some location: marks made from now on have an
    /// epoch at least as large as the one returned.
    pub(crate) fn begin_dispatch(&self) -> u32 {
        self.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    pub(crate) fn mark_pending(&self, index: usize) {
        let now = self.epoch.load(Ordering::Acquire);
        if let Some(m) = self.marks.get(index) {
            m.store(now, Ordering::Release);
        }
    }

    /// Whether location `index` was marked pending since `epoch` began.
    pub(crate) fn marked_since(&self, index: usize, epoch: u32) -> bool {
        self.marks.get(index).is_some_and(|m| m.load(Ordering::Acquire) >= epoch)
    }

    /// Whether a location below `index` was marked pending since `epoch` began.
    pub(crate) fn marked_below_since(&self, index: usize, epoch: u32) -> bool {
        self.marks.iter().skip(index + 1).any(|m| m.load(Ordering::Acquire) >= epoch)
    }

    pub(crate) fn done(&self) -> &Slot {
        &self.done
    }

    pub(crate) fn rendezvous(&self) -> &Slot {
        &self.rendezvous
    }
}

/// A one-element mailbox for an IRP body, with a condition variable.
#[derive(Default)]
pub(crate) struct Slot {
    body: Mutex<Option<Box<IrpBody>>>,
    ready: Condvar,
}

impl Slot {
    pub(crate) fn put(&self, body: Box<IrpBody>) {
        let mut slot = lock(&self.body);
        debug_assert!(slot.is_none(), "an IRP rendezvous slot was filled twice");
        *slot = Some(body);
        self.ready.notify_all();
    }

    /// Waits until the slot is filled and empties it.
    pub(crate) fn take_blocking(&self) -> Box<IrpBody> {
        let mut slot = lock(&self.body);
        loop {
            if let Some(body) = slot.take() {
                return body;
            }
            slot = self.ready.wait(slot);
        }
    }

    /// Empties the slot without waiting.
    #[cfg(test)]
    pub(crate) fn try_take(&self) -> Option<Box<IrpBody>> {
        lock(&self.body).take()
    }
}
