//! What a server serves and where: listeners, exports, limits; and the TOML file form.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use irp::DeviceRef;
use serde::Deserialize;
use stack::{BuildContext, DriverRegistry, SpecError, StackSpec};

use crate::error::ConfigError;
use crate::tls::{TlsConfig, TlsMode};

/// Where the server accepts connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address, `HOST:PORT` (`127.0.0.1:10809`, `[::1]:0`, `localhost:10809`); port 0
    /// picks a free port ([`Server::local_addr`](crate::Server::local_addr) tells which).
    Tcp(String),
    /// A Unix socket path. A stale socket file (nobody listening) is replaced; the file is
    /// removed when the server stops.
    Unix(PathBuf),
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp(addr) => write!(f, "tcp {addr}"),
            Listen::Unix(path) => write!(f, "unix socket {}", path.display()),
        }
    }
}

/// The stack an export serves.
#[derive(Clone, Debug)]
pub enum ExportStack {
    /// Built by the server from a spec (with [`ServerConfig::build`] and
    /// [`ServerConfig::registry`]).
    Spec(StackSpec),
    /// A stack the caller built (the top device, or any device of it).
    Device(DeviceRef),
}

/// One export: a name, a stack, and whether clients may write.
#[derive(Clone, Debug)]
pub struct ExportConfig {
    /// The name clients ask for (`""` is the default export).
    pub name: String,
    /// The stack.
    pub stack: ExportStack,
    /// Refuse writes, trims and write-zeroes (`NBD_FLAG_READ_ONLY`). A stack whose devices
    /// are read-only is served read-only anyway.
    pub read_only: bool,
    /// A description for `NBD_OPT_LIST` and `NBD_INFO_DESCRIPTION`.
    pub description: Option<String>,
}

impl ExportConfig {
    /// A writable export of a stack built from `spec`.
    pub fn new(name: impl Into<String>, spec: StackSpec) -> ExportConfig {
        ExportConfig {
            name: name.into(),
            stack: ExportStack::Spec(spec),
            read_only: false,
            description: None,
        }
    }

    /// A writable export of a stack the caller built.
    pub fn from_device(name: impl Into<String>, device: DeviceRef) -> ExportConfig {
        ExportConfig {
            name: name.into(),
            stack: ExportStack::Device(device),
            read_only: false,
            description: None,
        }
    }

    /// Sets [`ExportConfig::read_only`].
    pub fn read_only(mut self, read_only: bool) -> ExportConfig {
        self.read_only = read_only;
        self
    }

    /// Sets [`ExportConfig::description`].
    pub fn description(mut self, description: impl Into<String>) -> ExportConfig {
        self.description = Some(description.into());
        self
    }
}

