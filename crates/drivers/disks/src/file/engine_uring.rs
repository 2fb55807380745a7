//! The io_uring engine: one ring, owned by one thread that submits and reaps.
//!
//! Dispatch routines queue requests (a mutex-protected deque) and wake the ring thread
//! through an eventfd only when it sleeps. The thread takes as many requests as it has
//! free slots, pushes one SQE for each and hands them all to the kernel with one
//! `io_uring_enter` (batched submission), which also waits for the first completion. Each
//! in-flight request sits in a slot whose index is its SQE's `user_data`; when its CQE
//! arrives the request's [`Machine`](super::op::Machine) folds the result in and either
//! pushes the next SQE (the rest of a short transfer, a fallback, a final sync) or
//! completes the IRP from this thread.
//!
//! **Panics.** A panic while a CQE is handled (a bug in a step, or in a completion
//! routine above) fails that request with `STATUS_INTERNAL_ERROR` and the ring thread
//! goes on. If the ring thread unwinds anyway, it waits for what the kernel still holds
//! and fails it, fails everything queued, and from then on the engine fails every request
//! at once: no caller is left waiting.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use io_uring::{IoUring, opcode, squeue, types};

use super::op::{Backing, Progress, Request, Step};

/// `user_data` of the eventfd read that wakes the ring thread.
const WAKE: u64 = u64::MAX;

/// Why the engine could not start.
#[derive(Debug)]
pub(crate) enum StartError {
    /// The ring could not be set up: io_uring is unavailable.
    Ring(io::Error),
    /// The eventfd or the thread could not be created.
    Other(io::Error),
}

/// An io_uring serving one disk.
#[derive(Debug)]
pub(crate) struct UringEngine {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// An eventfd: written to wake the ring thread, read by an SQE it keeps armed.
    wake: OwnedFd,
    /// The disk's name (for messages).
    name: String,
}

#[derive(Debug, Default)]
struct Queue {
    requests: VecDeque<Request>,
    /// The ring thread waits for completions and will not look at the queue unless woken.
    sleeping: bool,
    stop: bool,
    /// The ring thread is gone (it panicked): requests fail at once.
    dead: bool,
}

impl UringEngine {
    /// Sets up a ring of `depth` entries (at most `depth` requests in flight) on
    /// `backing`, and its thread (named after `name`).
    pub(crate) fn start(backing: Arc<Backing>, depth: u32, name: &str) -> Result<UringEngine, StartError> {
        let ring = IoUring::new(depth).map_err(StartError::Ring)?;
        check_opcodes(&ring).map_err(StartError::Ring)?;
        // SAFETY: eventfd takes no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(StartError::Other(io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just returned by eventfd, is open, and nothing else owns it.
        let wake = unsafe { OwnedFd::from_raw_fd(fd) };
        let shared = Arc::new(Shared { queue: Mutex::default(), wake, name: name.to_owned() });
        let slots = depth as usize;
        let reactor = Reactor {
            ring,
            slots: (0..slots).map(|_| None).collect(),
            free: (0..slots).rev().collect(),
            wake_buf: Box::new(0),
            wake_armed: false,
            stopping: false,
            taken: VecDeque::with_capacity(slots),
            cqes: Vec::with_capacity(slots * 2),
            backing,
            shared: Arc::clone(&shared),
        };
        let thread = thread::Builder::new()
            .name(format!("{name}-uring"))
            .spawn(move || reactor.run())
            .map_err(StartError::Other)?;
        Ok(UringEngine { shared, thread: Some(thread) })
    }

    /// Queues `request`; the ring thread submits it and completes its IRP.
    pub(crate) fn submit(&self, request: Request) {
        let wake = {
            let mut queue = self.shared.lock();
            if queue.dead {
                drop(queue);
                request.irp.complete(irp::Status::INTERNAL_ERROR);
                return;
            }
            queue.requests.push_back(request);
            std::mem::take(&mut queue.sleeping)
        };
        if wake {
            self.shared.wake();
        }
    }
}

impl Drop for UringEngine {
    /// Lets the ring thread finish every queued and in-flight request, then waits for it
    /// — unless this is the ring thread itself (a completion dropped the last reference to
    /// the disk): it then finishes on its own.
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake();
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != thread::current().id()
            && thread.join().is_err()
        {
            tracing::error!("a file disk io_uring thread panicked");
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of the live local `one` to the eventfd this struct owns.
        let n = unsafe { libc::write(self.wake.as_raw_fd(), (&raw const one).cast(), 8) };
        if n != 8 {
            tracing::error!(error = %io::Error::last_os_error(), "cannot wake the io_uring thread");
        }
    }
}

