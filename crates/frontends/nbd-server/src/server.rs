//! [`Server`]: binds its listeners, builds its exports, accepts connections until stopped,
//! then stops gracefully.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use irp::IoManager;

use crate::config::ServerConfig;
use crate::connection::Registry;
use crate::context::Context;
use crate::error::ServerError;
use crate::export::Exports;
use crate::listener::Listener;
use crate::sys;
use crate::tls::{Tls, TlsMode};
use crate::transmission::ServerBounds;

/// An NBD server, bound and ready: [`Server::run`] serves until [`ServerHandle::stop`].
///
/// ```no_run
/// use nbd_server::{ExportConfig, Listen, Server, ServerConfig};
///
/// let spec = "cache(size=64M) / memory(size=1G)".parse()?;
/// let config = ServerConfig::new()
///     .listen(Listen::Tcp("127.0.0.1:0".into()))
///     .export(ExportConfig::new("", spec));
/// let manager = std::sync::Arc::new(irp::IoManager::new());
/// let server = Server::bind(config, std::sync::Arc::clone(&manager))?;
/// println!("listening on {:?}", server.local_addr());
/// let handle = server.handle();
/// let thread = std::thread::spawn(move || server.run());
/// // ... clients connect ...
/// handle.stop();
/// thread.join().unwrap()?;
/// manager.shutdown()?; // every cache written back
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Server {
    ctx: Arc<Context>,
    listeners: Vec<Listener>,
    waker: Arc<Waker>,
}

/// What one export serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportInfo {
    /// The name clients ask for.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Whether writes are refused.
    pub read_only: bool,
    /// The names of the devices of its stack, top first.
    pub devices: Vec<String>,
    /// The spec its stack was built from (canonical form), if it was built from one.
    pub spec: Option<String>,
}

/// Stops a running [`Server`] from another thread (or from a signal handler, with
/// [`ServerHandle::stop_on_signals`]).
#[derive(Clone, Debug)]
pub struct ServerHandle {
    waker: Arc<Waker>,
}

/// A socket pair: a byte written to `write` makes `read` readable, which wakes the
/// accept loop's `poll`.
#[derive(Debug)]
struct Waker {
    read: UnixStream,
    write: UnixStream,
}

impl Waker {
    fn new() -> io::Result<Waker> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        Ok(Waker { read, write })
    }
}

impl ServerHandle {
    /// Asks the server to stop: it stops accepting, answers every request in flight,
    /// closes the connections and shuts the stacks down; then [`Server::run`] returns.
    /// Calling it before `run` makes `run` stop at once.
    pub fn stop(&self) {
        // A full pipe already holds a wake-up: the error does not matter.
        let _ = (&self.waker.write).write(&[1]);
    }

    /// Makes SIGINT and SIGTERM stop the server as [`ServerHandle::stop`] does (a second
    /// signal exits the process at once, with status 130, printing what it abandons:
    /// what [`set_stopping`](crate::set_stopping) last said). For one server per process.
    pub fn stop_on_signals(&self) -> io::Result<()> {
        // The handler writes to this socket at any time from now on: keep it open for the
        // rest of the process.
        static KEEP_OPEN: Mutex<Vec<Arc<Waker>>> = Mutex::new(Vec::new());
        KEEP_OPEN.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::clone(&self.waker));
        sys::install_stop_handler(self.waker.write.as_raw_fd())
    }
}

impl Server {
    /// Binds every listener, then builds every export's stack (creating image files as
    /// the specs say), registers it with `manager` — the process's one I/O manager, shared
    /// with its other front ends — and reads its size.
    pub fn bind(config: ServerConfig, manager: Arc<IoManager>) -> Result<Server, ServerError> {
        if config.listen.is_empty() {
            return Err(ServerError::NoListeners);
        }
        // Before anything is bound or built: bad credentials fail fast, naming the file.
        let tls = Tls::load(&config.tls)?;
        let listeners = config.listen.iter().map(Listener::bind).collect::<Result<Vec<_>, _>>()?;
        let exports = Exports::build(&config, &manager)?;
        let waker =
            Waker::new().map_err(|source| ServerError::Bind { what: "a wake-up socket".into(), source })?;
        let bounds = ServerBounds::new(&config.limits);
        for listener in &listeners {
            warn_if_exposed(listener, tls.mode);
        }
        let ctx = Context { exports, manager, limits: config.limits, bounds, tls };
        Ok(Server { ctx: Arc::new(ctx), listeners, waker: Arc::new(waker) })
    }

