//! # nbd — the NBD wire protocol
//!
//! The [Network Block Device protocol](https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md)
//! as pure functions over byte slices (no sockets, no threads, no I/O in [`handshake`],
//! [`transmission`] and [`consts`]): the server and the client read exact-size messages
//! from their sockets and hand them to these decoders; every decoder returns an error
//! instead of panicking on any input, and all offset/length arithmetic is checked.
//! The socket code lives apart: the client in the `disks` crate (the `nbd(uri=...)` disk
//! driver), the server in the `nbd-server` front end. This crate depends on nothing of
//! irpstack's.
//!
//! - [`handshake`]: the fixed newstyle handshake — greeting, client flags, options
//!   (`EXPORT_NAME`, `ABORT`, `LIST`, `INFO`, `GO`, `STRUCTURED_REPLY`, metadata
//!   contexts, with the query rules of [`handshake::meta`]) and option replies.
//! - [`transmission`]: requests and their validation against the export
//!   ([`transmission::Command::classify`]), simple replies, structured reply chunks
//!   (block status chunks for `base:allocation` included).
//! - [`consts`]: every magic, flag, code and error value, named as in the spec.
//! - `fuzz` (with the `fuzzing` feature): the entry points of the `fuzz/` targets, whose
//!   corpus also replays in this crate's tests.
//!
//! Errors: [`ProtocolError`] for bytes that break the protocol, [`RequestError`] for
//! well-formed requests the server refuses (with the NBD error value to reply with and
//! what to do with the payload, [`PayloadAction`]).
//!
//! Not implemented: oldstyle negotiation, TLS (the server answers `STARTTLS` with an
//! error), the experimental extended headers and `NBD_CMD_RESIZE`.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod consts;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
pub mod handshake;
pub mod transmission;
mod wire;

pub use error::{PayloadAction, ProtocolError, RequestError, RequestErrorKind};

#[cfg(test)]
mod testutil {
    /// Bytes from a hex string; whitespace is ignored.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
