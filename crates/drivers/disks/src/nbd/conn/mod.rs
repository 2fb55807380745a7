//! One connection: the table of commands in flight, sending them, and the reader
//! thread that matches replies to IRPs by cookie.
//!
//! A request is registered (its commands get cookies) before it is sent. A read's IRP
//! waits in the table, and the reader fills its MDL; a write's IRP stays with the writer
//! while its payload is sent and joins the table afterwards, so replies that arrive
//! first are only counted. Whoever sees the last reply and holds the IRP completes it.
//!
//! A connection that is *retiring* (IRP_MJ_SHUTDOWN, `NBD_ESHUTDOWN`, the disk going
//! away) takes no new requests; once nothing is in flight it flushes writes no flush
//! covered yet and sends `NBD_CMD_DISC` (the spec asks clients to wait for in-flight
//! requests first). A connection that is lost fails everything in flight with
//! `STATUS_CONNECTION_RESET`; if writes were acknowledged on it that no flush covered,
//! their durability is unknown and the disk's flushes fail from then on.

mod reader;

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use irp::{Irp, Status};

use super::connect::ExportInfo;
use super::plan::{Op, Payload, Plan};
use super::shared::Shared;
use super::stream::Stream;
use nbd::consts::{CMD_FLAG_FUA, CMD_FLUSH};
use nbd::transmission::{Command, encode_request};

/// Zero bytes for write-zeroes emulated with writes.
static ZEROES: [u8; 64 * 1024] = [0; 64 * 1024];

/// The request id of the flush a retiring connection sends on its own behalf.
const INTERNAL: u64 = 0;

