//! The transmission phase: requests, simple replies and structured reply chunks.
//!
//! The server's loop, per request:
//!
//! 1. read 28 bytes, [`decode_request_header`] (an error means: close the connection);
//! 2. [`Command::classify`] it against the [`ExportLimits`];
//! 3. on `Ok(command)`: read [`Command::payload_len`] bytes of payload (a write's data),
//!    do the work, reply with [`encode_simple_reply`] (followed by the data for a read),
//!    or with structured chunks ([`encode_offset_data_header`], [`encode_none_chunk`],
//!    [`encode_error_chunk`], [`encode_block_status_chunk`]) if they were negotiated; `Command::Disc` gets no reply;
//! 4. on `Err(e)`: act on `e.payload` ([`PayloadAction`](crate::PayloadAction): nothing,
//!    discard that many bytes, or close the connection without replying), then reply
//!    with the error value [`RequestError::errno`](crate::RequestError::errno).
//!
//! The client encodes requests with [`Command::header`] and [`encode_request`], and
//! decodes replies with [`decode_simple_reply`], [`decode_structured_reply_header`] and
//! [`parse_reply_chunk`].

mod command;
mod reply;
#[cfg(test)]
mod reply_tests;
mod request;
#[cfg(test)]
mod tests;

pub use command::{Command, ExportLimits};
pub use reply::{
    Extent, ReplyChunk, SimpleReply, StructuredReplyHeader, check_block_status, decode_simple_reply,
    decode_structured_reply_header, encode_block_status_chunk, encode_error_chunk, encode_error_offset_chunk,
    encode_none_chunk, encode_offset_data_header, encode_simple_reply, encode_structured_reply_header,
    parse_reply_chunk,
};
pub use request::{RequestHeader, decode_request_header, encode_request};
