//! # nbd-tls — TLS for NBD (`NBD_OPT_STARTTLS`)
//!
//! - [`certs`]: the X.509 credentials in the directory layout qemu-nbd
//!   (`tls-creds-x509,dir=DIR`) and nbdkit (`--tls-certificates DIR`) use: `ca-cert.pem`,
//!   `server-cert.pem`, `server-key.pem` for a server, `ca-cert.pem` and optionally
//!   `client-cert.pem`, `client-key.pem` for a client. Every error names the file.
//! - [`relay`]: after the TLS handshake, a relay puts the rustls session between the
//!   socket and one end of a Unix socket pair, so that the code that reads requests in one
//!   thread and writes replies in another goes on using a plain socket (TLS state cannot be
//!   shared by two file descriptors the way a plain socket's `try_clone` is).
//!
//! The crypto provider is rustls' `ring`; TLS 1.2 and 1.3 are accepted.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod certs;
pub mod relay;
pub mod testing;

pub use certs::{TlsError, client_config, server_config};
pub use relay::{Relay, Socket, handshake, start};
pub use rustls;

/// When a peer may or must use TLS, nbdkit's `--tls` words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// `NBD_OPT_STARTTLS` is refused (`NBD_REP_ERR_UNSUP`).
    #[default]
    Off,
    /// Clients may upgrade with `NBD_OPT_STARTTLS`, or not.
    On,
    /// Every option but `NBD_OPT_STARTTLS` and `NBD_OPT_ABORT` is refused with
    /// `NBD_REP_ERR_TLS_REQD` until TLS is negotiated (the spec's forced TLS).
    Require,
}

impl std::str::FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<TlsMode, String> {
        match s {
            "off" => Ok(TlsMode::Off),
            "on" => Ok(TlsMode::On),
            "require" => Ok(TlsMode::Require),
            other => Err(format!("TLS mode {other:?}: expected off, on or require")),
        }
    }
}

impl std::fmt::Display for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsMode::Off => "off",
            TlsMode::On => "on",
            TlsMode::Require => "require",
        })
    }
}
