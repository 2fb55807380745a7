//! Simple replies and structured reply chunks: encoders for the server, decoders for the
//! client.

use crate::ProtocolError;
use crate::consts::{
    MAX_BLOCK_STATUS_EXTENTS, REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, REPLY_TYPE_ERROR,
    REPLY_TYPE_ERROR_OFFSET, REPLY_TYPE_FLAG_ERROR, REPLY_TYPE_NONE, REPLY_TYPE_OFFSET_DATA,
    REPLY_TYPE_OFFSET_HOLE, SIMPLE_REPLY_LEN, SIMPLE_REPLY_MAGIC, STRUCTURED_REPLY_HEADER_LEN,
    STRUCTURED_REPLY_MAGIC, reply_type_name,
};
use crate::wire::{Put, Reader, check_str, clean_message, decode_message, len_u32};

fn expect_magic32(found: u32, expected: u32) -> Result<(), ProtocolError> {
    if found == expected {
        Ok(())
    } else {
        Err(ProtocolError::BadMagic { expected: expected.into(), found: found.into() })
    }
}

/// A simple reply: error (0 for success) and the request's cookie. A successful read's
/// `length` bytes of data follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleReply {
    /// NBD error value (`EIO`, ...), 0 for success.
    pub error: u32,
    /// The cookie of the request this answers.
    pub cookie: u64,
}

/// Encodes a simple reply header (16 bytes).
pub fn encode_simple_reply(cookie: u64, error: u32) -> [u8; SIMPLE_REPLY_LEN] {
    let mut out = [0; SIMPLE_REPLY_LEN];
    out[0..4].copy_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
    out[4..8].copy_from_slice(&error.to_be_bytes());
    out[8..16].copy_from_slice(&cookie.to_be_bytes());
    out
}

/// Decodes a simple reply header, checking the magic (client side).
pub fn decode_simple_reply(bytes: &[u8; SIMPLE_REPLY_LEN]) -> Result<SimpleReply, ProtocolError> {
    let mut r = Reader::new(bytes);
    expect_magic32(r.u32()?, SIMPLE_REPLY_MAGIC)?;
    Ok(SimpleReply { error: r.u32()?, cookie: r.u64()? })
}

/// The header of a structured reply chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructuredReplyHeader {
    /// Reply flags (`REPLY_FLAG_DONE` on the last chunk).
    pub flags: u16,
    /// Chunk type (`REPLY_TYPE_...`); bit 15 marks error chunks.
    pub reply_type: u16,
    /// The cookie of the request this answers.
    pub cookie: u64,
    /// Payload length.
    pub length: u32,
}

impl StructuredReplyHeader {
    /// Whether this is the last chunk of its reply.
    pub fn is_done(&self) -> bool {
        self.flags & REPLY_FLAG_DONE != 0
    }
}

/// Encodes a structured reply chunk header (20 bytes); `length` payload bytes follow.
pub fn encode_structured_reply_header(header: &StructuredReplyHeader) -> [u8; STRUCTURED_REPLY_HEADER_LEN] {
    let mut out = [0; STRUCTURED_REPLY_HEADER_LEN];
    out[0..4].copy_from_slice(&STRUCTURED_REPLY_MAGIC.to_be_bytes());
    out[4..6].copy_from_slice(&header.flags.to_be_bytes());
    out[6..8].copy_from_slice(&header.reply_type.to_be_bytes());
    out[8..16].copy_from_slice(&header.cookie.to_be_bytes());
    out[16..20].copy_from_slice(&header.length.to_be_bytes());
    out
}

/// Decodes a structured reply chunk header, checking the magic (client side). The
/// client reads `length` payload bytes next (after checking `length` against its own
/// limit) and passes them to [`parse_reply_chunk`].
pub fn decode_structured_reply_header(
    bytes: &[u8; STRUCTURED_REPLY_HEADER_LEN],
) -> Result<StructuredReplyHeader, ProtocolError> {
    let mut r = Reader::new(bytes);
    expect_magic32(r.u32()?, STRUCTURED_REPLY_MAGIC)?;
    Ok(StructuredReplyHeader { flags: r.u16()?, reply_type: r.u16()?, cookie: r.u64()?, length: r.u32()? })
}