/// The ring thread's state.
struct Reactor {
    /// Declared first so it is dropped first: the ring goes before the slots and the wake
    /// buffer its SQEs point into (see also `Drop for Reactor`).
    ring: IoUring,
    /// In-flight requests by `user_data`.
    slots: Vec<Option<Request>>,
    free: Vec<usize>,
    /// The eventfd read's buffer; boxed so it does not move while the read is in flight.
    wake_buf: Box<u64>,
    wake_armed: bool,
    stopping: bool,
    /// Requests taken from the queue, kept to reuse its allocation.
    taken: VecDeque<Request>,
    cqes: Vec<(u64, i32)>,
    backing: Arc<Backing>,
    shared: Arc<Shared>,
}

impl Reactor {
    fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn run(mut self) {
        loop {
            let idle = self.take_work();
            while let Some(request) = self.taken.pop_front() {
                let slot = self.free.pop().expect("take_work takes at most one request per free slot");
                self.issue(slot, request);
            }
            if self.stopping && idle && self.in_flight() == 0 && !self.wake_armed {
                return;
            }
            if !self.stopping && !self.wake_armed {
                self.arm_wake();
            }
            // One system call submits everything pushed since the last one and waits for
            // a completion: of I/O, or of the eventfd read when there is new work.
            if let Err(e) = self.ring.submit_and_wait(1)
                && !matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN | libc::EBUSY))
            {
                tracing::error!(error = %e, "io_uring_enter failed; retrying");
                thread::sleep(std::time::Duration::from_millis(1));
            }
            self.reap();
        }
    }

    /// Takes as many queued requests as there are free slots. Returns whether the queue
    /// is now empty (and then marks the thread sleeping: new work must wake it).
    fn take_work(&mut self) -> bool {
        let mut queue = self.shared.lock();
        self.stopping |= queue.stop;
        let n = self.free.len().min(queue.requests.len());
        self.taken.extend(queue.requests.drain(..n));
        let idle = queue.requests.is_empty();
        queue.sleeping = idle;
        idle
    }

    /// Pushes the next SQE of `request` into `slot`, or completes it.
    fn issue(&mut self, slot: usize, mut request: Request) {
        let step = match request.machine.next(&mut request.irp) {
            Ok(step) => step,
            Err(status) => {
                self.free.push(slot);
                request.irp.complete(status);
                return;
            }
        };
        let entry = sqe(types::Fd(self.backing.file.as_raw_fd()), &step).user_data(slot as u64);
        self.slots[slot] = Some(request);
        // SAFETY: the entry's buffer is the MDL of the IRP now held in `slots[slot]` (or
        // the static zero buffer). The slot keeps that IRP — and the MDL's heap buffer,
        // which moving the `Irp` does not move — untouched until this entry's CQE is
        // reaped, and `Drop for Reactor` leaks the slots if it never is. The fd is kept
        // open by `self.backing`, which outlives the ring.
        unsafe { self.push(&entry) };
    }

    fn arm_wake(&mut self) {
        let buf: *mut u64 = &raw mut *self.wake_buf;
        let entry =
            opcode::Read::new(types::Fd(self.shared.wake.as_raw_fd()), buf.cast(), 8).build().user_data(WAKE);
        self.wake_armed = true;
        // SAFETY: the read targets the boxed `wake_buf`, which does not move and is not
        // touched until the WAKE CQE is reaped (`Drop for Reactor` leaks it if it never
        // is); the eventfd is owned by `self.shared`, which outlives the ring.
        unsafe { self.push(&entry) };
    }

    /// Pushes one SQE, handing queued ones to the kernel first if the queue is full.
    ///
    /// # Safety
    ///
    /// Whatever memory and fds `entry` refers to must stay valid until its CQE is reaped.
    unsafe fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: forwarded from this function's contract.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return;
            }
            if let Err(e) = self.ring.submit()
                && !matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN | libc::EBUSY))
            {
                tracing::error!(error = %e, "io_uring_enter failed while the submission queue is full");
                thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }

    /// Takes every CQE and moves its request on.
    fn reap(&mut self) {
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.extend(self.ring.completion().map(|cqe| (cqe.user_data(), cqe.result())));
        for &(user_data, result) in &cqes {
            if user_data == WAKE {
                self.wake_armed = false;
                continue;
            }
            let slot = usize::try_from(user_data).unwrap_or(usize::MAX);
            let Some(request) = self.slots.get_mut(slot).and_then(Option::take) else {
                tracing::error!(user_data, "io_uring completion for an empty slot");
                continue;
            };
            // The request stays in `held` until its IRP is completed or issued again, so
            // that a panic on the way can still fail it.
            let mut held = Some(request);
            let moved_on = panic::catch_unwind(AssertUnwindSafe(|| {
                irp::testing::panics::panic_point("file-uring-reaper", &self.shared.name);
                let request = held.as_mut().expect("held until moved on");
                match request.machine.advance(&mut request.irp, &self.backing, result.into()) {
                    Progress::Again => {
                        let request = held.take().expect("held until moved on");
                        self.issue(slot, request);
                    }
                    Progress::Done(status, information) => {
                        self.free.push(slot);
                        let request = held.take().expect("held until moved on");
                        request.irp.complete_with(status, information);
                    }
                }
            }));
            if moved_on.is_err() {
                tracing::error!(
                    disk = %self.shared.name,
                    "the io_uring thread panicked handling a completion; the request fails with STATUS_INTERNAL_ERROR"
                );
                // The slot is free again unless the request went back in flight.
                if self.slots.get(slot).is_some_and(Option::is_none) && !self.free.contains(&slot) {
                    self.free.push(slot);
                }
                if let Some(request) = held.take() {
                    request.irp.complete(irp::Status::INTERNAL_ERROR);
                }
            }
        }
        cqes.clear();
        self.cqes = cqes;
    }
}

