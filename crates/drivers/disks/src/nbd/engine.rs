//! The writer thread: takes queued requests in order, finds them a connection
//! (reconnecting when the last one was lost), and sends them.
//!
//! Dispatch only queues, so completion routines that send new requests from the
//! reader thread never wait on the socket. Flushes are served in queue order: every
//! write that completed before a flush was queued has been answered, so the server's
//! flush covers it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use irp::Status;

use super::conn::Connection;
use super::connect::connect;
use super::error::NbdError;
use super::plan::{Op, plan};
use super::shared::{Request, Shared, mark_nbd_thread};

/// The state of the writer thread.
#[derive(Debug)]
pub(super) struct Writer {
    shared: Arc<Shared>,
    current: Option<Arc<Connection>>,
    /// Connections that are retiring or over, until their reader ends.
    retired: Vec<Arc<Connection>>,
    /// The last failed reconnection: requests that arrived before it fail with its status.
    failure: Option<(u64, Status)>,
    /// Connections made so far (each has its number as generation).
    generations: u64,
}

impl Writer {
    pub(super) fn new(shared: Arc<Shared>, first: Arc<Connection>) -> Writer {
        let generations = first.generation;
        Writer { shared, current: Some(first), retired: Vec::new(), failure: None, generations }
    }

    /// The thread's body.
    pub(super) fn run(mut self) {
        mark_nbd_thread();
        while let Some(request) = self.next() {
            self.serve(request);
        }
        self.finish();
    }

    fn next(&self) -> Option<Request> {
        let mut q = self.shared.lock();
        loop {
            if !q.requests.is_empty() {
                irp::testing::panics::panic_point("nbd-client-writer", &self.shared.name);
            }
            if let Some(request) = q.requests.pop_front() {
                return Some(request);
            }
            if q.stop {
                return None;
            }
            q = self.shared.ready.wait(q);
        }
    }

    fn try_next(&self) -> Option<Request> {
        self.shared.lock().requests.pop_front()
    }

    /// Waits for a wake-up (a connection went idle or ended) or `at_most`; returns at
    /// once when requests are queued, unless `even_if_queued`.
    fn wait(&self, at_most: Duration, even_if_queued: bool) {
        let q = self.shared.lock();
        if even_if_queued || q.requests.is_empty() {
            let _ = self.shared.ready.wait_timeout(q, at_most);
        }
    }

    fn serve(&mut self, Request { irp, op, seq }: Request) {
        let conn = match self.connection_for(op, seq) {
            Ok(conn) => conn,
            Err(status) => {
                irp.complete(status);
                if let (Op::Shutdown, Some(c)) = (op, &self.current) {
                    c.retire();
                }
                return;
            }
        };
        let is_flush = matches!(op, Op::Flush | Op::Shutdown);
        if is_flush && conn.info.read_only() {
            irp.complete(Status::SUCCESS);
        } else {
            match plan(op, &conn.info) {
                Ok(plan) => conn.submit(irp, plan),
                Err(status) => {
                    irp.complete(status);
                }
            }
        }
        if op == Op::Shutdown {
            conn.retire();
        }
    }

    /// The connection `op` goes to; `Err(SUCCESS)` when a flush has nothing to do.
    fn connection_for(&mut self, op: Op, seq: u64) -> Result<Arc<Connection>, Status> {
        match op {
            Op::FlushAfter { generation, .. } => match &self.current {
                Some(c) if c.generation == generation && c.usable() => Ok(Arc::clone(c)),
                _ => Err(Status::CONNECTION_RESET),
            },
            Op::Flush | Op::Shutdown => self.flush_connection()?.ok_or(Status::SUCCESS),
            _ => self.connection(seq),
        }
    }

    /// The connection a flush goes to: `None` when there is nothing to flush (no live
    /// connection, and every earlier one ended with its writes flushed), an error when
    /// writes were lost. Waits (at most the timeout) for retiring connections to finish
    /// their last flush first.
    fn flush_connection(&mut self) -> Result<Option<Arc<Connection>>, Status> {
        self.retire_current();
        let deadline = deadline_after(self.shared.timeout);
        while self.retired.iter().any(|c| !c.settled()) && Instant::now() < deadline {
            self.wait(Duration::from_millis(10), true);
        }
        for c in &self.retired {
            if !c.settled() && c.unflushed() {
                self.shared.lose_writes("a retiring connection did not finish its last flush in time");
            }
        }
        // After `usable`: a connection is dead only once its lost writes are recorded.
        let conn = self.current.as_ref().filter(|c| c.usable()).cloned();
        if self.shared.lost_writes() {
            return Err(Status::CONNECTION_RESET);
        }
        Ok(conn)
    }