    /// The address of the first TCP listener (with the port chosen when it was 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listeners.iter().find_map(Listener::local_addr)
    }

    /// The path of the first Unix socket listener.
    pub fn socket_path(&self) -> Option<&Path> {
        self.listeners.iter().find_map(Listener::socket_path)
    }

    /// One URI per listener for the default export: `nbd://127.0.0.1:10809`,
    /// `nbd+unix:///?socket=/path`; `nbds://`, `nbds+unix://` when TLS is required.
    pub fn uris(&self) -> Vec<String> {
        let tls = self.ctx.tls.mode == TlsMode::Require;
        let uri = |l: &Listener| {
            let uri = l.uri();
            match uri.strip_prefix("nbd") {
                Some(rest) if tls => format!("nbds{rest}"),
                _ => uri,
            }
        };
        self.listeners.iter().map(uri).collect()
    }

    /// The exports, in configuration order.
    pub fn exports(&self) -> Vec<ExportInfo> {
        let info = |e: &Arc<crate::export::Export>| ExportInfo {
            name: e.name.clone(),
            size: e.size,
            read_only: e.read_only,
            devices: e.devices.clone(),
            spec: e.spec.clone(),
        };
        self.ctx.exports.iter().map(info).collect()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle { waker: Arc::clone(&self.waker) }
    }

    /// Serves until stopped, then stops gracefully: closes the listeners, lets every
    /// connection answer its requests in flight and closes its handles. The stacks stay
    /// registered with the I/O manager: whoever owns it sends `IRP_MJ_SHUTDOWN` down every
    /// stack ([`IoManager::shutdown`]) once every front end has stopped.
    pub fn run(self) -> Result<(), ServerError> {
        let Server { ctx, listeners, waker } = self;
        let registry = Arc::new(Registry::default());
        let accepted = accept_until_stopped(&ctx, &listeners, &waker, &registry);
        tracing::info!("stopping: no new connections; answering the requests in flight");
        drop(listeners);
        registry.stop_all(ctx.limits.stop_grace);
        tracing::info!("connections closed");
        sys::set_stopping("connections closed");
        accepted
    }
}

/// Whether a new connection may be served: within the handshake bound, and within the
/// connection bound — if need be by closing the connection idle longest. Every refusal
/// and every eviction is logged with its reason.
fn make_room(ctx: &Context, registry: &Registry, peer: &str) -> bool {
    let limits = &ctx.limits;
    let counts = registry.counts();
    if counts.handshaking >= limits.max_handshakes {
        tracing::warn!(
            peer,
            "refusing the connection: {} connections are still in the handshake (at most {}; \
             each may take {:?})",
            counts.handshaking,
            limits.max_handshakes,
            limits.handshake_timeout
        );
        return false;
    }
    if counts.total < limits.max_connections {
        return true;
    }
    match registry.evict_idle(limits.evict_idle_after) {
        Some((victim, idle)) => {
            tracing::warn!(
                peer,
                victim,
                "{} connections are open (the limit): closing the one idle longest ({victim}, idle for \
                 {idle:.1?}, nothing in flight) to make room",
                counts.total
            );
            true
        }
        None => {
            tracing::warn!(
                peer,
                "refusing the connection: {} connections are open (the limit), none of them idle for \
                 {:?}",
                counts.total,
                limits.evict_idle_after
            );
            false
        }
    }
}

fn accept_until_stopped(
    ctx: &Arc<Context>,
    listeners: &[Listener],
    waker: &Waker,
    registry: &Arc<Registry>,
) -> Result<(), ServerError> {
    let mut fds: Vec<RawFd> = listeners.iter().map(AsRawFd::as_raw_fd).collect();
    fds.push(waker.read.as_raw_fd());
    let mut next_id = 0u64;
    loop {
        let ready = match sys::poll_readable(&fds) {
            Ok(ready) => ready,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ServerError::Poll(e)),
        };
        if ready.last() == Some(&true) {
            let mut buf = [0u8; 64];
            let _ = (&waker.read).read(&mut buf);
            return Ok(());
        }
        for (listener, _) in listeners.iter().zip(&ready).filter(|(_, ready)| **ready) {
            loop {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        next_id += 1;
                        let peer = format!("{peer} #{next_id}");
                        if !make_room(ctx, registry, &peer) {
                            continue;
                        }
                        if let Err(e) = registry.spawn(next_id, stream, peer.clone(), ctx) {
                            tracing::warn!(peer, "cannot start a thread for the connection: {e}");
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // Out of file descriptors or memory: back off instead of spinning.
                        tracing::warn!("accepting a connection failed: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                        break;
                    }
                }
            }
        }
    }
}

/// A TCP listener beyond loopback without TLS: anyone who reaches it reads and writes the
/// exports, in the clear.
fn warn_if_exposed(listener: &Listener, mode: TlsMode) {
    if let Some(addr) = listener.local_addr()
        && exposed(addr, mode)
    {
        tracing::warn!(
            "!!! listening on {addr} beyond loopback WITHOUT TLS: anyone who can reach it can read and \
             write every export, and the data crosses the network in the clear; use --tls require \
             --tls-certificates DIR (and --tls-verify-peer), or listen on 127.0.0.1 or a Unix socket !!!"
        );
    }
}

/// Whether a TCP listener on `addr` serves beyond loopback in the clear.
fn exposed(addr: SocketAddr, mode: TlsMode) -> bool {
    mode == TlsMode::Off && !addr.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listeners_beyond_loopback_without_tls_are_exposed() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        for a in ["0.0.0.0:10809", "[::]:10809", "192.168.1.5:1", "[2001:db8::1]:1"] {
            assert!(exposed(addr(a), TlsMode::Off), "{a}");
            assert!(!exposed(addr(a), TlsMode::On), "{a}");
            assert!(!exposed(addr(a), TlsMode::Require), "{a}");
        }
        for a in ["127.0.0.1:10809", "127.8.9.1:1", "[::1]:10809"] {
            assert!(!exposed(addr(a), TlsMode::Off), "{a}");
        }
    }
}
