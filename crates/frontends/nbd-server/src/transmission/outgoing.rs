//! Replies as bytes on their way out: a header (inline for the usual sizes) and, for a
//! read, the MDL the data was read into; how much of them has been sent — and the
//! [`Ticket`] that holds a request's place in flight until its reply is on the wire.

use std::io::IoSlice;

use irp::{Mdl, Status};
use nbd::consts::{EINVAL, EIO, ENOMEM, ENOSPC, EPERM, ESHUTDOWN, REPLY_FLAG_DONE};
use nbd::transmission::{
    Extent, encode_block_status_chunk, encode_error_chunk, encode_none_chunk, encode_offset_data_header,
    encode_simple_reply,
};

use std::sync::Arc;

use super::Shared;

/// The answer to one request.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Success without data.
    Ok,
    /// A read's data: the first `length` bytes of `mdl`, read at `offset`.
    Data {
        /// Where the data was read (for the structured `OFFSET_DATA` chunk).
        offset: u64,
        /// The buffer the read IRP filled.
        mdl: Mdl,
        /// How many of its bytes to send.
        length: usize,
    },
    /// The answer to `NBD_CMD_BLOCK_STATUS`: one `NBD_REPLY_TYPE_BLOCK_STATUS` chunk, the
    /// last of its reply (structured replies only: the handshake allows block status
    /// queries only then).
    BlockStatus {
        /// The metadata context id.
        context_id: u32,
        /// Its extents, at least one.
        extents: Vec<Extent>,
    },
    /// Failure with an NBD error value and a message (sent with structured replies).
    Error {
        /// `NBD_E...`.
        errno: u32,
        /// For humans.
        message: String,
    },
}

impl Reply {
    pub(crate) fn error(errno: u32, message: impl Into<String>) -> Reply {
        Reply::Error { errno, message: message.into() }
    }
}

/// A reply header: inline up to 28 bytes (simple reply, `NONE` chunk, `OFFSET_DATA`
/// header), on the heap for an error chunk with its message and a block status chunk.
#[derive(Debug)]
enum Head {
    Inline([u8; 28], usize),
    Heap(Vec<u8>),
}

impl Head {
    fn bytes(&self) -> &[u8] {
        match self {
            Head::Inline(bytes, len) => &bytes[..*len],
            Head::Heap(bytes) => bytes,
        }
    }
}

/// An encoded reply and the ticket of its request, which is released (freeing the
/// request's place in flight) when this is dropped: after it was sent, or given up.
#[derive(Debug)]
pub(crate) struct Outgoing {
    head: Head,
    data: Option<(Mdl, usize)>,
    /// Bytes of head + data already sent.
    sent: usize,
    /// Dropped last, after the data's buffer went back to the pool: that frees the
    /// request's place in flight.
    ticket: Option<Ticket>,
}

impl Outgoing {
    /// Encodes `reply` to `cookie` as a simple reply or as structured chunks.
    pub(crate) fn encode(cookie: u64, reply: Reply, structured: bool, ticket: Option<Ticket>) -> Outgoing {
        let inline = |bytes: &[u8]| {
            let mut head = [0; 28];
            head[..bytes.len()].copy_from_slice(bytes);
            Head::Inline(head, bytes.len())
        };
        let (head, data) = match (reply, structured) {
            (Reply::Ok, false) => (inline(&encode_simple_reply(cookie, 0)), None),
            (Reply::Data { mdl, length, .. }, false) => {
                (inline(&encode_simple_reply(cookie, 0)), Some((mdl, length)))
            }
            (Reply::Error { errno, .. }, false) => (inline(&encode_simple_reply(cookie, errno)), None),
            (Reply::BlockStatus { .. }, false) => (inline(&encode_simple_reply(cookie, EINVAL)), None),
            (Reply::BlockStatus { context_id, extents }, true) => {
                match encode_block_status_chunk(cookie, REPLY_FLAG_DONE, context_id, &extents) {
                    Ok(chunk) => (Head::Heap(chunk), None),
                    Err(e) => (Head::Heap(encode_error_chunk(cookie, EIO, &e.to_string())), None),
                }
            }
            (Reply::Ok, true) | (Reply::Data { length: 0, .. }, true) => {
                (inline(&encode_none_chunk(cookie)), None)
            }
            (Reply::Data { offset, mdl, length }, true) => {
                let len = u32::try_from(length).unwrap_or(u32::MAX);
                match encode_offset_data_header(cookie, REPLY_FLAG_DONE, offset, len) {
                    // One chunk with the data, flagged as the last one.
                    Ok(head) => (inline(&head), Some((mdl, length))),
                    Err(e) => (Head::Heap(encode_error_chunk(cookie, EIO, &e.to_string())), None),
                }
            }
            (Reply::Error { errno, message }, true) => {
                (Head::Heap(encode_error_chunk(cookie, errno, &message)), None)
            }
        };
        Outgoing { head, data, sent: 0, ticket }
    }

