//! NBD URIs (`NetworkBlockDevice/nbd:doc/uri.md`): `nbd://host[:port][/export]`,
//! `nbd+unix:///export?socket=PATH`, and their TLS forms `nbds://`, `nbds+unix://`.
//!
//! The export name is the path without its leading `/`, percent-decoded
//! (`nbd://h//disk` names `/disk`). `tls-certificates=DIR` (libnbd's parameter) names the
//! certificates directory of a TLS URI; other `tls-*` parameters (PSK, user names) are
//! refused, as are vsock, user info, fragments and query parameters this client does not
//! know.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use nbd::consts::MAX_STRING_LEN;

/// The port IANA assigned to NBD, used when a URI names none.
pub const DEFAULT_PORT: u16 = 10809;

/// Where the server listens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP (`nbd://`).
    Tcp {
        /// Host name or IP address (an IPv6 address without its brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix domain socket (`nbd+unix://`). A path starting with NUL names a socket in
    /// Linux's abstract namespace.
    Unix {
        /// The socket.
        socket: PathBuf,
    },
}

/// A parsed NBD URI: a transport and an export name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NbdUri {
    /// Where to connect.
    pub transport: Transport,
    /// The export name ("" for the server's default export).
    pub export: String,
    /// `nbds://`, `nbds+unix://`: TLS is required (`NBD_OPT_STARTTLS` first).
    pub tls: bool,
    /// `tls-certificates=DIR`: `ca-cert.pem` (verifies the server), and `client-cert.pem`,
    /// `client-key.pem` if the server asks for a client certificate.
    pub tls_certificates: Option<PathBuf>,
}

/// Why a URI is not one this client can use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid NBD URI {uri:?}: {kind}")]
pub struct UriError {
    /// The URI as given.
    pub uri: String,
    /// What is wrong with it.
    pub kind: UriErrorKind,
}

/// What is wrong with a URI.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriErrorKind {
    /// No `scheme://`.
    #[error("expected nbd://host[:port][/export] or nbd+unix:///export?socket=PATH")]
    NotAUri,
    /// A scheme that is not NBD.
    #[error("unknown scheme {0:?} (expected nbd or nbd+unix)")]
    UnknownScheme(String),
    /// A `tls-*` parameter other than `tls-certificates`.
    #[error("the TLS parameter {0:?} is not supported (only tls-certificates=DIR)")]
    TlsUnsupported(String),
    /// `tls-certificates=` on a URI without TLS.
    #[error("tls-certificates= needs a TLS scheme: nbds:// or nbds+unix://")]
    TlsParameterWithoutTls,
    /// An NBD transport this client does not implement (vsock).
    #[error("the {0} transport is not supported (use nbd:// or nbd+unix://)")]
    UnsupportedTransport(String),
    /// `nbd://` without a host.
    #[error("nbd:// needs a host: nbd://host[:port][/export]")]
    MissingHost,
    /// A port that is not a number from 1 to 65535.
    #[error("bad port {0:?}")]
    BadPort(String),
    /// `user@` in the authority (only used for TLS authentication).
    #[error("user info is only used by TLS PSK authentication, which is not supported")]
    UserInfo,
    /// `nbd+unix://host/...`.
    #[error("nbd+unix:// takes no host; write nbd+unix:///export?socket=PATH")]
    HostOnUnix,
    /// `nbd+unix` without `?socket=`.
    #[error("nbd+unix:// needs ?socket=PATH")]
    MissingSocket,
    /// `socket=` on a TCP URI.
    #[error("socket= is only valid with nbd+unix://")]
    SocketOnTcp,
    /// A query parameter this client does not know, or one given twice.
    #[error("unknown or repeated query parameter {0:?}")]
    BadParameter(String),
    /// A `#fragment`.
    #[error("NBD URIs have no #fragment")]
    Fragment,
    /// A `%` not followed by two hex digits, or decoded bytes that are not UTF-8.
    #[error("bad percent-encoding in {0:?}")]
    BadEncoding(String),
    /// An export name the protocol cannot carry (NUL, or longer than 4096 bytes).
    #[error("the export name {0:?} contains NUL or is longer than 4096 bytes")]
    BadExportName(String),
}

impl NbdUri {
    /// Parses an NBD URI.
    pub fn parse(uri: &str) -> Result<NbdUri, UriError> {
        parse(uri).map_err(|kind| UriError { uri: uri.to_owned(), kind })
    }

    /// A TCP URI.
    pub fn tcp(host: impl Into<String>, port: u16, export: impl Into<String>) -> NbdUri {
        NbdUri {
            transport: Transport::Tcp { host: host.into(), port },
            export: export.into(),
            tls: false,
            tls_certificates: None,
        }
    }

    /// A Unix-socket URI.
    pub fn unix(socket: impl Into<PathBuf>, export: impl Into<String>) -> NbdUri {
        NbdUri {
            transport: Transport::Unix { socket: socket.into() },
            export: export.into(),
            tls: false,
            tls_certificates: None,
        }
    }

