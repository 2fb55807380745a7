//! TCP and Unix listeners and streams behind one type each.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Listen;
use crate::error::ServerError;

/// A bound listener, non-blocking (the accept loop polls it).
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    /// The listener and the path it removes when dropped.
    Unix(UnixListener, PathBuf),
}

impl Listener {
    pub(crate) fn bind(listen: &Listen) -> Result<Listener, ServerError> {
        let listener = match listen {
            Listen::Tcp(addr) => {
                let addrs: Vec<SocketAddr> = addr
                    .to_socket_addrs()
                    .map_err(|source| ServerError::Resolve { addr: addr.clone(), source })?
                    .collect();
                let bind_error = |source| ServerError::Bind { what: addr.clone(), source };
                Listener::Tcp(TcpListener::bind(&addrs[..]).map_err(bind_error)?)
            }
            Listen::Unix(path) => {
                let bind_error = |source| ServerError::Bind { what: path.display().to_string(), source };
                remove_stale_socket(path).map_err(bind_error)?;
                Listener::Unix(UnixListener::bind(path).map_err(bind_error)?, path.clone())
            }
        };
        let nonblocking = match &listener {
            Listener::Tcp(l) => l.set_nonblocking(true),
            Listener::Unix(l, _) => l.set_nonblocking(true),
        };
        nonblocking.map_err(|source| ServerError::Bind { what: listen.to_string(), source })?;
        Ok(listener)
    }

    /// Accepts one connection; `WouldBlock` when none is waiting.
    pub(crate) fn accept(&self) -> io::Result<(Stream, String)> {
        let (stream, peer) = match self {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept()?;
                // Replies are written whole; do not wait to coalesce them.
                s.set_nodelay(true)?;
                (Stream::Tcp(s), format!("tcp {addr}"))
            }
            Listener::Unix(l, path) => {
                let (s, _) = l.accept()?;
                (Stream::Unix(s), format!("unix {}", path.display()))
            }
        };
        stream.set_nonblocking(false)?;
        Ok((stream, peer))
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    pub(crate) fn socket_path(&self) -> Option<&Path> {
        match self {
            Listener::Tcp(_) => None,
            Listener::Unix(_, path) => Some(path),
        }
    }

    /// A URI a client can use to reach the default export.
    pub(crate) fn uri(&self) -> String {
        match (self.local_addr(), self.socket_path()) {
            (Some(SocketAddr::V6(a)), _) => format!("nbd://[{}]:{}", a.ip(), a.port()),
            (Some(a), _) => format!("nbd://{a}"),
            (None, Some(path)) => format!("nbd+unix:///?socket={}", path.display()),
            (None, None) => String::from("?"),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l, _) => l.as_raw_fd(),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A socket path left by a server that is gone is removed; one a server still answers
/// on is an error (`AddrInUse`), as is any other kind of file.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if !meta.file_type().is_socket() => {
            Err(io::Error::new(io::ErrorKind::AlreadyExists, "the path exists and is not a socket"))
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => Err(io::Error::new(io::ErrorKind::AddrInUse, "a server is listening on this socket")),
            Err(_) => std::fs::remove_file(path),
        },
    }
}

/// A connected socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    /// The socket, for the TLS relay.
    pub(crate) fn into_socket(self) -> nbd_tls::Socket {
        match self {
            Stream::Tcp(s) => nbd_tls::Socket::Tcp(s),
            Stream::Unix(s) => nbd_tls::Socket::Unix(s),
        }
    }

    pub(crate) fn shutdown(&self, how: Shutdown) {
        // ENOTCONN after the peer went away is fine: the point is that nothing more flows.
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        };
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(timeout),
            Stream::Unix(s) => s.set_write_timeout(timeout),
        }
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(nonblocking),
            Stream::Unix(s) => s.set_nonblocking(nonblocking),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}
