//! Option replies (fixed newstyle): the 20-byte header, the reply data, their encoders
//! for the server and their decoders for the client.

use crate::ProtocolError;
use crate::consts::{
    INFO_BLOCK_SIZE, INFO_DESCRIPTION, INFO_EXPORT, INFO_NAME, MAX_OPTION_DATA, OPT_LIST,
    OPTION_REPLY_HEADER_LEN, OPTION_REPLY_MAGIC, REP_ACK, REP_FLAG_ERROR, REP_INFO, REP_META_CONTEXT,
    REP_SERVER,
};
use crate::handshake::expect_magic;
use crate::wire::{Put, Reader, check_str, clean_message, decode_message, decode_str, len_u32};

/// The header of an option reply: magic, the option it answers, reply type, data length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionReplyHeader {
    /// The option this replies to.
    pub option: u32,
    /// The reply type (`NBD_REP_...`); bit 31 marks errors.
    pub reply_type: u32,
    /// The length of the reply data that follows.
    pub length: u32,
}

/// Decodes an option reply header from the first [`OPTION_REPLY_HEADER_LEN`] bytes of
/// `bytes`: checks the magic and refuses data longer than [`MAX_OPTION_DATA`]
/// ([`ProtocolError::ReplyTooLarge`]). Every error here means: close the connection.
pub fn decode_option_reply_header(bytes: &[u8]) -> Result<OptionReplyHeader, ProtocolError> {
    let mut r = Reader::new(bytes);
    let header: [u8; OPTION_REPLY_HEADER_LEN] = r.array()?;
    let mut r = Reader::new(&header);
    expect_magic(r.u64()?, OPTION_REPLY_MAGIC)?;
    let header = OptionReplyHeader { option: r.u32()?, reply_type: r.u32()?, length: r.u32()? };
    if header.length > MAX_OPTION_DATA {
        return Err(ProtocolError::ReplyTooLarge { length: header.length, max: MAX_OPTION_DATA });
    }
    Ok(header)
}

/// Encodes an option reply: header and data. Data longer than [`MAX_OPTION_DATA`] is
/// refused, since a client using this crate would close the connection on it.
pub fn encode_option_reply(option: u32, reply_type: u32, data: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let length = len_u32("option reply data", data.len())?;
    if length > MAX_OPTION_DATA {
        return Err(ProtocolError::ReplyTooLarge { length, max: MAX_OPTION_DATA });
    }
    let mut out = Vec::with_capacity(OPTION_REPLY_HEADER_LEN + data.len());
    out.put_u64(OPTION_REPLY_MAGIC);
    out.put_u32(option);
    out.put_u32(reply_type);
    out.put_u32(length);
    out.extend_from_slice(data);
    Ok(out)
}

/// Block size constraints (`NBD_INFO_BLOCK_SIZE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSize {
    /// Minimum block size: a power of two, at most 65536.
    pub minimum: u32,
    /// Preferred block size: a power of two, at least `max(minimum, 512)`.
    pub preferred: u32,
    /// Maximum payload of a request: at least `preferred`.
    pub maximum: u32,
}

/// One `NBD_REP_INFO` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoReply {
    /// `NBD_INFO_EXPORT`: export size and transmission flags.
    Export {
        /// Export size in bytes.
        size: u64,
        /// Transmission flags (`FLAG_...`).
        flags: u16,
    },
    /// `NBD_INFO_NAME`: the canonical export name.
    Name(String),
    /// `NBD_INFO_DESCRIPTION`: a description for humans.
    Description(String),
    /// `NBD_INFO_BLOCK_SIZE`: size constraints.
    BlockSize(BlockSize),
    /// An information type this crate does not know; clients ignore it.
    Unknown {
        /// The information type.
        info_type: u16,
        /// Its payload.
        data: Vec<u8>,
    },
}