/// One block status descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Length of the extent (nonzero).
    pub length: u32,
    /// Status flags defined by the metadata context.
    pub flags: u32,
}

/// The payload of a structured reply chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyChunk<'a> {
    /// `NBD_REPLY_TYPE_NONE`: no payload; only valid with `REPLY_FLAG_DONE`.
    None,
    /// `NBD_REPLY_TYPE_OFFSET_DATA`: data read at `offset`.
    OffsetData {
        /// Export offset of the data.
        offset: u64,
        /// The data (at least one byte).
        data: &'a [u8],
    },
    /// `NBD_REPLY_TYPE_OFFSET_HOLE`: `size` bytes at `offset` read as zeroes.
    OffsetHole {
        /// Export offset of the hole.
        offset: u64,
        /// Size of the hole (nonzero).
        size: u32,
    },
    /// `NBD_REPLY_TYPE_BLOCK_STATUS`: extents of one metadata context.
    BlockStatus {
        /// The metadata context id.
        context_id: u32,
        /// One or more extents.
        extents: Vec<Extent>,
    },
    /// `NBD_REPLY_TYPE_ERROR` and unknown error types (bit 15 set): the request failed.
    Error {
        /// The chunk type.
        reply_type: u16,
        /// The NBD error value (nonzero).
        error: u32,
        /// An optional message ("" if none).
        message: String,
    },
    /// `NBD_REPLY_TYPE_ERROR_OFFSET`: the request failed at `offset`.
    ErrorOffset {
        /// The NBD error value (nonzero).
        error: u32,
        /// An optional message ("" if none).
        message: String,
        /// Export offset of the failure.
        offset: u64,
    },
}

/// Parses a structured reply chunk's payload (client side). `payload` must be exactly
/// `header.length` bytes. Any error means the client must hard-disconnect: a non-error
/// chunk of unknown type, or a payload that does not match its type.
pub fn parse_reply_chunk<'a>(
    header: &StructuredReplyHeader,
    payload: &'a [u8],
) -> Result<ReplyChunk<'a>, ProtocolError> {
    let name = reply_type_name(header.reply_type).unwrap_or("unknown chunk type");
    let bad = |why: &str| ProtocolError::InvalidReply(format!("{name} ({} bytes): {why}", payload.len()));
    if usize::try_from(header.length).ok() != Some(payload.len()) {
        return Err(bad(&format!("header says {} bytes", header.length)));
    }
    let mut r = Reader::new(payload);
    match header.reply_type {
        REPLY_TYPE_NONE if payload.is_empty() && header.is_done() => Ok(ReplyChunk::None),
        REPLY_TYPE_NONE => Err(bad("must be empty and carry REPLY_FLAG_DONE")),
        REPLY_TYPE_OFFSET_DATA if payload.len() > 8 => {
            Ok(ReplyChunk::OffsetData { offset: r.u64()?, data: r.rest() })
        }
        REPLY_TYPE_OFFSET_HOLE if payload.len() == 12 => {
            let (offset, size) = (r.u64()?, r.u32()?);
            if size == 0 {
                Err(bad("hole size must be nonzero"))
            } else {
                Ok(ReplyChunk::OffsetHole { offset, size })
            }
        }
        REPLY_TYPE_BLOCK_STATUS if payload.len() >= 12 && (payload.len() - 4).is_multiple_of(8) => {
            let context_id = r.u32()?;
            let mut extents = Vec::with_capacity(r.remaining() / 8);
            while r.remaining() != 0 {
                let extent = Extent { length: r.u32()?, flags: r.u32()? };
                if extent.length == 0 {
                    return Err(bad("extent length must be nonzero"));
                }
                extents.push(extent);
            }
            Ok(ReplyChunk::BlockStatus { context_id, extents })
        }
        t if t & REPLY_TYPE_FLAG_ERROR != 0 => {
            let error = r.u32().map_err(|_| bad("error chunk shorter than 6 bytes"))?;
            let len = r.u16().map_err(|_| bad("error chunk shorter than 6 bytes"))?;
            let message = r.bytes(len.into()).map_err(|_| bad("message longer than the chunk"))?;
            let message = decode_message(message);
            if error == 0 {
                return Err(bad("error value must be nonzero"));
            }
            match t {
                REPLY_TYPE_ERROR_OFFSET if r.remaining() == 8 => {
                    Ok(ReplyChunk::ErrorOffset { error, message, offset: r.u64()? })
                }
                REPLY_TYPE_ERROR_OFFSET => Err(bad("expected an 8-byte offset after the message")),
                REPLY_TYPE_ERROR if r.remaining() != 0 => Err(bad("bytes after the message")),
                // Unknown error types may carry more fields after the message: ignore them.
                _ => Ok(ReplyChunk::Error { reply_type: t, error, message }),
            }
        }
        _ => Err(bad("unknown chunk type or wrong length")),
    }
}

