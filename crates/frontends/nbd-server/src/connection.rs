//! One connection: its thread runs the handshake, then the transmission loop, then closes
//! its handle. The server keeps a registry of live connections — what phase each is in,
//! whether it is idle — to bound them, to make room, and to stop them.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::handshake::{self, HandshakeError, Outcome};
use crate::listener::Stream;
use crate::transmission;

/// What the registry knows of a connection, updated by its thread.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// [`HANDSHAKE`], [`TRANSMISSION`] or [`CLOSING`].
    phase: AtomicU8,
    /// Requests read and not answered yet.
    busy: AtomicUsize,
    /// When a request last arrived or was answered (milliseconds on [`clock`]).
    last_active: AtomicU64,
}

const HANDSHAKE: u8 = 0;
const TRANSMISSION: u8 = 1;
/// Chosen to make room: no longer counted as idle.
const CLOSING: u8 = 2;

/// Milliseconds since the first call in this process (a cheap, monotonic clock).
fn clock() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            phase: AtomicU8::new(HANDSHAKE),
            busy: AtomicUsize::new(0),
            last_active: AtomicU64::new(clock()),
        }
    }

    // Relaxed throughout: counters read for decisions that tolerate being a moment late.

    /// A request arrived.
    pub(crate) fn request_started(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.last_active.store(clock(), Ordering::Relaxed);
    }

    /// A request was answered (or given up).
    pub(crate) fn request_done(&self) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
        self.last_active.store(clock(), Ordering::Relaxed);
    }

    /// Whether requests are in flight.
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) > 0
    }

    /// How long it has been idle in transmission (`None`: busy, in the handshake, or
    /// already chosen to close).
    fn idle_for(&self) -> Option<Duration> {
        if self.phase.load(Ordering::Relaxed) != TRANSMISSION || self.is_busy() {
            return None;
        }
        let since = self.last_active.load(Ordering::Relaxed);
        Some(Duration::from_millis(clock().saturating_sub(since)))
    }
}

/// The live connections: a clone of each socket (to stop its reader), its state and its
/// thread.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    live: Mutex<HashMap<u64, Live>>,
}

#[derive(Debug)]
struct Live {
    control: Stream,
    peer: String,
    state: Arc<ConnState>,
    /// Taken when joined.
    thread: Option<JoinHandle<()>>,
}

/// How many connections there are, and how many of them are in the handshake.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Counts {
    pub(crate) total: usize,
    pub(crate) handshaking: usize,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn counts(&self) -> Counts {
        let live = self.lock();
        let handshaking =
            live.values().filter(|l| l.state.phase.load(Ordering::Relaxed) == HANDSHAKE).count();
        Counts { total: live.len(), handshaking }
    }

    /// Closes the connection idle longest, if one has been idle at least `min_idle`:
    /// it had nothing in flight, so its client loses nothing but the connection. Returns
    /// who it was and for how long it was idle.
    pub(crate) fn evict_idle(&self, min_idle: Duration) -> Option<(String, Duration)> {
        let live = self.lock();
        let (victim, idle) = live
            .values()
            .filter_map(|l| l.state.idle_for().map(|idle| (l, idle)))
            .filter(|(_, idle)| *idle >= min_idle)
            .max_by_key(|(_, idle)| *idle)?;
        victim.state.phase.store(CLOSING, Ordering::Relaxed);
        victim.control.shutdown(Shutdown::Both);
        Some((victim.peer.clone(), idle))
    }

    /// Starts the thread of connection `id`.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        id: u64,
        stream: Stream,
        peer: String,
        ctx: &Arc<Context>,
    ) -> io::Result<()> {
        let control = stream.try_clone()?;
        let state = Arc::new(ConnState::new());
        let (registry, ctx, thread_state) = (Arc::clone(self), Arc::clone(ctx), Arc::clone(&state));
        // Registered before the thread starts, so that the thread's own removal comes after.
        let mut live = self.lock();
        let thread_peer = peer.clone();
        let thread = std::thread::Builder::new().name(format!("nbd-conn-{id}")).spawn(move || {
            // A panic ends this connection only (its client sees it close), and its
            // place in the registry is given back either way.
            let served =
                panic::catch_unwind(AssertUnwindSafe(|| serve(stream, &thread_peer, &ctx, &thread_state)));
            registry.lock().remove(&id);
            if served.is_err() {
                tracing::error!(
                    peer = thread_peer,
                    "the connection's thread panicked; the connection was closed"
                );
            }
        })?;
        live.insert(id, Live { control, peer, state, thread: Some(thread) });
        Ok(())
    }

    /// Stops every connection: no more requests are read (the reader sees end of file),
    /// requests in flight are answered, handles closed. Connections that have not
    /// finished after `grace` — their clients do not read their replies — are closed:
    /// their unsent replies are dropped, and their requests still complete on the stacks
    /// (so a cache still holds every write it acknowledged to write back). Returns when
    /// all threads ended.
    pub(crate) fn stop_all(&self, grace: Duration) {
        let threads: Vec<(u64, JoinHandle<()>)> = self
            .lock()
            .iter_mut()
            .filter_map(|(id, live)| {
                live.control.shutdown(Shutdown::Read);
                live.thread.take().map(|t| (*id, t))
            })
            .collect();
        let deadline = Instant::now().checked_add(grace).unwrap_or_else(Instant::now);
        while threads.iter().any(|(_, t)| !t.is_finished()) && Instant::now() < deadline {
            crate::sys::set_stopping(self.describe("answering the requests in flight"));
            std::thread::sleep(Duration::from_millis(10));
        }
        let stuck: Vec<u64> = threads.iter().filter(|(_, t)| !t.is_finished()).map(|(id, _)| *id).collect();
        if !stuck.is_empty() {
            tracing::warn!(
                "{} of the connections did not finish within {grace:?} of the stop (their clients do \
                 not read their replies): closing them; their unsent replies are dropped, their \
                 requests still complete on the stacks",
                stuck.len()
            );
            let live = self.lock();
            for id in &stuck {
                if let Some(l) = live.get(id) {
                    l.control.shutdown(Shutdown::Both);
                }
            }
        }
        crate::sys::set_stopping(self.describe("waiting for the requests of closed connections to complete"));
        for (_, thread) in threads {
            if thread.join().is_err() {
                tracing::error!("a connection thread panicked");
            }
        }
    }

    /// `doing` on how many connections with how many requests in flight.
    fn describe(&self, doing: &str) -> String {
        let live = self.lock();
        let busy: usize = live.values().map(|l| l.state.busy.load(Ordering::Relaxed)).sum();
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        format!("{doing}: {} on {}", plural(busy, "request"), plural(live.len(), "connection"))
    }
}

