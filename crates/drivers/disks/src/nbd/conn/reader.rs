//! The reader thread of a connection: matches replies to requests by cookie, fills
//! read data into MDLs, completes IRPs, and fails everything in flight when the
//! connection ends.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use irp::{Irp, Mdl, Status};

use super::{Connection, INTERNAL, complete};
use crate::nbd::error::status_from_nbd_error;
use crate::nbd::shared::mark_nbd_thread;
use crate::nbd::stream::Watch;
use nbd::consts::{CMD_FLUSH, CMD_TRIM, CMD_WRITE, CMD_WRITE_ZEROES, ESHUTDOWN, SIMPLE_REPLY_LEN};
use nbd::transmission::{SimpleReply, decode_simple_reply};

impl Connection {
    /// The reader thread.
    pub(super) fn read_replies(self: Arc<Self>) {
        mark_nbd_thread();
        let _guard = FailOnPanic(&self);
        let mut header = [0; SIMPLE_REPLY_LEN];
        let mut watch = Unanswered { conn: &self, since: None, fresh: false };
        let (why, status) = loop {
            if let Err(e) = self.stream.read_exact_watched(&mut header, &mut watch) {
                break lost(e, "reading a reply failed");
            }
            let reply = match decode_simple_reply(&header) {
                Ok(reply) => reply,
                Err(e) => {
                    break (format!("the server sent a bad reply header: {e}"), Status::CONNECTION_RESET);
                }
            };
            irp::testing::panics::panic_point("nbd-client-reader", &self.shared.name);
            if let Err(lost) = self.on_reply(reply, &mut watch) {
                break lost;
            }
        };
        if status == Status::IO_TIMEOUT {
            // The server may still be there: it is told, and a send blocked on it ends.
            self.shut_down();
        }
        self.fail_all(&why, status);
    }

    /// Whether requests are in flight (the server owes an answer).
    fn owed(&self) -> bool {
        let s = self.lock();
        !s.parts.is_empty() || !s.pending.is_empty()
    }

    fn on_reply(&self, reply: SimpleReply, watch: &mut Unanswered<'_>) -> Result<(), (String, Status)> {
        let mut s = self.lock();
        let Some(part) = s.parts.remove(&reply.cookie) else {
            let why = format!("the server answered an unknown cookie {:#x}", reply.cookie);
            return Err((why, Status::CONNECTION_RESET));
        };
        let mut status = status_from_nbd_error(reply.error, part.command);
        if let (Some((offset, len)), 0) = (part.read, reply.error) {
            let mut irp = s.pending.get_mut(&part.id).and_then(|p| p.irp.take());
            drop(s);
            let received = self.receive_data(irp.as_mut(), offset, len, watch);
            s = self.lock();
            if let Some(p) = s.pending.get_mut(&part.id) {
                p.irp = irp.take();
            }
            if let Some(orphan) = irp {
                drop(s);
                orphan.complete(Status::CONNECTION_RESET); // unreachable: reads stay in the table
                s = self.lock();
            }
            status = received.map_err(|e| lost(e, "reading the data of a reply failed"))?;
        }
        if reply.error == ESHUTDOWN && !s.retiring {
            tracing::warn!(uri = %self.shared.uri, "the NBD server is shutting down; disconnecting");
            s.retiring = true;
        }
        if status.is_success() {
            if matches!(part.command, CMD_WRITE | CMD_TRIM | CMD_WRITE_ZEROES) && !part.fua {
                s.acked_writes += 1;
            }
            if part.command == CMD_FLUSH {
                s.flushed_upto = s.flushed_upto.max(part.covers);
            }
        }
        let mut done = None;
        if part.id == INTERNAL {
            if !status.is_success() {
                self.shared.lose_writes(&format!("the flush before disconnecting failed with {status}"));
            }
        } else if let Some(p) = s.pending.get_mut(&part.id) {
            p.parts_left -= 1;
            if !status.is_success() && p.status.is_success() {
                p.status = status;
            }
            done = self.settle(&mut s, part.id);
        }
        let step = self.next_step(&mut s);
        drop(s);
        complete(done);
        self.take_step(step);
        Ok(())
    }