    /// What is left to send, as at most two slices.
    pub(crate) fn remaining(&self) -> [IoSlice<'_>; 2] {
        let head = self.head.bytes();
        let data = self.data.as_ref().map_or(&[][..], |(mdl, length)| &mdl.bytes()[..*length]);
        let from_head = self.sent.min(head.len());
        let from_data = (self.sent - from_head).min(data.len());
        [IoSlice::new(&head[from_head..]), IoSlice::new(&data[from_data..])]
    }

    /// Counts `n` more bytes as sent; returns whether everything was.
    pub(crate) fn advance(&mut self, n: usize) -> bool {
        self.sent += n;
        self.sent >= self.len()
    }

    fn len(&self) -> usize {
        self.head.bytes().len() + self.data.as_ref().map_or(0, |(_, length)| *length)
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        // A read's buffer goes back to its connection's pool.
        if let (Some((mdl, _)), Some(ticket)) = (self.data.take(), &self.ticket) {
            ticket.shared.buffers.give(mdl);
        }
    }
}

/// The NBD error value for a failed IRP (the spec's list; `EIO` for anything else).
///
/// A device that is gone (`ENXIO`: a crashed crash disk's `STATUS_DEVICE_DOES_NOT_EXIST`)
/// answers `EIO`: the request was valid, the medium failed it. `EOVERFLOW` is not among
/// the answers: the spec reserves it for a `DF` read too large for one chunk, which the
/// request checks decide, never a device.
pub(crate) fn nbd_errno(status: Status) -> u32 {
    match status.to_errno() {
        libc::EPERM | libc::EACCES | libc::EROFS => EPERM,
        libc::ENOSPC | libc::EDQUOT | libc::EFBIG => ENOSPC,
        libc::ENOMEM | libc::EAGAIN => ENOMEM,
        libc::EINVAL | libc::EOPNOTSUPP | libc::EOVERFLOW => EINVAL,
        libc::ESHUTDOWN | libc::ENODEV => ESHUTDOWN,
        _ => EIO,
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
    /// Waits for room on the connection and on the server, then takes a place for a
    /// request of `bytes`.
    pub(crate) fn acquire(shared: &Arc<Shared>, cookie: u64, bytes: usize) -> Ticket {
        shared.state.request_started();
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
        self.shared.state.request_done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_statuses_map_to_the_spec_errors() {
        assert_eq!(nbd_errno(Status::DEVICE_DOES_NOT_EXIST), EIO, "a crashed crash disk");
        assert_eq!(nbd_errno(Status::IO_DEVICE_ERROR), EIO);
        assert_eq!(nbd_errno(Status::MEDIA_WRITE_PROTECTED), EPERM);
        assert_eq!(nbd_errno(Status::DISK_FULL), ENOSPC);
        assert_eq!(nbd_errno(Status::INVALID_PARAMETER), EINVAL);
        assert_eq!(nbd_errno(Status::INTERNAL_ERROR), EIO);
        assert_eq!(nbd_errno(Status::NO_SUCH_DEVICE), ESHUTDOWN);
    }
}
