//! A condition variable whose notify costs nothing when no thread waits.
//!
//! `std::sync::Condvar` makes a `futex` system call on every `notify_one` /
//! `notify_all`, waiter or not. On the I/O paths (an IRP completed inline, a reply
//! sent, a request's place in flight freed) nobody is waiting nearly every time, and
//! those calls were a measurable part of an NBD write + flush round trip. This one
//! counts its waiters and skips the call when there are none.
//!
//! The rule that makes skipping safe is the usual one for condition variables: change
//! what the waiters test while holding the mutex they wait with (or take that mutex
//! once after changing it), then notify. A waiter counts itself while it holds the
//! mutex, before `wait` releases it, so a notifier that took the mutex after the waiter
//! tested sees the count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

/// A condition variable that skips the wake-up system call when nobody waits.
///
/// Poisoning is ignored: the guards come back whatever another thread did.
#[derive(Debug, Default)]
pub struct Condvar {
    inner: std::sync::Condvar,
    /// Threads inside a wait. Changed only while the waiter holds the mutex.
    waiters: AtomicUsize,
}

impl Condvar {
    /// A condition variable nobody waits on.
    pub const fn new() -> Condvar {
        Condvar { inner: std::sync::Condvar::new(), waiters: AtomicUsize::new(0) }
    }

    /// Releases `guard`'s mutex and waits for a notify (or a spurious wake-up).
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let guard = self.inner.wait(guard).unwrap_or_else(PoisonError::into_inner);
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        guard
    }

    /// Like [`wait`](Self::wait), for at most `timeout`; `true` when it timed out.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let (guard, result) = self.inner.wait_timeout(guard, timeout).unwrap_or_else(PoisonError::into_inner);
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        (guard, result.timed_out())
    }

    /// Waits while `condition` holds, for at most `timeout` in all; `true` when it
    /// timed out with `condition` still holding.
    pub fn wait_timeout_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, bool) {
        let start = std::time::Instant::now();
        while condition(&mut guard) {
            let Some(left) = timeout.checked_sub(start.elapsed()).filter(|left| !left.is_zero()) else {
                return (guard, true);
            };
            guard = self.wait_timeout(guard, left).0;
        }
        (guard, false)
    }

    /// Wakes one waiting thread, if any.
    pub fn notify_one(&self) {
        // Relaxed is enough: a waiter counted itself before releasing the mutex the
        // notifier took afterwards (see the module documentation).
        if self.waiters.load(Ordering::Relaxed) > 0 {
            self.inner.notify_one();
        }
    }

    /// Wakes every waiting thread, if any.
    pub fn notify_all(&self) {
        if self.waiters.load(Ordering::Relaxed) > 0 {
            self.inner.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::thread;

    use super::*;

    #[test]
    fn a_notify_without_waiters_is_skipped_and_a_waiter_is_woken() {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        pair.1.notify_all();
        assert_eq!(pair.1.waiters.load(Ordering::Relaxed), 0);
        let waiter = {
            let pair = Arc::clone(&pair);
            thread::spawn(move || {
                let mut ready = pair.0.lock().unwrap();
                while !*ready {
                    ready = pair.1.wait(ready);
                }
            })
        };
        // Set the flag under the mutex, then notify: the waiter either saw the flag or
        // was counted before we took the mutex.
        while pair.1.waiters.load(Ordering::Relaxed) == 0 {
            thread::yield_now();
        }
        *pair.0.lock().unwrap() = true;
        pair.1.notify_one();
        waiter.join().unwrap();
        assert_eq!(pair.1.waiters.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn many_rounds_of_handoff_never_lose_a_wakeup() {
        // Ping-pong a counter between two threads; a lost wake-up hangs the test.
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let other = {
            let pair = Arc::clone(&pair);
            thread::spawn(move || {
                for i in 0..20_000u32 {
                    let mut turn = pair.0.lock().unwrap();
                    while *turn != 2 * i + 1 {
                        turn = pair.1.wait(turn);
                    }
                    *turn += 1;
                    drop(turn);
                    pair.1.notify_all();
                }
            })
        };
        for i in 0..20_000u32 {
            let mut turn = pair.0.lock().unwrap();
            while *turn != 2 * i {
                turn = pair.1.wait(turn);
            }
            *turn += 1;
            drop(turn);
            pair.1.notify_all();
        }
        other.join().unwrap();
    }

    #[test]
    fn wait_timeout_while_times_out_when_the_condition_holds() {
        let (mutex, condvar) = (Mutex::new(()), Condvar::new());
        let (guard, timed_out) =
            condvar.wait_timeout_while(mutex.lock().unwrap(), Duration::from_millis(5), |_| true);
        assert!(timed_out);
        drop(guard);
        let (_guard, timed_out) =
            condvar.wait_timeout_while(mutex.lock().unwrap(), Duration::from_millis(5), |_| false);
        assert!(!timed_out);
    }
}
