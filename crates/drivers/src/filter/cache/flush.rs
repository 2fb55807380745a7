//! Flush coalescing (group commit): concurrent flushes share one write-back and one
//! lower flush, as long as that flush *started* after they arrived (DESIGN.md contract
//! 5; QEMU's flush generations, the NT disk driver's flush queue).

use std::sync::{Condvar, Mutex, PoisonError};

use irp::Status;

#[derive(Debug, Default)]
struct State {
    /// Flushes started so far (the number of the latest one).
    started: u64,
    /// The latest finished flush and its result.
    finished: u64,
    result: Option<Status>,
    running: bool,
}

/// Serialises flushes and lets each one serve every caller that arrived before it
/// started.
#[derive(Debug, Default)]
pub(super) struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

impl GroupCommit {
    /// Returns the status of a flush that started after this call began: runs `flush`
    /// itself, or waits for one another caller runs.
    pub(super) fn run(&self, flush: impl FnOnce() -> Status) -> Status {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // Any flush numbered `need` or later started after we arrived.
        let need = s.started + 1;
        loop {
            if s.finished >= need {
                return s.result.unwrap_or(Status::SUCCESS);
            }
            if !s.running {
                s.running = true;
                s.started += 1;
                let mine = s.started;
                drop(s);
                let status = flush();
                s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                s.running = false;
                s.finished = mine;
                s.result = Some(status);
                self.done.notify_all();
                return status;
            }
            s = self.done.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn concurrent_flushes_share_runs_but_never_one_that_started_before_them() {
        let gc = Arc::new(GroupCommit::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (gc, runs) = (Arc::clone(&gc), Arc::clone(&runs));
                std::thread::spawn(move || {
                    gc.run(|| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        Status::SUCCESS
                    })
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), Status::SUCCESS);
        }
        let n = runs.load(Ordering::SeqCst);
        assert!((1..16).contains(&n), "16 flushes ran {n} times: no coalescing");
    }

    #[test]
    fn a_flush_arriving_during_a_run_waits_for_the_next_one() {
        let gc = Arc::new(GroupCommit::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let first = {
            let gc = Arc::clone(&gc);
            std::thread::spawn(move || {
                gc.run(|| {
                    tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                    Status::IO_DEVICE_ERROR
                })
            })
        };
        rx.recv().unwrap();
        // Arrives while the first flush runs: it must not take the first one's result.
        let second = gc.run(|| Status::SUCCESS);
        assert_eq!(first.join().unwrap(), Status::IO_DEVICE_ERROR);
        assert_eq!(second, Status::SUCCESS);
    }
}