/// Bounds that keep one client, or many, from taking the server's memory or threads.
///
/// The server's memory beyond its stacks' (caches) stays under twice
/// [`Limits::max_server_bytes_in_flight`] (fair shares may go past it) plus 16 MiB of
/// transfer buffers kept for reuse
/// (at most 4 MiB per connection), plus a 128 KiB read buffer and a thread or two per
/// connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Requests read but not yet answered, per connection; the reader waits above it.
    pub max_requests_in_flight: usize,
    /// Payload and read-buffer bytes of the requests in flight, per connection; one request
    /// (at most 32 MiB) is always let through when nothing else is in flight. Default
    /// 16 MiB, a quarter of the server-wide bound: a client that stops reading its replies
    /// holds at most this much until `stall_timeout` (when others wait for the room) or
    /// `reply_timeout` closes it; it cannot stall the rest, whose fair shares of the
    /// server-wide bound go in regardless.
    pub max_bytes_in_flight: usize,
    /// Payload and read-buffer bytes of the requests in flight on all connections together;
    /// a reader that has room on its connection waits for room here. One request is always
    /// let through when no bytes are in flight on the server, and requests without a
    /// buffer (flush, trim, write-zeroes) never wait for it. Each connection is entitled to
    /// its fair share, this bound divided by the connections holding bytes: requests
    /// within it go in even above the bound, up to twice the bound — so clients that stop
    /// reading cannot lock the others out (see also [`Limits::stall_timeout`]). An export
    /// whose stack is an NBD client of this same server could wait on itself under this
    /// bound: serve such a stack from another server.
    pub max_server_bytes_in_flight: usize,
    /// Options per handshake; the connection is closed after that many.
    pub max_options: usize,
    /// Connections at once, in the handshake or in transmission. At the limit, a new
    /// connection takes the place of the one idle longest (nothing in flight, nothing
    /// received for at least [`Limits::evict_idle_after`]), which is closed; when none is
    /// idle that long, the new connection is closed at once. Each is logged with why.
    pub max_connections: usize,
    /// Connections still in the handshake at once, a part of `max_connections`: clients
    /// that connect and dawdle can hold at most this many places, never those of
    /// established clients. More are closed at once, with a warning.
    pub max_handshakes: usize,
    /// How long the whole handshake may take, from the greeting to the choice of an
    /// export (however the client spreads its bytes; a TLS handshake after
    /// `NBD_OPT_STARTTLS` included); then the connection is closed.
    pub handshake_timeout: Duration,
    /// A connection in transmission with nothing in flight on which nothing arrives for
    /// this long is closed (also one stopped in the middle of a request); `None`: never
    /// (the default — NBD clients such as a VM's disk stay connected while idle).
    pub idle_timeout: Option<Duration>,
    /// At `max_connections`, a connection idle at least this long may be closed to make
    /// room for a new one.
    pub evict_idle_after: Duration,
    /// How long writing one reply may make no progress (a client that stops reading its
    /// replies); after that the connection is closed.
    pub reply_timeout: Duration,
    /// How long a connection may read nothing of its replies while it holds more than its
    /// fair share of [`Limits::max_server_bytes_in_flight`] and another connection waits
    /// for room there; after that it is closed, which gives the room back (its requests
    /// still complete on the stack).
    pub stall_timeout: Duration,
    /// How long a stop waits for the connections to answer what they have in flight;
    /// then those whose clients do not read their replies are closed (their replies
    /// dropped; the requests still complete on the stacks, and the caches are written
    /// back after). So a stop takes about this long, whatever clients do.
    pub stop_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_requests_in_flight: 128,
            max_bytes_in_flight: 16 << 20,
            max_server_bytes_in_flight: 64 << 20,
            max_options: 256,
            max_connections: 1024,
            max_handshakes: 64,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: None,
            evict_idle_after: Duration::from_secs(30),
            reply_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_millis(500),
            stop_grace: Duration::from_secs(2),
        }
    }
}

/// Everything [`Server::bind`](crate::Server::bind) needs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen; at least one.
    pub listen: Vec<Listen>,
    /// What to serve; at least one, names unique.
    pub exports: Vec<ExportConfig>,
    /// The export a client gets when it asks for `""` and no export is named `""`.
    pub default_export: Option<String>,
    /// Per-connection and server-wide bounds.
    pub limits: Limits,
    /// How specs are built: base directory for relative paths, default image size.
    pub build: BuildContext,
    /// The drivers specs may name.
    pub registry: DriverRegistry,
    /// `NBD_OPT_STARTTLS`: off by default.
    pub tls: TlsConfig,
}

impl ServerConfig {
    /// No listeners, no exports, default limits, the built-in drivers.
    pub fn new() -> ServerConfig {
        ServerConfig {
            listen: Vec::new(),
            exports: Vec::new(),
            default_export: None,
            limits: Limits::default(),
            build: BuildContext::new(),
            registry: DriverRegistry::builtin(),
            tls: TlsConfig::default(),
        }
    }

    /// Adds a listener.
    pub fn listen(mut self, listen: Listen) -> ServerConfig {
        self.listen.push(listen);
        self
    }

    /// Adds an export.
    pub fn export(mut self, export: ExportConfig) -> ServerConfig {
        self.exports.push(export);
        self
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::new()
    }
}

