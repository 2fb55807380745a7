//! The reader thread of a connection: matches replies to requests by cookie, fills
//! read data into MDLs, completes IRPs, and fails everything in flight when the
//! connection ends.

use std::io;
use std::sync::Arc;

use irp::{Irp, Mdl, Status};

use super::{Connection, INTERNAL, complete};
use crate::client::engine::mark_nbd_thread;
use crate::client::error::status_from_nbd_error;
use crate::consts::{CMD_FLUSH, CMD_TRIM, CMD_WRITE, CMD_WRITE_ZEROES, ESHUTDOWN, SIMPLE_REPLY_LEN};
use crate::transmission::{SimpleReply, decode_simple_reply};

impl Connection {
    /// The reader thread.
    pub(super) fn read_replies(self: Arc<Self>) {
        mark_nbd_thread();
        let mut header = [0; SIMPLE_REPLY_LEN];
        let why = loop {
            if let Err(e) = self.stream.read_exact(&mut header) {
                break match e.kind() {
                    io::ErrorKind::UnexpectedEof => "the server closed the connection".to_owned(),
                    _ => format!("reading a reply failed: {e}"),
                };
            }
            let reply = match decode_simple_reply(&header) {
                Ok(reply) => reply,
                Err(e) => break format!("the server sent a bad reply header: {e}"),
            };
            if let Err(why) = self.on_reply(reply) {
                break why;
            }
        };
        self.fail_all(&why);
    }

    fn on_reply(&self, reply: SimpleReply) -> Result<(), String> {
        let mut s = self.lock();
        let Some(part) = s.parts.remove(&reply.cookie) else {
            return Err(format!("the server answered an unknown cookie {:#x}", reply.cookie));
        };
        let mut status = status_from_nbd_error(reply.error, part.command);
        if let (Some((offset, len)), 0) = (part.read, reply.error) {
            let mut irp = s.pending.get_mut(&part.id).and_then(|p| p.irp.take());
            drop(s);
            let received = self.receive_data(irp.as_mut(), offset, len);
            s = self.lock();
            if let Some(p) = s.pending.get_mut(&part.id) {
                p.irp = irp.take();
            }
            if let Some(orphan) = irp {
                drop(s);
                orphan.complete(Status::CONNECTION_RESET); // unreachable: reads stay in the table
                s = self.lock();
            }
            status = received.map_err(|e| format!("reading the data of a reply failed: {e}"))?;
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
    fn receive_data(&self, irp: Option<&mut Irp>, offset: usize, len: u32) -> io::Result<Status> {
        let end = offset + len as usize;
        match irp.and_then(Irp::mdl_mut).and_then(Mdl::bytes_mut).and_then(|b| b.get_mut(offset..end)) {
            Some(buf) => self.stream.read_exact(buf).map(|()| Status::SUCCESS),
            None => self.stream.skip(len.into()).map(|()| Status::INVALID_PARAMETER),
        }
    }

    /// The connection is over: fails everything in flight.
    fn fail_all(&self, why: &str) {
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
                p.status = Status::CONNECTION_RESET;
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
                 STATUS_CONNECTION_RESET; the next request reconnects"
            );
        }
        for done in failed {
            complete(Some(done));
        }
        self.shared.wake();
    }
}