/// Parses the data of an `NBD_REP_INFO` reply (client side).
pub fn parse_info_reply(data: &[u8]) -> Result<InfoReply, ProtocolError> {
    let mut r = Reader::new(data);
    let info_type = r.u16().map_err(|_| invalid("NBD_REP_INFO without an information type"))?;
    let exact = |len: usize, what: &str| {
        if data.len() == len {
            Ok(())
        } else {
            Err(invalid(&format!("{what} of {} bytes, expected {len}", data.len())))
        }
    };
    Ok(match info_type {
        INFO_EXPORT => {
            exact(12, "NBD_INFO_EXPORT")?;
            InfoReply::Export { size: r.u64()?, flags: r.u16()? }
        }
        INFO_NAME => InfoReply::Name(decode_str(r.rest())?),
        INFO_DESCRIPTION => InfoReply::Description(decode_message(r.rest())),
        INFO_BLOCK_SIZE => {
            exact(14, "NBD_INFO_BLOCK_SIZE")?;
            InfoReply::BlockSize(BlockSize { minimum: r.u32()?, preferred: r.u32()?, maximum: r.u32()? })
        }
        info_type => InfoReply::Unknown { info_type, data: r.rest().to_vec() },
    })
}

impl InfoReply {
    /// Encodes the data of an `NBD_REP_INFO` reply (without the option reply header).
    pub fn encode_data(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::new();
        match self {
            InfoReply::Export { size, flags } => {
                out.put_u16(INFO_EXPORT);
                out.put_u64(*size);
                out.put_u16(*flags);
            }
            InfoReply::Name(name) => {
                check_str(name)?;
                out.put_u16(INFO_NAME);
                out.extend_from_slice(name.as_bytes());
            }
            InfoReply::Description(text) => {
                check_str(text)?;
                out.put_u16(INFO_DESCRIPTION);
                out.extend_from_slice(text.as_bytes());
            }
            InfoReply::BlockSize(b) => {
                out.put_u16(INFO_BLOCK_SIZE);
                out.put_u32(b.minimum);
                out.put_u32(b.preferred);
                out.put_u32(b.maximum);
            }
            InfoReply::Unknown { info_type, data } => {
                out.put_u16(*info_type);
                out.extend_from_slice(data);
            }
        }
        Ok(out)
    }
}

/// A decoded option reply (client side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionReply {
    /// `NBD_REP_ACK`.
    Ack,
    /// `NBD_REP_SERVER`: one export of a list.
    Server {
        /// The export name.
        name: String,
        /// The optional description that follows the name ("" if none).
        description: String,
    },
    /// `NBD_REP_INFO`.
    Info(InfoReply),
    /// `NBD_REP_META_CONTEXT`.
    MetaContext {
        /// The context id to expect in block status replies.
        id: u32,
        /// The context name.
        name: String,
    },
    /// Any reply type with bit 31 set (`NBD_REP_ERR_...`), with its optional message.
    Error {
        /// The reply type.
        reply_type: u32,
        /// The message ("" if none).
        message: String,
    },
    /// A non-error reply type this crate does not know; the client should disconnect.
    Unknown {
        /// The reply type.
        reply_type: u32,
        /// Its data.
        data: Vec<u8>,
    },
}

/// Parses the data of an option reply, given its header (client side).
pub fn parse_option_reply(header: &OptionReplyHeader, data: &[u8]) -> Result<OptionReply, ProtocolError> {
    if usize::try_from(header.length).ok() != Some(data.len()) {
        return Err(invalid(&format!("header says {} bytes of data, got {}", header.length, data.len())));
    }
    let mut r = Reader::new(data);
    Ok(match header.reply_type {
        REP_ACK if data.is_empty() => OptionReply::Ack,
        REP_ACK => return Err(invalid("NBD_REP_ACK with data")),
        REP_SERVER => {
            let len = r.u32().map_err(|_| invalid("NBD_REP_SERVER without a name length"))?;
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let name = r.bytes(len).map_err(|_| invalid("NBD_REP_SERVER name longer than the data"))?;
            OptionReply::Server { name: decode_str(name)?, description: decode_message(r.rest()) }
        }
        REP_INFO => OptionReply::Info(parse_info_reply(data)?),
        REP_META_CONTEXT => {
            let id = r.u32().map_err(|_| invalid("NBD_REP_META_CONTEXT without a context id"))?;
            OptionReply::MetaContext { id, name: decode_str(r.rest())? }
        }
        t if t & REP_FLAG_ERROR != 0 => OptionReply::Error { reply_type: t, message: decode_message(data) },
        t => OptionReply::Unknown { reply_type: t, data: data.to_vec() },
    })
}