impl ReplyChunk<'_> {
    /// The chunk type (`REPLY_TYPE_...`).
    pub fn reply_type(&self) -> u16 {
        match self {
            ReplyChunk::None => REPLY_TYPE_NONE,
            ReplyChunk::OffsetData { .. } => REPLY_TYPE_OFFSET_DATA,
            ReplyChunk::OffsetHole { .. } => REPLY_TYPE_OFFSET_HOLE,
            ReplyChunk::BlockStatus { .. } => REPLY_TYPE_BLOCK_STATUS,
            ReplyChunk::Error { reply_type, .. } => *reply_type,
            ReplyChunk::ErrorOffset { .. } => REPLY_TYPE_ERROR_OFFSET,
        }
    }

    /// Encodes the whole chunk, header and payload. `None` always gets `REPLY_FLAG_DONE`.
    /// Fails if the payload does not fit the 32-bit length or a message breaks the string
    /// rules. For large reads, prefer [`encode_offset_data_header`], which does not copy.
    pub fn encode(&self, cookie: u64, flags: u16) -> Result<Vec<u8>, ProtocolError> {
        let mut payload = Vec::new();
        let mut flags = flags;
        let put_error = |payload: &mut Vec<u8>, error: u32, message: &str| {
            check_str(message)?;
            payload.put_u32(error);
            payload.put_u16(u16::try_from(message.len()).unwrap_or(u16::MAX));
            payload.extend_from_slice(message.as_bytes());
            Ok::<(), ProtocolError>(())
        };
        match self {
            ReplyChunk::None => flags |= REPLY_FLAG_DONE,
            ReplyChunk::OffsetData { offset, data } => {
                payload.put_u64(*offset);
                payload.extend_from_slice(data);
            }
            ReplyChunk::OffsetHole { offset, size } => {
                payload.put_u64(*offset);
                payload.put_u32(*size);
            }
            ReplyChunk::BlockStatus { context_id, extents } => {
                payload.put_u32(*context_id);
                for e in extents {
                    payload.put_u32(e.length);
                    payload.put_u32(e.flags);
                }
            }
            ReplyChunk::Error { error, message, .. } => put_error(&mut payload, *error, message)?,
            ReplyChunk::ErrorOffset { error, message, offset } => {
                put_error(&mut payload, *error, message)?;
                payload.put_u64(*offset);
            }
        }
        let length = len_u32("structured reply payload", payload.len())?;
        let header = StructuredReplyHeader { flags, reply_type: self.reply_type(), cookie, length };
        let mut out = Vec::with_capacity(STRUCTURED_REPLY_HEADER_LEN + payload.len());
        out.extend_from_slice(&encode_structured_reply_header(&header));
        out.extend_from_slice(&payload);
        Ok(out)
    }
}

/// The final `NBD_REPLY_TYPE_NONE` chunk (20 bytes, `REPLY_FLAG_DONE` set).
pub fn encode_none_chunk(cookie: u64) -> [u8; STRUCTURED_REPLY_HEADER_LEN] {
    encode_structured_reply_header(&StructuredReplyHeader {
        flags: REPLY_FLAG_DONE,
        reply_type: REPLY_TYPE_NONE,
        cookie,
        length: 0,
    })
}