/// The TOML configuration file of `irpstack serve --config FILE`:
///
/// ```toml
/// listen = "127.0.0.1:10809"   # optional
/// socket = "/run/irpstack.sock" # optional
/// default = "a"                # optional: the export "" means; default: the first export
/// tls = "require"              # optional: off (default), on, require
/// tls_certificates = "/etc/irpstack/pki" # ca-cert.pem, server-cert.pem, server-key.pem
/// tls_verify_peer = false      # optional: require a client certificate signed by ca-cert.pem
///
/// [[export]]
/// name = "a"
/// stack = "cache(size=256M) / file(path=a.img,size=1G)"
/// read_only = false            # optional
/// description = "scratch disk" # optional
///
/// [[export]]                   # a stack can also be written layer by layer, top first
/// name = "b"
/// [[export.layer]]
/// driver = "cache"
/// size = "64M"
/// [[export.layer]]
/// driver = "file"
/// path = "b.img"
/// size = "1G"
/// ```
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// A TCP address to listen on.
    pub listen: Option<String>,
    /// A Unix socket to listen on.
    pub socket: Option<PathBuf>,
    /// The export `""` stands for.
    pub default: Option<String>,
    /// `off`, `on` or `require`.
    pub tls: Option<String>,
    /// The TLS certificates directory.
    pub tls_certificates: Option<PathBuf>,
    /// Require client certificates.
    #[serde(default)]
    pub tls_verify_peer: bool,
    /// The exports.
    #[serde(default)]
    pub export: Vec<FileExport>,
}

/// One `[[export]]` table of a [`FileConfig`]: its stack is `stack = "..."` or
/// `[[export.layer]]` tables (one per layer, top first, each with its `driver`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileExport {
    /// The export name.
    pub name: String,
    /// The stack spec.
    pub stack: Option<String>,
    /// The stack as layer tables.
    #[serde(default)]
    pub layer: Vec<toml::Table>,
    /// Serve it read-only.
    #[serde(default)]
    pub read_only: bool,
    /// A description for clients.
    pub description: Option<String>,
}

impl FileExport {
    /// The stack, from `stack` or from the `[[export.layer]]` tables.
    fn spec(&self) -> Result<StackSpec, SpecError> {
        match (&self.stack, self.layer.is_empty()) {
            (Some(text), true) => StackSpec::parse(text),
            (None, false) => {
                // The layer tables read as a stack file's `[[layer]]` tables.
                let mut document = toml::Table::new();
                let layers = self.layer.iter().cloned().map(toml::Value::Table).collect();
                document.insert("layer".to_owned(), toml::Value::Array(layers));
                StackSpec::from_toml(&document.to_string())
            }
            (Some(_), false) => {
                Err(SpecError::toml("use either `stack = \"...\"` or `[[export.layer]]` tables, not both"))
            }
            (None, true) => Err(SpecError::toml(
                "the export has no stack: add `stack = \"...\"` or `[[export.layer]]` tables",
            )),
        }
    }
}

impl FileConfig {
    /// Parses a TOML document; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
        let config: FileConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Toml { origin: origin.to_owned(), message: e.to_string() })?;
        if config.export.is_empty() {
            return Err(ConfigError::NoExports { origin: origin.to_owned() });
        }
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn from_path(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        FileConfig::parse(&text, &path.display().to_string())
    }

    /// The exports with their specs parsed; the first bad spec is an error naming its export.
    pub fn exports(&self) -> Result<Vec<ExportConfig>, ConfigError> {
        self.export
            .iter()
            .map(|e| {
                let spec = e.spec().map_err(|source| ConfigError::Stack { name: e.name.clone(), source })?;
                let mut export = ExportConfig::new(&e.name, spec).read_only(e.read_only);
                export.description.clone_from(&e.description);
                Ok(export)
            })
            .collect()
    }

    /// The TLS settings the file names (off when it names none); `origin` names the file
    /// in errors.
    pub fn tls(&self, origin: &str) -> Result<TlsConfig, ConfigError> {
        let mode = match &self.tls {
            None => TlsMode::Off,
            Some(word) => {
                word.parse().map_err(|message| ConfigError::Toml { origin: origin.to_owned(), message })?
            }
        };
        Ok(TlsConfig { mode, certificates: self.tls_certificates.clone(), verify_peer: self.tls_verify_peer })
    }

    /// The listeners the file names (TCP first).
    pub fn listeners(&self) -> Vec<Listen> {
        let tcp = self.listen.iter().map(|a| Listen::Tcp(a.clone()));
        tcp.chain(self.socket.iter().map(|p| Listen::Unix(p.clone()))).collect()
    }
}
