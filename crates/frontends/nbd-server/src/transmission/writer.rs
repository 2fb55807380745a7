//! Sending replies without ever blocking the thread that completed the request.
//!
//! Completions run in whatever thread completed the IRP — sometimes inside a driver that
//! still holds a lock. So a completion never waits for the socket: under the connection's
//! write lock it tries one non-blocking `sendmsg` of the whole reply (header and data in
//! one call: the fast path, nearly always taken), and whatever does not fit goes to a queue
//! that this connection's writer thread sends with blocking writes. Replies never
//! interleave: the fast path is taken only when nothing is queued or being written.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use irp::Condvar;

use super::inflight::Inflight;
use super::outgoing::Outgoing;
use crate::listener::Stream;
use crate::sys;

/// How long a reply may make no progress before the connection is broken.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stalls {
    /// In any case ([`Limits::reply_timeout`](crate::Limits::reply_timeout)).
    pub(crate) reply_timeout: Duration,
    /// While the connection is in others' way ([`Limits::stall_timeout`](crate::Limits::stall_timeout)).
    pub(crate) stall_timeout: Duration,
}

impl Stalls {
    /// The socket's write timeout: how often a blocked write looks at the stall.
    pub(crate) fn poll(&self) -> Duration {
        (self.stall_timeout / 4)
            .min(self.reply_timeout)
            .clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// The write half of a connection.
#[derive(Debug)]
pub(crate) struct ReplyWriter {
    stream: Stream,
    fd: RawFd,
    state: Mutex<State>,
    wake: Condvar,
    pub(crate) structured: bool,
    peer: String,
    /// The export (test hooks name it).
    export: String,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Outgoing>,
    /// The writer thread is sending an entry it took from the queue.
    writing: bool,
    /// No more replies will come: the writer thread ends once the queue is empty.
    closing: bool,
    /// A write failed: replies are dropped, the socket is shut down.
    broken: bool,
}

impl ReplyWriter {
    pub(crate) fn new(stream: Stream, structured: bool, peer: &str, export: &str) -> ReplyWriter {
        let fd = stream.as_raw_fd();
        ReplyWriter {
            stream,
            fd,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            structured,
            peer: peer.to_owned(),
            export: export.to_owned(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a write failed: the connection is going away.
    pub(crate) fn is_broken(&self) -> bool {
        self.lock().broken
    }

    /// Sends `out` now if the socket takes it whole, else queues (the rest of) it for the
    /// writer thread. Never blocks on the socket.
    pub(crate) fn send(&self, mut out: Outgoing) {
        let mut state = self.lock();
        if state.broken {
            drop(state);
            return drop(out);
        }
        if state.queue.is_empty() && !state.writing {
            match sys::send_nonblocking(self.fd, &out.remaining()) {
                Ok(n) if out.advance(n) => {
                    drop(state);
                    return drop(out);
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
                Err(e) => {
                    let dropped = self.break_connection(&mut state, &e);
                    drop(state);
                    drop(dropped);
                    return drop(out);
                }
            }
        }
        state.queue.push_back(out);
        drop(state);
        self.wake.notify_one();
    }

    /// The writer thread: sends queued replies with blocking writes until
    /// [`ReplyWriter::close`] and the queue is empty. A reply that makes no progress for
    /// `stalls.reply_timeout` breaks the connection, and so does one stalled for
    /// `stalls.stall_timeout` while the connection is in others' way
    /// ([`Inflight::hogging`]).
    pub(crate) fn run(&self, stalls: Stalls, inflight: &Inflight) {
        let _guard = BreakOnPanic(self);
        let mut state = self.lock();
        loop {
            let Some(mut out) = state.queue.pop_front() else {
                if state.closing {
                    return;
                }
                state = self.wake.wait(state);
                continue;
            };
            state.writing = true;
            drop(state);
            let result = self.write_blocking(&mut out, stalls, inflight);
            drop(out);
            state = self.lock();
            state.writing = false;
            if let Err(e) = result {
                let dropped = self.break_connection(&mut state, &e);
                drop(state);
                drop(dropped);
                state = self.lock();
            }
        }
    }

    /// Writes `out` whole. The socket's write timeout is short ([`Stalls::poll`]): each
    /// time it passes without progress the stall is measured against the limits.
    fn write_blocking(&self, out: &mut Outgoing, stalls: Stalls, inflight: &Inflight) -> io::Result<()> {
        use std::io::Write;
        irp::testing::panics::panic_point("nbd-server-replies", &self.export);
        let mut progress = Instant::now();
        loop {
            match (&self.stream).write_vectored(&out.remaining()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) if out.advance(n) => return Ok(()),
                Ok(_) => progress = Instant::now(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    let stalled = progress.elapsed();
                    if stalled >= stalls.reply_timeout {
                        let message = format!("the client read nothing of its replies for {stalled:.1?}");
                        return Err(io::Error::new(io::ErrorKind::TimedOut, message));
                    }
                    if stalled >= stalls.stall_timeout && inflight.hogging() {
                        let message = format!(
                            "the client read nothing of its replies for {stalled:.1?} while holding more than \
                             its share of the server's bytes in flight, which other clients wait for"
                        );
                        return Err(io::Error::new(io::ErrorKind::TimedOut, message));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Marks the connection broken and shuts the socket down (the reader stops too);
    /// returns the queued replies, to be dropped outside the lock.
    fn break_connection(&self, state: &mut State, error: &io::Error) -> VecDeque<Outgoing> {
        if !state.broken {
            state.broken = true;
            tracing::warn!(peer = %self.peer, "closing the connection: cannot send a reply: {error}");
            self.stream.shutdown(std::net::Shutdown::Both);
        }
        std::mem::take(&mut state.queue)
    }

    /// No more replies: the writer thread ends when the queue is empty.
    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.wake.notify_all();
    }

    /// Shuts both directions down after the last reply.
    pub(crate) fn shutdown(&self) {
        self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// If the reply thread unwinds (it panicked), the connection breaks as on a failed write:
/// the socket is shut down, queued replies are dropped (freeing their requests' places)
/// and later ones too, so the connection's thread and the server's stop never wait for
/// replies nobody will send.
struct BreakOnPanic<'a>(&'a ReplyWriter);

impl Drop for BreakOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut state = self.0.lock();
            state.writing = false;
            let dropped = self.0.break_connection(&mut state, &io::Error::other("the reply thread panicked"));
            drop(state);
            drop(dropped);
        }
    }
}
