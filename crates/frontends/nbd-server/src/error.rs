//! The errors of starting and stopping a server, and of reading its configuration file.

use std::path::PathBuf;

use irp::{IoError, Status};
use stack::SpecError;

/// Why a server could not start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration has no export.
    #[error("nothing to serve: configure at least one export")]
    NoExports,
    /// The configuration has no listener.
    #[error("nowhere to listen: configure a TCP address or a Unix socket")]
    NoListeners,
    /// Two exports have the same name.
    #[error("export name {name:?} is used twice")]
    DuplicateExport {
        /// The name.
        name: String,
    },
    /// An export name the protocol cannot carry.
    #[error("invalid export name {name:?}: {reason}")]
    InvalidExportName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The default export is not one of the exports.
    #[error("the default export {name:?} is not one of the exports")]
    UnknownDefault {
        /// The name.
        name: String,
    },
    /// An export's stack spec is wrong or its drivers failed to start.
    #[error("export {name:?}: {source}")]
    Stack {
        /// The export.
        name: String,
        /// The spec error, with its caret under the text.
        source: SpecError,
    },
    /// An export's stack could not be registered or opened.
    #[error("export {name:?}: cannot open its stack: {source}")]
    Open {
        /// The export.
        name: String,
        /// The cause.
        source: IoError,
    },
    /// An export's stack did not say how large it is.
    #[error("export {name:?}: cannot read the size of its stack: {status}")]
    Size {
        /// The export.
        name: String,
        /// The status of the query.
        status: Status,
    },
    /// A listen address did not resolve.
    #[error("cannot resolve {addr:?}: {source}{}", resolve_hint(addr))]
    Resolve {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A listener could not be created.
    #[error("cannot listen on {what}: {source}{}", bind_hint(source))]
    Bind {
        /// The address or path.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS settings do not go together.
    #[error("{0}")]
    TlsSettings(String),
    /// The TLS credentials could not be loaded.
    #[error("TLS credentials: {0}")]
    Tls(#[from] nbd_tls::TlsError),
    /// Waiting for connections failed.
    #[error("waiting for connections failed: {0}")]
    Poll(std::io::Error),
}

/// A listen address needs its port: `localhost` alone is the usual slip.
fn resolve_hint(addr: &str) -> String {
    let has_port = match addr.rsplit_once(':') {
        Some((host, port)) => port.parse::<u16>().is_ok() && !host.is_empty(),
        None => false,
    };
    if has_port { String::new() } else { format!(" (a TCP address needs HOST:PORT, e.g. {addr}:10809)") }
}

fn bind_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => " (another server is listening there: pick another address)",
        std::io::ErrorKind::PermissionDenied => {
            " (permission denied: pick a port above 1023 or another path)"
        }
        _ => "",
    }
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{origin}: {message}")]
    Toml {
        /// The file.
        origin: String,
        /// The parser's message (with line, column and caret).
        message: String,
    },
    /// The file has no `[[export]]`.
    #[error("{origin}: no [[export]] table: add one with `name` and `stack`")]
    NoExports {
        /// The file.
        origin: String,
    },
    /// An export's stack spec does not parse.
    #[error("export {name:?}: {source}")]
    Stack {
        /// The export.
        name: String,
        /// The spec error, with its caret under the text.
        source: SpecError,
    },
}