/// The header and offset of an `NBD_REPLY_TYPE_OFFSET_DATA` chunk (28 bytes); the
/// caller sends `data_len` bytes of data after it. Fails if `data_len` is 0 or larger
/// than `u32::MAX - 8`.
pub fn encode_offset_data_header(
    cookie: u64,
    flags: u16,
    offset: u64,
    data_len: u32,
) -> Result<[u8; 28], ProtocolError> {
    let length = data_len.checked_add(8).filter(|_| data_len > 0).ok_or(ProtocolError::TooLong {
        what: "offset data chunk",
        length: usize::try_from(data_len).unwrap_or(usize::MAX),
    })?;
    let header = StructuredReplyHeader { flags, reply_type: REPLY_TYPE_OFFSET_DATA, cookie, length };
    let mut out = [0; 28];
    out[..20].copy_from_slice(&encode_structured_reply_header(&header));
    out[20..].copy_from_slice(&offset.to_be_bytes());
    Ok(out)
}

/// An `NBD_REPLY_TYPE_BLOCK_STATUS` chunk for metadata context `context_id` (with
/// `flags`: `REPLY_FLAG_DONE` when it is the last chunk of the reply). Fails unless there
/// are between 1 and [`MAX_BLOCK_STATUS_EXTENTS`] extents, each of nonzero length: the
/// spec's rules for what a client may accept.
pub fn encode_block_status_chunk(
    cookie: u64,
    flags: u16,
    context_id: u32,
    extents: &[Extent],
) -> Result<Vec<u8>, ProtocolError> {
    if extents.is_empty() || extents.len() > MAX_BLOCK_STATUS_EXTENTS {
        return Err(ProtocolError::TooLong { what: "block status extent list", length: extents.len() });
    }
    if extents.iter().any(|e| e.length == 0) {
        return Err(ProtocolError::InvalidReply("a block status extent of length 0".into()));
    }
    ReplyChunk::BlockStatus { context_id, extents: extents.to_vec() }.encode(cookie, flags)
}

/// Checks the extents of a block status reply against the request they answer (client
/// side): `length` bytes asked for, `req_one` for `NBD_CMD_FLAG_REQ_ONE`. With `req_one`
/// there must be exactly one extent, no longer than `length`; without it, at least one,
/// and all but the last must end before `length` (the last may run past it).
pub fn check_block_status(extents: &[Extent], length: u32, req_one: bool) -> Result<(), ProtocolError> {
    let bad = |why: String| Err(ProtocolError::InvalidReply(format!("block status: {why}")));
    let Some((last, rest)) = extents.split_last() else {
        return bad("no extent".into());
    };
    if req_one {
        if !rest.is_empty() || last.length > length {
            return bad(format!("NBD_CMD_FLAG_REQ_ONE for {length} bytes answered with {extents:?}"));
        }
        return Ok(());
    }
    let before_last: u64 = rest.iter().map(|e| u64::from(e.length)).sum();
    if !rest.is_empty() && before_last >= u64::from(length) {
        return bad(format!("extents before the last cover {before_last} of the {length} bytes asked for"));
    }
    Ok(())
}

/// An `NBD_REPLY_TYPE_ERROR` chunk with `REPLY_FLAG_DONE` set: the usual way to fail a
/// request when structured replies are in use. The message is cut to 4096 bytes and NUL
/// characters are dropped.
pub fn encode_error_chunk(cookie: u64, error: u32, message: &str) -> Vec<u8> {
    let chunk = ReplyChunk::Error { reply_type: REPLY_TYPE_ERROR, error, message: clean_message(message) };
    // A cleaned message is a valid string of at most 4096 bytes: encoding cannot fail.
    chunk.encode(cookie, REPLY_FLAG_DONE).unwrap_or_default()
}

/// An `NBD_REPLY_TYPE_ERROR_OFFSET` chunk (without `REPLY_FLAG_DONE`: more chunks may
/// follow). The message is cleaned as in [`encode_error_chunk`].
pub fn encode_error_offset_chunk(cookie: u64, error: u32, message: &str, offset: u64) -> Vec<u8> {
    let chunk = ReplyChunk::ErrorOffset { error, message: clean_message(message), offset };
    chunk.encode(cookie, 0).unwrap_or_default()
}