    /// Reads a reply's data into the IRP's MDL (or drops it when there is nowhere to
    /// put it, failing the request).
    fn receive_data(
        &self,
        irp: Option<&mut Irp>,
        offset: usize,
        len: u32,
        watch: &mut Unanswered<'_>,
    ) -> io::Result<Status> {
        let end = offset + len as usize;
        match irp.and_then(Irp::mdl_mut).and_then(Mdl::bytes_mut).and_then(|b| b.get_mut(offset..end)) {
            Some(buf) => self.stream.read_exact_watched(buf, watch).map(|()| Status::SUCCESS),
            None => self.stream.skip(len.into(), watch).map(|()| Status::INVALID_PARAMETER),
        }
    }

    /// The connection is over: fails everything in flight with `status` (unless it
    /// already failed).
    fn fail_all(&self, why: &str, status: Status) {
        let mut s = self.lock();
        let expected = s.closing || s.disc_sent;
        if !expected && s.acked_writes > s.flushed_upto {
            // Under the state lock: the writer sees `dead` only with this already set.
            self.shared.lose_writes(&format!("the connection was lost ({why})"));
        }
        s.dead = true;
        s.parts.clear();
        let in_flight = s.pending.len();
        for p in s.pending.values_mut() {
            p.parts_left = 0;
            if p.status.is_success() {
                p.status = status;
            }
        }
        let ready: Vec<u64> = s.pending.iter().filter(|(_, p)| p.irp.is_some()).map(|(&id, _)| id).collect();
        let failed: Vec<_> = ready.into_iter().filter_map(|id| self.settle(&mut s, id)).collect();
        drop(s);
        let uri = &self.shared.uri;
        if expected {
            tracing::debug!(%uri, "NBD connection closed: {why}");
        } else {
            tracing::error!(
                %uri,
                "NBD connection to {uri} lost: {why}; {in_flight} requests in flight fail with \
                 {status}; the next request reconnects"
            );
        }
        for done in failed {
            complete(Some(done));
        }
        self.shared.wake();
    }
}

/// Fails what the connection has in flight if the reader thread unwinds: the connection
/// is dead, its requests fail with `STATUS_INTERNAL_ERROR`, and the next one reconnects.
struct FailOnPanic<'a>(&'a Connection);

impl Drop for FailOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.shut_down();
            // A completion routine that panics too must not turn this into an abort.
            let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.0.fail_all("the connection's reader thread panicked", Status::INTERNAL_ERROR);
            }));
            if failed.is_err() {
                tracing::error!(uri = %self.0.shared.uri, "failing the requests of a panicked NBD reader panicked too");
            }
        }
    }
}

/// Why a read ended the connection, and the status what was in flight fails with.
fn lost(e: io::Error, doing: &str) -> (String, Status) {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            ("the server closed the connection".to_owned(), Status::CONNECTION_RESET)
        }
        io::ErrorKind::TimedOut => (e.to_string(), Status::IO_TIMEOUT),
        _ => (format!("{doing}: {e}"), Status::CONNECTION_RESET),
    }
}

/// The reader's watch for a server that stopped answering: with requests in flight
/// and nothing arriving for the request timeout, the read gives up (`TimedOut`). Reads
/// time out every [`poll_period`]. The clock starts at the first timeout that finds
/// something owed, and restarts at the first one after bytes arrived (arrivals are only
/// flagged: no clock read per reply). So a connection is never given up early, and at
/// most two periods late.
struct Unanswered<'a> {
    conn: &'a Connection,
    /// When the clock started; `None` while nothing is owed.
    since: Option<Instant>,
    fresh: bool,
}

impl Watch for Unanswered<'_> {
    fn arrived(&mut self) {
        self.fresh = true;
    }

    fn waited(&mut self) -> io::Result<()> {
        let Some(limit) = self.conn.shared.request_timeout else { return Ok(()) };
        if !self.conn.owed() {
            self.since = None;
            self.fresh = false;
            return Ok(());
        }
        let now = Instant::now();
        if std::mem::take(&mut self.fresh) {
            self.since = Some(now);
            return Ok(());
        }
        let silent = now.duration_since(*self.since.get_or_insert(now));
        if silent < limit {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the server answered nothing for {silent:.1?} with requests in flight (request timeout {limit:?})"
            ),
        ))
    }
}

/// How often the reader looks at an unanswering server: a quarter of the request
/// timeout, between 10 ms and 1 s.
pub(super) fn poll_period(request_timeout: Duration) -> Duration {
    (request_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}