    /// The same URI over TLS, with the certificates in `dir` (when given).
    pub fn with_tls(mut self, dir: Option<PathBuf>) -> NbdUri {
        self.tls = true;
        self.tls_certificates = dir;
        self
    }

    /// The name the server's certificate must carry: the host, or `localhost` for a
    /// Unix socket (as `qemu-io ... tls-hostname=localhost` checks it).
    pub fn tls_server_name(&self) -> &str {
        match &self.transport {
            Transport::Tcp { host, .. } => host,
            Transport::Unix { .. } => "localhost",
        }
    }
}

impl FromStr for NbdUri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<NbdUri, UriError> {
        NbdUri::parse(s)
    }
}

fn parse(uri: &str) -> Result<NbdUri, UriErrorKind> {
    let (scheme, rest) = uri.split_once("://").ok_or(UriErrorKind::NotAUri)?;
    let (unix, tls) = match scheme.to_ascii_lowercase().as_str() {
        "nbd" => (false, false),
        "nbd+unix" => (true, false),
        "nbds" => (false, true),
        "nbds+unix" => (true, true),
        "nbd+vsock" | "nbds+vsock" => return Err(UriErrorKind::UnsupportedTransport("vsock".into())),
        _ => return Err(UriErrorKind::UnknownScheme(scheme.to_owned())),
    };
    if rest.contains('#') {
        return Err(UriErrorKind::Fragment);
    }
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let export = decode(path.strip_prefix('/').unwrap_or(path))?;
    if export.contains('\0') || export.len() > MAX_STRING_LEN {
        return Err(UriErrorKind::BadExportName(export));
    }

    let mut socket = None;
    let mut tls_certificates = None;
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let key = decode(key)?;
        match key.as_str() {
            "socket" if socket.is_none() => socket = Some(decode(value)?),
            "tls-certificates" if !tls => return Err(UriErrorKind::TlsParameterWithoutTls),
            "tls-certificates" if tls_certificates.is_none() => {
                tls_certificates = Some(PathBuf::from(decode(value)?));
            }
            k if k.starts_with("tls-") && k != "tls-certificates" => {
                return Err(UriErrorKind::TlsUnsupported(key));
            }
            _ => return Err(UriErrorKind::BadParameter(key)),
        }
    }

    let transport = if unix {
        if !authority.is_empty() {
            return Err(UriErrorKind::HostOnUnix);
        }
        match socket {
            Some(s) if !s.is_empty() => Transport::Unix { socket: PathBuf::from(s) },
            _ => return Err(UriErrorKind::MissingSocket),
        }
    } else {
        if socket.is_some() {
            return Err(UriErrorKind::SocketOnTcp);
        }
        let (host, port) = parse_authority(authority)?;
        Transport::Tcp { host, port }
    };
    Ok(NbdUri { transport, export, tls, tls_certificates })
}

/// `host[:port]` or `[v6][:port]`.
fn parse_authority(authority: &str) -> Result<(String, u16), UriErrorKind> {
    if authority.contains('@') {
        return Err(UriErrorKind::UserInfo);
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(UriErrorKind::MissingHost)?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or_else(|| UriErrorKind::BadPort(after.into()))?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host = decode(host)?;
    if host.is_empty() {
        return Err(UriErrorKind::MissingHost);
    }
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(p) => p.parse().ok().filter(|&p| p != 0).ok_or_else(|| UriErrorKind::BadPort(p.into()))?,
    };
    Ok((host, port))
}

/// Percent-decodes `s` (RFC 3986; `+` stays `+`).
fn decode(s: &str) -> Result<String, UriErrorKind> {
    let bad = || UriErrorKind::BadEncoding(s.to_owned());
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Percent-encodes everything but unreserved characters and those in `keep`.
fn encode(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.as_bytes().contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl fmt::Display for NbdUri {
    /// The canonical form, which [`NbdUri::parse`] reads back to an equal URI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let export = encode(&self.export, "/:@!$&'()*+,;=");
        let s = if self.tls { "s" } else { "" };
        let certificates =
            self.tls_certificates.as_ref().map(|dir| encode(&dir.to_string_lossy(), "/:@!$'()*+,;"));
        match &self.transport {
            Transport::Tcp { host, port } => {
                let host = if host.contains(':') {
                    format!("[{}]", host.replace('%', "%25"))
                } else {
                    encode(host, "!$'()*+,;=")
                };
                write!(f, "nbd{s}://{host}")?;
                if *port != DEFAULT_PORT {
                    write!(f, ":{port}")?;
                }
                write!(f, "/{export}")?;
                match certificates {
                    Some(dir) => write!(f, "?tls-certificates={dir}"),
                    None => Ok(()),
                }
            }
            Transport::Unix { socket } => {
                let socket = encode(&socket.to_string_lossy(), "/:@!$'()*+,;");
                write!(f, "nbd{s}+unix:///{export}?socket={socket}")?;
                match certificates {
                    Some(dir) => write!(f, "&tls-certificates={dir}"),
                    None => Ok(()),
                }
            }
        }
    }
}
