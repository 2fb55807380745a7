//! Flush coalescing (group commit): flushes that arrive while one is being carried out
//! wait, pending, for the next round, and one round — write every dirty block, then one
//! lower flush — serves them all. A round serves only flushes that arrived before it
//! started (DESIGN.md contract 5; QEMU's flush generations, the NT disk driver's flush
//! queue).
//!
//! Nobody blocks for a queued flush: its IRP is marked pending and its dispatch returns
//! at once. The caller that found no round running carries out the first round in its
//! own thread; rounds for the flushes queued meanwhile run on the cache's lazy-writer
//! thread, which completes their IRPs (so a dispatching thread never serves other
//! callers' flushes for long, and waiters are woken by their completion, not polled).

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard, PoisonError};

use irp::{FlushFlags, Irp};

#[derive(Debug)]
struct State<T> {
    /// A round is being carried out, or is handed over to be.
    running: bool,
    /// Flushes (pending) for the next round.
    waiting: Vec<T>,
}

/// The flushes (`T`: flush IRPs) waiting for a round, and whether one runs.
#[derive(Debug)]
pub(super) struct FlushQueue<T> {
    state: Mutex<State<T>>,
}

impl<T> Default for FlushQueue<T> {
    fn default() -> Self {
        FlushQueue { state: Mutex::new(State { running: false, waiting: Vec::new() }) }
    }
}

/// What a flush arriving at the queue is to do.
pub(super) enum Joined<T> {
    /// No round runs: the caller carries one out now, for this flush.
    Lead(T),
    /// Queued: a round that starts later completes it.
    Queued,
}

impl<T> FlushQueue<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A flush arrives: it leads a round now, or waits for the next one (`on_queue` runs
    /// on it first: the cache marks the IRP pending).
    pub(super) fn join(&self, mut flush: T, on_queue: impl FnOnce(&mut T)) -> Joined<T> {
        let mut s = self.lock();
        if s.running {
            on_queue(&mut flush);
            s.waiting.push(flush);
            return Joined::Queued;
        }
        s.running = true;
        Joined::Lead(flush)
    }

    /// A round ended. Returns the flushes queued meanwhile, which the next round serves
    /// (the queue stays running); when there are none, the queue is idle again.
    pub(super) fn next_group(&self) -> Vec<T> {
        let mut s = self.lock();
        let group = std::mem::take(&mut s.waiting);
        if group.is_empty() {
            s.running = false;
        }
        group
    }

    /// Nobody will run the next round (the lazy writer is gone): returns the flushes
    /// waiting for it, and the queue is idle.
    pub(super) fn abandon(&self) -> Vec<T> {
        let mut s = self.lock();
        s.running = false;
        std::mem::take(&mut s.waiting)
    }

    /// A round ended: with no flush waiting the queue is idle and this returns false;
    /// else it stays running and this returns true — the caller must see to a round for
    /// the waiting flushes ([`next_group`](Self::next_group) until it is empty).
    pub(super) fn finish_round(&self) -> bool {
        let mut s = self.lock();
        if s.waiting.is_empty() {
            s.running = false;
            return false;
        }
        true
    }
}

thread_local! {
    /// This thread is completing the flushes of a round (their completion routines run).
    static COMPLETING: Cell<bool> = const { Cell::new(false) };
}

/// Completes flushes with `complete`, noting that this thread does: a flush sent from one
/// of their completion routines (in this thread) runs a round of its own at once
/// ([`completing_a_round`]) instead of queueing behind the round this thread may be
/// running the queue for — waiting there would wait for itself.
pub(super) fn completing<R>(complete: impl FnOnce() -> R) -> R {
    let outer = COMPLETING.replace(true);
    let result = complete();
    COMPLETING.set(outer);
    result
}

/// Whether this thread is inside [`completing`].
pub(super) fn completing_a_round() -> bool {
    COMPLETING.get()
}

/// The flags one lower flush needs to serve every flush of `group`: theirs when they all
/// agree, else a full flush (which serves any).
pub(super) fn group_flags(group: &[Irp]) -> FlushFlags {
    common_flags(group.iter().map(Irp::flush_flags))
}

fn common_flags(mut flags: impl Iterator<Item = FlushFlags>) -> FlushFlags {
    let first = flags.next().unwrap_or_default();
    if flags.all(|f| f == first) { first } else { FlushFlags::Full }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_flush_leads_later_ones_queue_for_the_next_round() {
        let q = FlushQueue::default();
        let mut queued = Vec::new();
        assert!(matches!(q.join(1, |_| unreachable!("idle: it leads")), Joined::Lead(1)));
        assert!(matches!(q.join(2, |f| queued.push(*f)), Joined::Queued));
        assert!(matches!(q.join(3, |f| queued.push(*f)), Joined::Queued));
        assert_eq!(queued, [2, 3], "queued flushes are prepared (marked pending)");
        assert!(q.finish_round(), "two are waiting: still running");
        assert_eq!(q.next_group(), [2, 3]);
        // Still running (the next round is handed over): a newcomer queues.
        assert!(matches!(q.join(4, |_| {}), Joined::Queued));
        assert_eq!(q.next_group(), [4]);
        assert!(q.next_group().is_empty(), "nothing left: idle");
        assert!(matches!(q.join(5, |_| {}), Joined::Lead(5)));
        assert!(!q.finish_round(), "nobody waits: idle again");
        assert!(matches!(q.join(6, |_| {}), Joined::Lead(6)));
    }

    #[test]
    fn a_group_with_mixed_flags_gets_a_full_flush() {
        use FlushFlags::*;
        assert_eq!(common_flags([FileDataSyncOnly, FileDataSyncOnly].into_iter()), FileDataSyncOnly);
        assert_eq!(common_flags([FileDataSyncOnly, Full].into_iter()), Full);
        assert_eq!(common_flags([].into_iter()), Full);
    }
}