#[derive(Debug)]
pub(super) struct Connection {
    pub(super) info: ExportInfo,
    pub(super) generation: u64,
    stream: Stream,
    send_lock: Mutex<()>,
    state: Mutex<State>,
    shared: Arc<Shared>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct State {
    dead: bool,
    retiring: bool,
    closing: bool,
    /// `NBD_CMD_DISC` was decided on (by [`Connection::next_step`]) ...
    disc_sent: bool,
    /// ... and its bytes are on the socket (or writing them failed). Until then the
    /// connection is not settled: shutting the socket down in between lost the DISC.
    disc_written: bool,
    final_flush_sent: bool,
    next_cookie: u64,
    next_id: u64,
    /// Commands in flight, by cookie.
    parts: HashMap<u64, InFlight>,
    /// Requests in flight, by id.
    pending: HashMap<u64, Pending>,
    /// Writes, trims and write-zeroes acknowledged without FUA ...
    acked_writes: u64,
    /// ... and how many of them a successful flush covers.
    flushed_upto: u64,
}

#[derive(Debug)]
struct InFlight {
    id: u64,
    command: u16,
    fua: bool,
    /// A read's destination in the MDL: offset and length.
    read: Option<(usize, u32)>,
    /// A flush covers the writes acknowledged when it was registered.
    covers: u64,
}

#[derive(Debug)]
struct Pending {
    /// `None` while the writer sends its payload.
    irp: Option<Irp>,
    parts_left: usize,
    /// The first error (first error wins), else success.
    status: Status,
    information: u64,
    then_flush: bool,
}

/// What a retiring connection sends next.
enum Step {
    None,
    Flush(u64),
    Disc,
}

impl State {
    fn cookie(&mut self) -> u64 {
        self.next_cookie += 1;
        self.next_cookie
    }
}

impl Connection {
    /// Wraps a negotiated stream and starts its reader thread.
    pub(super) fn start(
        shared: Arc<Shared>,
        stream: Stream,
        info: ExportInfo,
        generation: u64,
    ) -> io::Result<Arc<Connection>> {
        let name = format!("{}-nbd-rx{generation}", shared.name);
        if let Some(limit) = shared.request_timeout {
            stream.set_io_timeouts(Some(reader::poll_period(limit)), Some(limit))?;
        }
        let conn = Arc::new(Connection {
            info,
            generation,
            stream,
            send_lock: Mutex::new(()),
            state: Mutex::default(),
            shared,
            reader: Mutex::new(None),
        });
        let reader = Arc::clone(&conn);
        let handle = thread::Builder::new().name(name).spawn(move || reader.read_replies())?;
        *conn.reader.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether new requests may be sent on this connection.
    pub(super) fn usable(&self) -> bool {
        let s = self.lock();
        !s.dead && !s.retiring
    }

    /// Whether requests of the disk's users are in flight.
    pub(super) fn busy(&self) -> bool {
        let s = self.lock();
        !s.dead && (!s.pending.is_empty() || s.parts.values().any(|p| p.id != INTERNAL))
    }

    /// Whether the connection is over: lost, or `NBD_CMD_DISC` written with nothing in
    /// flight.
    pub(super) fn settled(&self) -> bool {
        let s = self.lock();
        s.dead || (s.disc_written && s.parts.is_empty() && s.pending.is_empty())
    }

    /// Whether writes were acknowledged that no flush covered.
    pub(super) fn unflushed(&self) -> bool {
        let s = self.lock();
        s.acked_writes > s.flushed_upto
    }

    /// Takes no new requests; flushes and disconnects once nothing is in flight.
    pub(super) fn retire(&self) {
        let step = {
            let mut s = self.lock();
            s.retiring = true;
            self.next_step(&mut s)
        };
        self.take_step(step);
    }

    /// [`Connection::retire`] because the disk goes away: the end is expected.
    pub(super) fn close(&self) {
        let step = {
            let mut s = self.lock();
            s.closing = true;
            s.retiring = true;
            self.next_step(&mut s)
        };
        self.take_step(step);
    }

    /// Hard disconnect: wakes the reader, which fails whatever is still in flight.
    pub(super) fn shut_down(&self) {
        self.stream.shutdown(Shutdown::Both);
    }

    /// Waits for the reader thread (unless called from it).
    pub(super) fn join_reader(&self) {
        let handle = self.reader.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(h) = handle
            && h.thread().id() != thread::current().id()
            && h.join().is_err()
        {
            tracing::error!(uri = %self.shared.uri, "an NBD reader thread panicked");
        }
    }

    /// Whether the reader thread has ended.
    pub(super) fn reader_finished(&self) -> bool {
        self.reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_none_or(JoinHandle::is_finished)
    }

    /// Sends `plan` for `irp`; the IRP completes when every command was answered (or
    /// at once, with `STATUS_CONNECTION_RESET`, if the connection is no longer usable).
    pub(super) fn submit(&self, irp: Irp, plan: Plan) {
        if plan.parts.is_empty() {
            irp.complete_with(Status::SUCCESS, plan.information);
            return;
        }
        let sends_mdl = plan
            .parts
            .iter()
            .any(|p| matches!((p.command, p.payload), (Command::Write { .. }, Payload::Mdl { .. })));
        let (kept, registered) = if sends_mdl { (Some(irp), None) } else { (None, Some(irp)) };
        let (id, first_cookie) = match self.register(&plan, registered) {
            Ok(ids) => ids,
            Err(returned) => {
                if let Some(irp) = returned.or(kept) {
                    irp.complete(Status::CONNECTION_RESET);
                }
                return;
            }
        };
        let sent = {
            let _guard = self.send_lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.send_parts(&plan, first_cookie, kept.as_ref())
        };
        if let Err(e) = sent {
            if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
                tracing::error!(
                    uri = %self.shared.uri,
                    "sending a request failed: the server read nothing for the request timeout ({:?})",
                    self.shared.request_timeout.unwrap_or_default()
                );
            } else {
                tracing::error!(uri = %self.shared.uri, "sending a request failed: {e}");
            }
            self.shut_down();
        }
        if let Some(irp) = kept {
            let (done, step) = {
                let mut s = self.lock();
                let Some(p) = s.pending.get_mut(&id) else {
                    // Unreachable: only the holder of the IRP removes its entry.
                    drop(s);
                    irp.complete(Status::CONNECTION_RESET);
                    return;
                };
                p.irp = Some(irp);
                (self.settle(&mut s, id), self.next_step(&mut s))
            };
            complete(done);
            self.take_step(step);
        }
    }

