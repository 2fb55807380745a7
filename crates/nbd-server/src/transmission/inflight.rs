//! Bounding the requests in flight on one connection, and the ticket each request holds
//! until its reply is sent.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use nbd::consts::EIO;

use super::Shared;
use super::outgoing::{Outgoing, Reply};

/// Requests read but not answered yet, and their buffer bytes.
#[derive(Debug)]
pub(crate) struct Inflight {
    state: Mutex<Counts>,
    changed: Condvar,
    max_requests: usize,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Counts {
    requests: usize,
    bytes: usize,
}

impl Inflight {
    pub(crate) fn new(max_requests: usize, max_bytes: usize) -> Inflight {
        Inflight {
            state: Mutex::new(Counts::default()),
            changed: Condvar::new(),
            max_requests: max_requests.max(1),
            max_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for room for one more request of `bytes`, then counts it. A request is
    /// always let in when nothing else is in flight, whatever its size.
    fn acquire(&self, bytes: usize) {
        let mut counts = self.lock();
        while counts.requests > 0
            && (counts.requests >= self.max_requests || counts.bytes + bytes > self.max_bytes)
        {
            counts = self.changed.wait(counts).unwrap_or_else(PoisonError::into_inner);
        }
        counts.requests += 1;
        counts.bytes += bytes;
    }

    fn release(&self, bytes: usize) {
        let mut counts = self.lock();
        counts.requests -= 1;
        counts.bytes -= bytes;
        drop(counts);
        self.changed.notify_all();
    }

    /// Waits until every request was answered.
    pub(crate) fn wait_idle(&self) {
        let mut counts = self.lock();
        while counts.requests > 0 {
            counts = self.changed.wait(counts).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// One request in flight: answering it (exactly once) frees its place, once the reply
/// was sent.
///
/// A ticket dropped without a reply (a bug) answers `EIO`, so that the client is never
/// left waiting, and logs it.
#[derive(Debug)]
pub(crate) struct Ticket {
    pub(crate) shared: Arc<Shared>,
    cookie: u64,
    bytes: usize,
    answered: bool,
}

impl Ticket {
    /// Waits for room on the connection, then takes a place for a request of `bytes`.
    pub(crate) fn acquire(shared: &Arc<Shared>, cookie: u64, bytes: usize) -> Ticket {
        shared.inflight.acquire(bytes);
        Ticket { shared: Arc::clone(shared), cookie, bytes, answered: false }
    }

    /// Sends the reply. The ticket travels with it and frees the request's place when
    /// the reply is on the wire: a request counts as in flight until then.
    pub(crate) fn reply(mut self, reply: Reply) {
        self.answered = true;
        let shared = Arc::clone(&self.shared);
        let (cookie, structured) = (self.cookie, shared.writer.structured);
        shared.writer.send(Outgoing::encode(cookie, reply, structured, Some(self)));
    }

    /// Frees the place without a reply: the connection broke while the request was
    /// being read, and the request was not carried out.
    pub(crate) fn abandon(mut self) {
        self.answered = true;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.answered {
            tracing::error!(peer = %self.shared.peer, cookie = self.cookie, "a request was dropped without a reply; answering EIO");
            let reply = Reply::error(EIO, "internal error: request lost");
            let structured = self.shared.writer.structured;
            self.shared.writer.send(Outgoing::encode(self.cookie, reply, structured, None));
        }
        self.shared.inflight.release(self.bytes);
    }
}
