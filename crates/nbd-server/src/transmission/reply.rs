//! Writing replies: one lock per connection, taken by whichever thread completes a request;
//! a reply's header and data leave in one vectored write.

use std::io::IoSlice;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use irp::Status;
use nbd::consts::{EINVAL, EIO, ENOMEM, ENOSPC, EOVERFLOW, EPERM, ESHUTDOWN, REPLY_FLAG_DONE};
use nbd::transmission::{
    encode_error_chunk, encode_none_chunk, encode_offset_data_header, encode_simple_reply,
};

use crate::listener::{Stream, write_all_vectored};

/// The answer to one request.
#[derive(Debug)]
pub(crate) enum Reply<'a> {
    /// Success without data.
    Ok,
    /// A read's data.
    Data {
        /// Where the data was read (for the structured `OFFSET_DATA` chunk).
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// Failure with an NBD error value and a message (sent with structured replies).
    Error {
        /// `NBD_E...`.
        errno: u32,
        /// For humans.
        message: String,
    },
}

impl Reply<'_> {
    pub(crate) fn error(errno: u32, message: impl Into<String>) -> Reply<'static> {
        Reply::Error { errno, message: message.into() }
    }
}

/// The write half of a connection.
#[derive(Debug)]
pub(crate) struct ReplyWriter {
    stream: Mutex<Stream>,
    structured: bool,
    broken: AtomicBool,
    peer: String,
}

impl ReplyWriter {
    pub(crate) fn new(stream: Stream, structured: bool, peer: &str) -> ReplyWriter {
        ReplyWriter {
            stream: Mutex::new(stream),
            structured,
            broken: AtomicBool::new(false),
            peer: peer.to_owned(),
        }
    }

    /// Whether a write failed: the connection is going away.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Sends the reply to `cookie`. A failed write breaks the connection: both directions
    /// are shut down, so the reader stops too.
    pub(crate) fn send(&self, cookie: u64, reply: &Reply<'_>) {
        if self.is_broken() {
            return;
        }
        let mut head = [0u8; 28];
        let error_chunk;
        let (head, data): (&[u8], &[u8]) = match (reply, self.structured) {
            (Reply::Ok, false) => {
                head[..16].copy_from_slice(&encode_simple_reply(cookie, 0));
                (&head[..16], &[])
            }
            (Reply::Data { data, .. }, false) => {
                head[..16].copy_from_slice(&encode_simple_reply(cookie, 0));
                (&head[..16], data)
            }
            (Reply::Error { errno, .. }, false) => {
                head[..16].copy_from_slice(&encode_simple_reply(cookie, *errno));
                (&head[..16], &[])
            }
            (Reply::Ok, true) | (Reply::Data { data: [], .. }, true) => {
                head[..20].copy_from_slice(&encode_none_chunk(cookie));
                (&head[..20], &[])
            }
            (Reply::Data { offset, data }, true) => {
                // 0 < len <= 32 MiB: the encoder cannot fail.
                let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
                match encode_offset_data_header(cookie, REPLY_FLAG_DONE, *offset, len) {
                    Ok(h) => head = h,
                    Err(e) => {
                        tracing::error!(peer = %self.peer, "cannot encode a read reply: {e}");
                        return self.break_connection();
                    }
                }
                (&head[..], data)
            }
            (Reply::Error { errno, message }, true) => {
                error_chunk = encode_error_chunk(cookie, *errno, message);
                (&error_chunk[..], &[])
            }
        };
        let mut stream = self.stream.lock().unwrap_or_else(PoisonError::into_inner);
        let mut slices = [IoSlice::new(head), IoSlice::new(data)];
        if let Err(e) = write_all_vectored(&mut *stream, &mut slices) {
            drop(stream);
            if !self.broken.swap(true, Ordering::AcqRel) {
                tracing::warn!(peer = %self.peer, "closing the connection: cannot send a reply: {e}");
            }
            self.break_connection();
        }
    }

    fn break_connection(&self) {
        self.broken.store(true, Ordering::Release);
        self.stream.lock().unwrap_or_else(PoisonError::into_inner).shutdown(Shutdown::Both);
    }

    /// Closes both directions after the last reply.
    pub(crate) fn close(&self) {
        self.stream.lock().unwrap_or_else(PoisonError::into_inner).shutdown(Shutdown::Both);
    }
}

/// The NBD error value for a failed IRP (the spec's list; `EIO` for anything else).
pub(crate) fn nbd_errno(status: Status) -> u32 {
    match status.to_errno() {
        libc::EPERM | libc::EACCES | libc::EROFS => EPERM,
        libc::ENOSPC | libc::EDQUOT | libc::EFBIG => ENOSPC,
        libc::ENOMEM | libc::EAGAIN => ENOMEM,
        libc::EINVAL | libc::ENXIO | libc::EOPNOTSUPP => EINVAL,
        libc::EOVERFLOW => EOVERFLOW,
        libc::ESHUTDOWN | libc::ENODEV => ESHUTDOWN,
        _ => EIO,
    }
}
