//! The errors of the protocol layer.
//!
//! [`ProtocolError`] is about bytes that do not follow the protocol (bad magic, short
//! input, malformed option data). [`RequestError`] is about a well-formed request the
//! server must refuse; it carries the NBD error value to reply with and says what to do
//! with the request's payload.

use crate::consts::{CMD_WRITE, CMD_WRITE_ZEROES, EINVAL, ENOSPC, EPERM, REP_ERR_INVALID};

/// Bytes that do not follow the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A message did not start with its magic number.
    #[error("bad magic: expected {expected:#x}, found {found:#x}")]
    BadMagic {
        /// The magic the message must start with.
        expected: u64,
        /// The value found instead.
        found: u64,
    },
    /// The input ended before the message did.
    #[error("message too short: needed {needed} bytes, got {got}")]
    TooShort {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// Option data longer than [`MAX_OPTION_DATA`](crate::consts::MAX_OPTION_DATA); the
    /// server closes the connection rather than read it.
    #[error("option data of {length} bytes exceeds the limit of {max}")]
    OptionTooLarge {
        /// The announced data length.
        length: u32,
        /// The limit.
        max: u32,
    },
    /// Option reply data longer than the limit; the client closes the connection.
    #[error("option reply data of {length} bytes exceeds the limit of {max}")]
    ReplyTooLarge {
        /// The announced data length.
        length: u32,
        /// The limit.
        max: u32,
    },
    /// The client sent flags the server does not know or did not advertise; the server
    /// MUST drop the connection.
    #[error("client flags {flags:#x} not allowed (server advertised {advertised:#x})")]
    BadClientFlags {
        /// The client's flags.
        flags: u32,
        /// The handshake flags the server sent.
        advertised: u16,
    },
    /// Option data that does not match the option's format. Unless the option is
    /// `NBD_OPT_EXPORT_NAME` (which cannot be answered), the server replies
    /// `NBD_REP_ERR_INVALID` and goes on: see [`ProtocolError::option_reply_error`].
    #[error("invalid option data: {0}")]
    InvalidOption(String),
    /// A string (export name, query) that breaks the spec's rules: not UTF-8, contains
    /// NUL, or longer than [`MAX_STRING_LEN`](crate::consts::MAX_STRING_LEN).
    #[error("invalid string: {0}")]
    InvalidString(&'static str),
    /// A server reply (option reply or structured chunk) whose contents do not match its
    /// type; the client initiates a hard disconnect.
    #[error("invalid reply: {0}")]
    InvalidReply(String),
    /// A value too large for its length field (an encoder's input).
    #[error("{what} of {length} bytes does not fit its length field")]
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length.
        length: usize,
    },
}

impl ProtocolError {
    /// The option reply error the server sends for this error during option haggling, or
    /// `None` when the server must close the connection instead.
    pub fn option_reply_error(&self) -> Option<u32> {
        match self {
            ProtocolError::InvalidOption(_) | ProtocolError::InvalidString(_) => Some(REP_ERR_INVALID),
            _ => None,
        }
    }
}

/// What the server does with the payload of a request it refuses.
///
/// The payload of `NBD_CMD_WRITE` (`length` bytes after the header) is on the wire whether
/// or not the server accepts the write; it must be read to keep the stream in sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadAction {
    /// No payload follows the header.
    None,
    /// Read and discard this many bytes, then send the error reply.
    Discard(u32),
    /// The payload is too large to skip (a denial of service): close the connection
    /// without a reply.
    Disconnect,
}

/// A well-formed request the server refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (cookie {cookie:#x})")]
pub struct RequestError {
    /// The request's cookie, for the error reply.
    pub cookie: u64,
    /// Why the request is refused.
    pub kind: RequestErrorKind,
    /// What to do with the payload before replying.
    pub payload: PayloadAction,
}

impl RequestError {
    /// The NBD error value to send in the reply.
    pub fn errno(&self) -> u32 {
        self.kind.errno()
    }
}

/// Why a request is refused, and (through [`RequestErrorKind::errno`]) the NBD error to
/// reply with, as the spec's "Error values" section recommends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestErrorKind {
    /// A command code this crate does not know (including the experimental
    /// `NBD_CMD_RESIZE`): `EINVAL`.
    #[error("unknown command {0}")]
    UnknownCommand(u16),
    /// A command the server did not advertise (flush without `SEND_FLUSH`, trim without
    /// `SEND_TRIM`, write-zeroes without `SEND_WRITE_ZEROES`): `EINVAL`.
    #[error("command {0} not advertised by the server")]
    NotAdvertised(u16),
    /// Command flags not valid for this command or not advertised: `EINVAL`.
    #[error("flags {flags:#x} not allowed on command {command}")]
    BadFlags {
        /// The command.
        command: u16,
        /// The offending flag bits.
        flags: u16,
    },
    /// A write, trim or write-zeroes on a read-only export: `EPERM`.
    #[error("command {0} on a read-only export")]
    ReadOnly(u16),
    /// A read or write longer than the maximum payload: `EINVAL`, as qemu-nbd answers.
    /// (`EOVERFLOW` is what the spec reserves for a `DF` read too large to send in one
    /// chunk; this refusal is about the request's size, whatever its flags.)
    #[error("command {command} length {length} exceeds the maximum payload {max}")]
    TooLarge {
        /// The command.
        command: u16,
        /// The requested length.
        length: u32,
        /// The maximum payload.
        max: u32,
    },
    /// `offset + length` beyond the end of the export (or overflowing `u64`): `ENOSPC` for
    /// writes and write-zeroes, `EINVAL` otherwise.
    #[error("command {command} range {offset}+{length} beyond the export size {size}")]
    OutOfRange {
        /// The command.
        command: u16,
        /// Request offset.
        offset: u64,
        /// Request length.
        length: u32,
        /// Export size.
        size: u64,
    },
    /// Offset or length not a multiple of the advertised minimum block size: `EINVAL`.
    #[error("command {command} range {offset}+{length} not aligned to {min_block}")]
    Misaligned {
        /// The command.
        command: u16,
        /// Request offset.
        offset: u64,
        /// Request length.
        length: u32,
        /// The minimum block size.
        min_block: u32,
    },
    /// A flush with a nonzero offset or length (both are reserved): `EINVAL`.
    #[error("flush with nonzero offset {offset} or length {length}")]
    FlushRange {
        /// Request offset.
        offset: u64,
        /// Request length.
        length: u32,
    },
}

impl RequestErrorKind {
    /// The NBD error value to reply with.
    pub fn errno(&self) -> u32 {
        match *self {
            RequestErrorKind::ReadOnly(_) => EPERM,
            RequestErrorKind::OutOfRange { command: CMD_WRITE | CMD_WRITE_ZEROES, .. } => ENOSPC,
            _ => EINVAL,
        }
    }
}
