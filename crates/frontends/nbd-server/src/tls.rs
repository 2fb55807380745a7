//! TLS settings of a server: when `NBD_OPT_STARTTLS` is offered or required, and the
//! credentials it uses.

use std::path::PathBuf;
use std::sync::Arc;

pub use nbd_tls::TlsMode;
use nbd_tls::rustls::ServerConfig as RustlsConfig;

use crate::error::ServerError;

/// TLS as nbdkit offers it (`--tls=off|on|require`, `--tls-certificates DIR`,
/// `--tls-verify-peer`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// Off (the default), on (clients choose), or required.
    pub mode: TlsMode,
    /// The certificates directory (`server-cert.pem`, `server-key.pem`, and `ca-cert.pem`
    /// with `verify_peer`): the layout of qemu-nbd's `tls-creds-x509` and nbdkit's.
    pub certificates: Option<PathBuf>,
    /// Require a client certificate signed by `ca-cert.pem`.
    pub verify_peer: bool,
}

/// The settings, with the credentials loaded.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tls {
    pub(crate) mode: TlsMode,
    /// Present unless the mode is off.
    pub(crate) config: Option<Arc<RustlsConfig>>,
}

impl Tls {
    /// Loads the credentials; every error names the file or directory at fault.
    pub(crate) fn load(config: &TlsConfig) -> Result<Tls, ServerError> {
        if config.mode == TlsMode::Off {
            if config.certificates.is_some() || config.verify_peer {
                tracing::warn!("TLS is off: the TLS certificates and --tls-verify-peer are not used");
            }
            return Ok(Tls::default());
        }
        let Some(dir) = &config.certificates else {
            return Err(ServerError::TlsSettings(format!(
                "TLS is {} but no certificates directory was given (--tls-certificates DIR, holding \
                 server-cert.pem and server-key.pem)",
                config.mode
            )));
        };
        let rustls = nbd_tls::server_config(dir, config.verify_peer)?;
        Ok(Tls { mode: config.mode, config: Some(rustls) })
    }
}
