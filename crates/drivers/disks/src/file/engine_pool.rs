//! The thread-pool engine: N worker threads take requests from a queue and run each one
//! to completion with blocking system calls (`pread`, `pwrite`, `pwritev2`, `fdatasync`,
//! `fallocate`), then complete its IRP from the worker thread.
//!
//! A panic while a worker serves a request (a bug in a step, or in a completion routine
//! above) does not take the worker down: the request's IRP, unless its completion had
//! begun, completes with `STATUS_INTERNAL_ERROR`, and the worker takes the next one.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use irp::Condvar;
use irp::Status;

use super::op::{Backing, Progress, Request};
use super::sys;

/// A pool of worker threads serving one disk.
#[derive(Debug)]
pub(crate) struct PoolEngine {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    backing: Arc<Backing>,
    /// The disk's name (for messages).
    name: String,
}

#[derive(Debug, Default)]
struct Queue {
    requests: VecDeque<Request>,
    stop: bool,
}

impl PoolEngine {
    /// Starts `threads` workers (named after `name`) on `backing`.
    pub(crate) fn start(backing: Arc<Backing>, threads: usize, name: &str) -> io::Result<PoolEngine> {
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            ready: Condvar::new(),
            backing,
            name: name.to_owned(),
        });
        // Built up one thread at a time: if a spawn fails, dropping `engine` stops the others.
        let mut engine = PoolEngine { shared, workers: Vec::with_capacity(threads) };
        for i in 0..threads {
            let shared = Arc::clone(&engine.shared);
            let worker = thread::Builder::new().name(format!("{name}-io{i}")).spawn(move || shared.work())?;
            engine.workers.push(worker);
        }
        Ok(engine)
    }

    /// Queues `request`; a worker runs it and completes its IRP.
    pub(crate) fn submit(&self, request: Request) {
        self.shared.lock().requests.push_back(request);
        self.shared.ready.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A worker: runs requests until told to stop and the queue is empty.
    fn work(&self) {
        loop {
            let request = {
                let mut queue = self.lock();
                loop {
                    if let Some(request) = queue.requests.pop_front() {
                        break request;
                    }
                    if queue.stop {
                        return;
                    }
                    queue = self.ready.wait(queue);
                }
            };
            self.run_guarded(request);
        }
    }

    /// [`run`], except that a panic fails the request instead of ending the worker.
    fn run_guarded(&self, request: Request) {
        let mut slot = Some(request);
        let served = panic::catch_unwind(AssertUnwindSafe(|| run_in(&self.backing, &mut slot, &self.name)));
        if served.is_err() {
            tracing::error!(
                disk = %self.name,
                "a file disk I/O worker panicked serving a request; the request fails with STATUS_INTERNAL_ERROR"
            );
            if let Some(request) = slot.take() {
                request.irp.complete(Status::INTERNAL_ERROR);
            }
        }
    }
}

/// Runs one request to the end and completes its IRP; returns the status it completed
/// with.
pub(super) fn run(backing: &Backing, request: Request) -> Status {
    run_in(backing, &mut Some(request), "")
}

/// [`run`] on the request in `slot`, which stays there until its IRP is completed (so
/// that whoever catches a panic on the way can still complete it). `worker` names the
/// disk when a pool worker runs it ("" in the sender's thread).
fn run_in(backing: &Backing, slot: &mut Option<Request>, worker: &str) -> Status {
    let fd = backing.file.as_raw_fd();
    loop {
        let request = slot.as_mut().expect("the request stays in its slot until completed");
        let step = match request.machine.next(&mut request.irp) {
            Ok(step) => step,
            Err(status) => return slot.take().map_or(status, |r| r.irp.complete(status)),
        };
        if !worker.is_empty() {
            irp::testing::panics::panic_point("file-pool-worker", worker);
        }
        // SAFETY: `backing` (borrowed) keeps `fd` open. The step's buffer is the MDL of
        // `request.irp`, which this thread owns and leaves alone until the call returns
        // (or the static zero buffer).
        let result = unsafe { sys::execute(fd, &step) };
        match request.machine.advance(&mut request.irp, backing, result) {
            Progress::Again => {}
            Progress::Done(status, information) => {
                return slot.take().map_or(status, |r| r.irp.complete_with(status, information));
            }
        }
    }
}

impl Drop for PoolEngine {
    /// Stops the workers once the queue is empty and waits for them — except for the
    /// calling thread itself, when the last reference to the disk was dropped by a
    /// completion running on a worker: that worker finishes on its own.
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.ready.notify_all();
        let me = thread::current().id();
        for worker in self.workers.drain(..) {
            if worker.thread().id() == me {
                continue;
            }
            if worker.join().is_err() {
                tracing::error!("a file disk I/O worker panicked");
            }
        }
    }
}