impl OptionReply {
    /// The reply type (`NBD_REP_...`).
    pub fn reply_type(&self) -> u32 {
        match self {
            OptionReply::Ack => REP_ACK,
            OptionReply::Server { .. } => REP_SERVER,
            OptionReply::Info(_) => REP_INFO,
            OptionReply::MetaContext { .. } => REP_META_CONTEXT,
            OptionReply::Error { reply_type, .. } | OptionReply::Unknown { reply_type, .. } => *reply_type,
        }
    }

    /// Encodes the whole reply to `option`, header and data. Strings must follow the
    /// spec's rules (no NUL, at most 4096 bytes) or this fails.
    pub fn encode(&self, option: u32) -> Result<Vec<u8>, ProtocolError> {
        let data = match self {
            OptionReply::Ack => Vec::new(),
            OptionReply::Server { name, description } => {
                check_str(name)?;
                check_str(description)?;
                let mut data = Vec::with_capacity(4 + name.len() + description.len());
                data.put_u32(len_u32("name", name.len())?);
                data.extend_from_slice(name.as_bytes());
                data.extend_from_slice(description.as_bytes());
                data
            }
            OptionReply::Info(info) => info.encode_data()?,
            OptionReply::MetaContext { id, name } => {
                check_str(name)?;
                let mut data = Vec::with_capacity(4 + name.len());
                data.put_u32(*id);
                data.extend_from_slice(name.as_bytes());
                data
            }
            OptionReply::Error { message, .. } => {
                check_str(message)?;
                message.as_bytes().to_vec()
            }
            OptionReply::Unknown { data, .. } => data.clone(),
        };
        encode_option_reply(option, self.reply_type(), &data)
    }
}

fn invalid(what: &str) -> ProtocolError {
    ProtocolError::InvalidReply(what.to_owned())
}

// ---- Server-side helpers ----------------------------------------------------------------------

/// Encodes the reply to an infallible message: the data is bounded well below the limits.
fn encode_bounded(option: u32, reply: &OptionReply) -> Vec<u8> {
    reply.encode(option).unwrap_or_default()
}

/// `NBD_REP_ACK` to `option` (20 bytes).
pub fn encode_option_ack(option: u32) -> Vec<u8> {
    encode_bounded(option, &OptionReply::Ack)
}

/// An error reply (`reply_type` is one of the `REP_ERR_...` codes) with an optional
/// message for humans. The message is cut to 4096 bytes and NUL characters are dropped.
pub fn encode_option_error(option: u32, reply_type: u32, message: Option<&str>) -> Vec<u8> {
    let message = clean_message(message.unwrap_or(""));
    encode_bounded(option, &OptionReply::Error { reply_type, message })
}

/// One `NBD_REP_SERVER` reply to `NBD_OPT_LIST`: an export name and an optional
/// description (cut to 4096 bytes). Fails if the name breaks the string rules.
pub fn encode_rep_server(name: &str, description: Option<&str>) -> Result<Vec<u8>, ProtocolError> {
    let description = clean_message(description.unwrap_or(""));
    OptionReply::Server { name: name.to_owned(), description }.encode(OPT_LIST)
}

/// `NBD_REP_INFO` / `NBD_INFO_EXPORT` in reply to `NBD_OPT_INFO` or `NBD_OPT_GO`.
pub fn encode_info_export(option: u32, size: u64, transmission_flags: u16) -> Vec<u8> {
    encode_bounded(option, &OptionReply::Info(InfoReply::Export { size, flags: transmission_flags }))
}

/// `NBD_REP_INFO` / `NBD_INFO_NAME`. Fails if the name breaks the string rules.
pub fn encode_info_name(option: u32, name: &str) -> Result<Vec<u8>, ProtocolError> {
    OptionReply::Info(InfoReply::Name(name.to_owned())).encode(option)
}

/// `NBD_REP_INFO` / `NBD_INFO_BLOCK_SIZE`.
pub fn encode_info_block_size(option: u32, block_size: BlockSize) -> Vec<u8> {
    encode_bounded(option, &OptionReply::Info(InfoReply::BlockSize(block_size)))
}

/// One `NBD_REP_META_CONTEXT` reply to `option` (`LIST_` or `SET_META_CONTEXT`): a context
/// `id` (the spec asks for 0 in a list) and its name. Fails if the name breaks the string
/// rules.
pub fn encode_rep_meta_context(option: u32, id: u32, name: &str) -> Result<Vec<u8>, ProtocolError> {
    OptionReply::MetaContext { id, name: name.to_owned() }.encode(option)
}