    /// Moves a current connection that takes no more requests to the retired ones, and
    /// forgets retired connections that are over.
    fn retire_current(&mut self) {
        if let Some(old) = self.current.take_if(|c| !c.usable()) {
            self.retired.push(old);
        }
        self.retired.retain(|c| {
            let done = c.settled() && c.reader_finished();
            if done {
                c.join_reader();
            }
            !done
        });
    }

    /// The live connection, or a new one. One attempt per request; requests that
    /// arrived before a failed attempt fail with its status without another.
    fn connection(&mut self, seq: u64) -> Result<Arc<Connection>, Status> {
        if let Some(c) = &self.current
            && c.usable()
        {
            return Ok(Arc::clone(c));
        }
        self.retire_current();
        if let Some((attempt, status)) = self.failure
            && seq < attempt
        {
            return Err(status);
        }
        let attempt = self.shared.lock().next_seq;
        match self.reconnect() {
            Ok(conn) => {
                tracing::info!(uri = %self.shared.uri, "{}: reconnected to {}", self.shared.name, self.shared.uri);
                self.failure = None;
                self.current = Some(Arc::clone(&conn));
                Ok(conn)
            }
            Err(e) => {
                let status = e.status();
                tracing::error!(uri = %self.shared.uri, "{}: {e}; the request fails with {status}", self.shared.name);
                self.failure = Some((attempt, status));
                Err(status)
            }
        }
    }

    fn reconnect(&mut self) -> Result<Arc<Connection>, NbdError> {
        let shared = &self.shared;
        let (stream, info) = connect(&shared.uri, shared.tls.as_ref(), shared.timeout)?;
        let was = shared.initial;
        let changed = |what: String| NbdError::ExportChanged { uri: shared.uri.clone(), what };
        if info.size != was.size {
            return Err(changed(format!("size {} bytes, was {}", info.size, was.size)));
        }
        if info.read_only() != was.read_only() || info.min_block() != was.min_block() {
            return Err(changed("read-only flag or minimum block size".to_owned()));
        }
        self.generations += 1;
        Connection::start(Arc::clone(shared), stream, info, self.generations)
            .map_err(|source| NbdError::Threads { uri: shared.uri.clone(), source })
    }

    /// The end: serve what is queued and wait for replies, disconnect softly, then
    /// hard; each wait bounded by the timeout.
    fn finish(mut self) {
        let deadline = deadline_after(self.shared.timeout);
        loop {
            while let Some(request) = self.try_next() {
                self.serve(request);
            }
            // In-flight first: a reply queues an emulated FUA's flush before it leaves.
            let busy = self.current.iter().chain(&self.retired).any(|c| c.busy());
            if !busy && self.shared.lock().requests.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(uri = %self.shared.uri, "{}: requests still in flight at close fail", self.shared.name);
                break;
            }
            self.wait(Duration::from_millis(10), false);
        }
        let conns: Vec<_> = self.current.take().into_iter().chain(self.retired.drain(..)).collect();
        for c in &conns {
            c.close();
        }
        let deadline = deadline_after(self.shared.timeout);
        while conns.iter().any(|c| !c.settled()) && Instant::now() < deadline {
            self.wait(Duration::from_millis(10), true);
        }
        for c in &conns {
            c.shut_down();
            c.join_reader();
        }
        while let Some(request) = self.try_next() {
            request.irp.complete(Status::CONNECTION_RESET);
        }
    }
}

impl Drop for Writer {
    /// The writer thread unwinds (it panicked): no request may be left waiting. What is
    /// queued fails, later requests are refused, and the connections are dropped, so that
    /// their readers fail what is in flight.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        tracing::error!(uri = %self.shared.uri, "{}: the NBD writer thread panicked; its requests fail with STATUS_INTERNAL_ERROR", self.shared.name);
        for c in self.current.iter().chain(&self.retired) {
            c.shut_down();
        }
        for request in self.shared.writer_died() {
            // A completion routine that panics too must not turn this into an abort.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                request.irp.complete(Status::INTERNAL_ERROR);
            }));
        }
    }
}

/// `now + after`, or the far future when that does not fit in an `Instant` (a timeout of
/// centuries, given in code: the spec parser refuses more than a year).
fn deadline_after(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after).or_else(|| now.checked_add(irp::units::MAX_DURATION)).unwrap_or(now)
}