/// The handshake's stream: every read and write may block only until the handshake's
/// deadline, however the client spreads its bytes.
struct Deadline<'a> {
    stream: &'a mut Stream,
    deadline: Instant,
    limit: Duration,
}

impl Deadline<'_> {
    /// The time left, or `TimedOut` once it is over.
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let message = format!("the handshake took longer than {:?}", self.limit);
            return Err(io::Error::new(io::ErrorKind::TimedOut, message));
        }
        Ok(left)
    }

    /// A read or write that blocked until the deadline reports `TimedOut`.
    fn timed_out(&self, e: io::Error) -> io::Error {
        if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
            return self.left().err().unwrap_or(e);
        }
        e
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            self.stream.set_read_timeout(Some(self.left()?))?;
            match self.stream.read(buf) {
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    // Woken early (the timer's granularity): try again until the deadline.
                    self.left()?;
                }
                other => return other.map_err(|e| self.timed_out(e)),
            }
        }
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.left()?))?;
        self.stream.write(buf).map_err(|e| self.timed_out(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket's write timeout in transmission: how often a blocked reply looks at its
/// stall (see [`transmission::Stalls`]).
fn stall_poll(limits: &crate::Limits) -> Duration {
    transmission::Stalls { reply_timeout: limits.reply_timeout, stall_timeout: limits.stall_timeout }.poll()
}

/// The connection thread: handshake, transmission, close.
fn serve(mut stream: Stream, peer: &str, ctx: &Context, state: &Arc<ConnState>) {
    tracing::info!(peer, "connected");
    let limit = ctx.limits.handshake_timeout;
    let deadline = Instant::now().checked_add(limit).unwrap_or_else(Instant::now);
    let entering = || {
        state.last_active.store(clock(), Ordering::Relaxed);
        state.phase.store(TRANSMISSION, Ordering::Relaxed);
    };
    let negotiated =
        handshake::negotiate(&mut Deadline { stream: &mut stream, deadline, limit }, ctx, peer, entering);
    let session = match negotiated {
        Ok(Outcome::Transmission(session)) => session,
        Ok(Outcome::Aborted) => {
            tracing::debug!(peer, "client ended the handshake (NBD_OPT_ABORT)");
            return;
        }
        Err(HandshakeError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            tracing::debug!(peer, "client closed the connection during the handshake");
            return;
        }
        Err(HandshakeError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
            tracing::warn!(peer, "closing the connection: {e}");
            return;
        }
        Err(e) => {
            tracing::warn!(peer, "closing the connection during the handshake: {e}");
            return;
        }
    };
    let export = session.export.name.clone();
    tracing::info!(peer, export = %export, structured = session.structured, "transmission");
    let setup = stream
        .set_read_timeout(ctx.limits.idle_timeout.filter(|t| !t.is_zero()))
        .and_then(|()| stream.set_write_timeout(Some(stall_poll(&ctx.limits))));
    if let Err(e) = setup {
        tracing::warn!(peer, "closing the connection: cannot set socket timeouts: {e}");
        return;
    }
    transmission::serve(stream, session, &ctx.limits, &ctx.bounds, peer, state);
    tracing::info!(peer, export = %export, "disconnected");
}