    fn register(&self, plan: &Plan, irp: Option<Irp>) -> Result<(u64, u64), Option<Irp>> {
        let mut s = self.lock();
        if s.dead || s.retiring {
            return Err(irp);
        }
        s.next_id += 1;
        let id = s.next_id;
        let first_cookie = s.next_cookie + 1;
        for part in &plan.parts {
            let cookie = s.cookie();
            let header = part.command.header(cookie);
            let read = match (part.command, part.payload) {
                (Command::Read { .. }, Payload::Mdl { offset, len }) => Some((offset, len)),
                _ => None,
            };
            let fua = header.flags & CMD_FLAG_FUA != 0;
            let covers = s.acked_writes;
            s.parts.insert(cookie, InFlight { id, command: header.command, fua, read, covers });
        }
        let pending = Pending {
            irp,
            parts_left: plan.parts.len(),
            status: Status::SUCCESS,
            information: plan.information,
            then_flush: plan.then_flush,
        };
        s.pending.insert(id, pending);
        Ok((id, first_cookie))
    }

    fn send_parts(&self, plan: &Plan, first_cookie: u64, irp: Option<&Irp>) -> io::Result<()> {
        for (cookie, part) in (first_cookie..).zip(&plan.parts) {
            let header = encode_request(&part.command.header(cookie));
            match (part.command, part.payload) {
                (Command::Write { .. }, Payload::Mdl { offset, len }) => {
                    let data = irp
                        .and_then(Irp::mdl)
                        .and_then(|m| m.bytes().get(offset..offset + len as usize))
                        .ok_or_else(|| io::Error::other("a write's MDL is shorter than the write"))?;
                    self.stream.write_all_vectored(&mut [IoSlice::new(&header), IoSlice::new(data)])?;
                }
                (_, Payload::Zeroes { len }) => {
                    let mut left = len as usize;
                    let first = left.min(ZEROES.len());
                    self.stream
                        .write_all_vectored(&mut [IoSlice::new(&header), IoSlice::new(&ZEROES[..first])])?;
                    left -= first;
                    while left > 0 {
                        let n = left.min(ZEROES.len());
                        self.stream.write_all(&ZEROES[..n])?;
                        left -= n;
                    }
                }
                _ => self.stream.write_all(&header)?,
            }
        }
        Ok(())
    }

    /// Removes request `id` if it is finished and its IRP is here: returns the IRP to
    /// complete, or queues the flush of an emulated FUA write (under the state lock, so
    /// that the writer never sees "nothing in flight" and "nothing queued" in between).
    fn settle(&self, s: &mut State, id: u64) -> Option<(Irp, Status, u64)> {
        let p = s.pending.get(&id)?;
        if p.parts_left > 0 || p.irp.is_none() {
            return None;
        }
        let p = s.pending.remove(&id)?;
        let irp = p.irp?;
        if p.status.is_success() && p.then_flush {
            let op = Op::FlushAfter { generation: self.generation, information: p.information };
            return match self.shared.push(irp, op) {
                Ok(()) => None,
                Err(irp) => Some((irp, Status::INTERNAL_ERROR, 0)),
            };
        }
        let information = if p.status.is_success() { p.information } else { 0 };
        Some((irp, p.status, information))
    }

    /// What a connection sends next: nothing unless it is retiring and idle.
    fn next_step(&self, s: &mut State) -> Step {
        if !s.retiring || s.disc_sent || s.dead || !s.parts.is_empty() || !s.pending.is_empty() {
            return Step::None;
        }
        if s.acked_writes > s.flushed_upto && self.info.can_flush() && !s.final_flush_sent {
            s.final_flush_sent = true;
            let cookie = s.cookie();
            let covers = s.acked_writes;
            s.parts.insert(
                cookie,
                InFlight { id: INTERNAL, command: CMD_FLUSH, fua: false, read: None, covers },
            );
            return Step::Flush(cookie);
        }
        s.disc_sent = true;
        Step::Disc
    }

    /// Sends what [`Connection::next_step`] decided. Nothing else is being sent: the
    /// connection is retiring and nothing is in flight.
    fn take_step(&self, step: Step) {
        let is_disc = matches!(step, Step::Disc);
        let command = match step {
            Step::None => return,
            Step::Flush(cookie) => Command::Flush.header(cookie),
            Step::Disc => Command::Disc.header(0),
        };
        {
            let _guard = self.send_lock.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = self.stream.write_all(&encode_request(&command)) {
                tracing::debug!(uri = %self.shared.uri, "sending {command:?} on a retiring connection failed: {e}");
                self.shut_down();
            }
        }
        if is_disc {
            self.lock().disc_written = true;
        }
        self.shared.wake();
    }
}

fn complete(done: Option<(Irp, Status, u64)>) {
    if let Some((irp, status, information)) = done {
        irp.complete_with(status, information);
    }
}
