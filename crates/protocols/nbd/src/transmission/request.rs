//! Transmission requests: the 28-byte header and its encoder/decoder.

use crate::ProtocolError;
use crate::consts::{CMD_WRITE, REQUEST_HEADER_LEN, REQUEST_MAGIC};
use crate::wire::Reader;

/// A request header exactly as on the wire; [`Command::classify`](crate::transmission::Command::classify)
/// turns it into a validated [`Command`](crate::transmission::Command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestHeader {
    /// Command flags (`CMD_FLAG_...`).
    pub flags: u16,
    /// Command code (`CMD_...`), possibly unknown.
    pub command: u16,
    /// The client's opaque cookie (called "handle" in older spec versions), echoed in the reply.
    pub cookie: u64,
    /// Offset in the export.
    pub offset: u64,
    /// Length of the range (and of the payload, for writes).
    pub length: u32,
}

impl RequestHeader {
    /// How many payload bytes follow this header on the wire: `length` for
    /// `NBD_CMD_WRITE`, 0 for everything else. The server must read (or discard) them
    /// whether or not it accepts the request; see [`RequestError::payload`](crate::RequestError::payload).
    pub fn payload_len(&self) -> u32 {
        if self.command == CMD_WRITE { self.length } else { 0 }
    }
}

/// Decodes a request header, checking the magic. A bad magic means the stream is out of
/// sync: the server closes the connection.
pub fn decode_request_header(bytes: &[u8; REQUEST_HEADER_LEN]) -> Result<RequestHeader, ProtocolError> {
    let mut r = Reader::new(bytes);
    let magic = r.u32()?;
    if magic != REQUEST_MAGIC {
        return Err(ProtocolError::BadMagic { expected: REQUEST_MAGIC.into(), found: magic.into() });
    }
    Ok(RequestHeader {
        flags: r.u16()?,
        command: r.u16()?,
        cookie: r.u64()?,
        offset: r.u64()?,
        length: r.u32()?,
    })
}

/// Encodes a request header (client side). A write's payload follows it.
pub fn encode_request(header: &RequestHeader) -> [u8; REQUEST_HEADER_LEN] {
    let mut out = [0; REQUEST_HEADER_LEN];
    out[0..4].copy_from_slice(&REQUEST_MAGIC.to_be_bytes());
    out[4..6].copy_from_slice(&header.flags.to_be_bytes());
    out[6..8].copy_from_slice(&header.command.to_be_bytes());
    out[8..16].copy_from_slice(&header.cookie.to_be_bytes());
    out[16..24].copy_from_slice(&header.offset.to_be_bytes());
    out[24..28].copy_from_slice(&header.length.to_be_bytes());
    out
}