impl Drop for Reactor {
    /// `run` returns only when nothing is in flight. If it unwinds instead, the engine is
    /// marked dead (requests fail at once from now on), what is queued fails, and what the
    /// kernel still holds is waited for (for a while) and failed; whatever is still in
    /// flight after that is leaked rather than freed under the kernel.
    fn drop(&mut self) {
        if thread::panicking() {
            self.fail_everything();
        }
        if self.in_flight() > 0 || self.wake_armed {
            tracing::error!(
                in_flight = self.in_flight(),
                "io_uring thread ended with I/O in flight; leaking its buffers"
            );
            std::mem::forget(std::mem::take(&mut self.slots));
            std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
        }
    }
}

impl Reactor {
    /// The ring thread is going down with a panic: no request may be left waiting.
    fn fail_everything(&mut self) {
        tracing::error!(disk = %self.shared.name, "the io_uring thread panicked; its requests fail with STATUS_INTERNAL_ERROR");
        let queued: Vec<Request> = {
            let mut queue = self.shared.lock();
            queue.dead = true;
            queue.requests.drain(..).collect()
        };
        let fail = |request: Request| {
            // A completion routine that panics too must not turn this unwinding into an abort.
            let _ =
                panic::catch_unwind(AssertUnwindSafe(|| request.irp.complete(irp::Status::INTERNAL_ERROR)));
        };
        queued.into_iter().chain(self.taken.drain(..).collect::<Vec<_>>()).for_each(fail);
        if self.wake_armed {
            // Completes the eventfd read.
            self.shared.wake();
        }
        for _ in 0..1000 {
            if self.in_flight() == 0 && !self.wake_armed {
                break;
            }
            if self.ring.submit_and_wait(1).is_err() {
                thread::sleep(std::time::Duration::from_millis(1));
            }
            let cqes: Vec<u64> = self.ring.completion().map(|cqe| cqe.user_data()).collect();
            for user_data in cqes {
                if user_data == WAKE {
                    self.wake_armed = false;
                    continue;
                }
                let slot = usize::try_from(user_data).unwrap_or(usize::MAX);
                if let Some(request) = self.slots.get_mut(slot).and_then(Option::take) {
                    self.free.push(slot);
                    fail(request);
                }
            }
        }
    }
}

/// Fails unless the kernel supports every opcode this engine uses (Linux 5.6+).
fn check_opcodes(ring: &IoUring) -> io::Result<()> {
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe)?;
    let needed = [
        ("READ", opcode::Read::CODE),
        ("WRITE", opcode::Write::CODE),
        ("FSYNC", opcode::Fsync::CODE),
        ("FALLOCATE", opcode::Fallocate::CODE),
    ];
    match needed.iter().find(|(_, code)| !probe.is_supported(*code)) {
        Some((name, _)) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("the kernel's io_uring lacks IORING_OP_{name}"),
        )),
        None => Ok(()),
    }
}

/// The SQE for `step`.
fn sqe(fd: types::Fd, step: &Step) -> squeue::Entry {
    match *step {
        Step::Read { buf, len, offset } => opcode::Read::new(fd, buf, len).offset(offset).build(),
        Step::Write { buf, len, offset, dsync } => opcode::Write::new(fd, buf, len)
            .offset(offset)
            .rw_flags(if dsync { libc::RWF_DSYNC } else { 0 })
            .build(),
        Step::Sync => opcode::Fsync::new(fd).flags(types::FsyncFlags::DATASYNC).build(),
        Step::Fallocate { mode, offset, len } => {
            opcode::Fallocate::new(fd, len).offset(offset).mode(mode).build()
        }
    }
}
