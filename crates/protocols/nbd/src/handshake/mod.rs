//! The handshake phase: greeting, client flags, options and option replies.
//!
//! A fixed newstyle handshake, as the server sees it:
//!
//! 1. send [`encode_server_greeting`] (18 bytes);
//! 2. read 4 bytes, [`decode_client_flags`] (an error means: close the connection);
//! 3. repeat: read 16 bytes, [`decode_option_header`] (an error means: close), read
//!    `length` bytes, [`parse_option`]. Answer with the encoders in [`reply`]; a
//!    [`ProtocolError`] from `parse_option` is answered with
//!    [`ProtocolError::option_reply_error`] when that is `Some`, except after
//!    `NBD_OPT_EXPORT_NAME`, which cannot be answered with an error.
//!    Metadata context options are answered with [`select_meta_contexts`] and
//!    [`encode_rep_meta_context`].
//! 4. `NBD_OPT_GO` answered with `NBD_REP_ACK`, or `NBD_OPT_EXPORT_NAME` answered with
//!    [`encode_export_name_reply`], enters transmission.
//!
//! The client does the mirror image with [`encode_client_flags`],
//! [`decode_server_greeting`], [`ClientOption::encode`] / [`encode_go`],
//! [`decode_option_reply_header`] and [`parse_option_reply`].

pub mod meta;
pub mod option;
pub mod reply;
#[cfg(test)]
mod tests;

pub use meta::{MetaQueryMode, select_meta_contexts, split_context_name};
pub use option::{ClientOption, OptionHeader, decode_option_header, encode_go, encode_option, parse_option};
pub use reply::{
    BlockSize, InfoReply, OptionReply, OptionReplyHeader, decode_option_reply_header, encode_info_block_size,
    encode_info_export, encode_info_name, encode_option_ack, encode_option_error, encode_option_reply,
    encode_rep_meta_context, encode_rep_server, parse_info_reply, parse_option_reply,
};

use crate::ProtocolError;
use crate::consts::{
    EXPORT_NAME_REPLY_LEN, EXPORT_NAME_REPLY_ZEROES, FLAG_C_FIXED_NEWSTYLE, FLAG_C_NO_ZEROES,
    FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES, IHAVEOPT, NBDMAGIC, SERVER_GREETING_LEN,
};
use crate::wire::Reader;

/// The server greeting: `NBDMAGIC`, `IHAVEOPT`, then the 16-bit handshake flags
/// (normally [`FLAG_FIXED_NEWSTYLE`] `|` [`FLAG_NO_ZEROES`]).
pub fn encode_server_greeting(handshake_flags: u16) -> [u8; SERVER_GREETING_LEN] {
    let mut out = [0; SERVER_GREETING_LEN];
    out[..8].copy_from_slice(&NBDMAGIC.to_be_bytes());
    out[8..16].copy_from_slice(&IHAVEOPT.to_be_bytes());
    out[16..].copy_from_slice(&handshake_flags.to_be_bytes());
    out
}

/// Checks both magics of a server greeting and returns the handshake flags. Unknown
/// flags are returned as they are; the client ignores them.
pub fn decode_server_greeting(bytes: &[u8; SERVER_GREETING_LEN]) -> Result<u16, ProtocolError> {
    let mut r = Reader::new(bytes);
    expect_magic(r.u64()?, NBDMAGIC)?;
    expect_magic(r.u64()?, IHAVEOPT)?;
    r.u16()
}

pub(crate) fn expect_magic(found: u64, expected: u64) -> Result<(), ProtocolError> {
    if found == expected { Ok(()) } else { Err(ProtocolError::BadMagic { expected, found }) }
}

/// The 32-bit client flags sent after the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientFlags {
    /// [`FLAG_C_FIXED_NEWSTYLE`]: the client speaks fixed newstyle.
    pub fixed_newstyle: bool,
    /// [`FLAG_C_NO_ZEROES`]: no 124 zero bytes after the `NBD_OPT_EXPORT_NAME` reply.
    pub no_zeroes: bool,
}

impl ClientFlags {
    /// The flags as wire bits.
    pub fn bits(self) -> u32 {
        let mut bits = 0;
        if self.fixed_newstyle {
            bits |= FLAG_C_FIXED_NEWSTYLE;
        }
        if self.no_zeroes {
            bits |= FLAG_C_NO_ZEROES;
        }
        bits
    }
}

/// Encodes the client flags.
pub fn encode_client_flags(flags: ClientFlags) -> [u8; 4] {
    flags.bits().to_be_bytes()
}

/// Decodes the client flags, given the handshake flags the server advertised. Unknown
/// flags, or flags matching nothing the server advertised, are an error after which the
/// server MUST drop the connection.
pub fn decode_client_flags(bytes: &[u8; 4], advertised: u16) -> Result<ClientFlags, ProtocolError> {
    let flags = u32::from_be_bytes(*bytes);
    let mut allowed = 0;
    if advertised & FLAG_FIXED_NEWSTYLE != 0 {
        allowed |= FLAG_C_FIXED_NEWSTYLE;
    }
    if advertised & FLAG_NO_ZEROES != 0 {
        allowed |= FLAG_C_NO_ZEROES;
    }
    if flags & !allowed != 0 {
        return Err(ProtocolError::BadClientFlags { flags, advertised });
    }
    Ok(ClientFlags {
        fixed_newstyle: flags & FLAG_C_FIXED_NEWSTYLE != 0,
        no_zeroes: flags & FLAG_C_NO_ZEROES != 0,
    })
}

/// The reply to `NBD_OPT_EXPORT_NAME`: export size, transmission flags, and 124 zero
/// bytes unless the client negotiated `NO_ZEROES` (10 or 134 bytes). There is no option
/// reply header: this message ends the handshake.
pub fn encode_export_name_reply(size: u64, transmission_flags: u16, no_zeroes: bool) -> Vec<u8> {
    let zeroes = if no_zeroes { 0 } else { EXPORT_NAME_REPLY_ZEROES };
    let mut out = Vec::with_capacity(EXPORT_NAME_REPLY_LEN + zeroes);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&transmission_flags.to_be_bytes());
    out.resize(EXPORT_NAME_REPLY_LEN + zeroes, 0);
    out
}

/// Decodes the first 10 bytes of the reply to `NBD_OPT_EXPORT_NAME` into
/// `(export size, transmission flags)`. The client then skips 124 zero bytes unless it
/// negotiated `NO_ZEROES`.
pub fn decode_export_name_reply(bytes: &[u8; EXPORT_NAME_REPLY_LEN]) -> (u64, u16) {
    let [s0, s1, s2, s3, s4, s5, s6, s7, f0, f1] = *bytes;
    (u64::from_be_bytes([s0, s1, s2, s3, s4, s5, s6, s7]), u16::from_be_bytes([f0, f1]))
}
