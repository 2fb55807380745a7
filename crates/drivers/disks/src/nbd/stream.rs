//! The socket: TCP or Unix, shared by the writer (under a lock) and the reader thread;
//! over TLS, the plain end of the TLS relay (`nbd-tls`).

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::uri::Transport;

/// A connected socket. `&Stream` reads and writes, so one thread can read replies
/// while another writes requests.
#[derive(Debug)]
pub(super) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// The plain end of a TLS relay (dropped before the relay, which then shuts the
    /// socket down).
    Tls {
        plain: UnixStream,
        _relay: nbd_tls::Relay,
    },
}

impl Stream {
    /// Connects to `transport`; a TCP connect gives up after `timeout` per address.
    pub(super) fn connect(transport: &Transport, timeout: Duration) -> io::Result<Stream> {
        match transport {
            Transport::Tcp { host, port } => {
                let mut last = None;
                for addr in (host.as_str(), *port).to_socket_addrs()? {
                    match TcpStream::connect_timeout(&addr, timeout) {
                        Ok(s) => {
                            s.set_nodelay(true)?;
                            return Ok(Stream::Tcp(s));
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("{host:?} has no address"))
                }))
            }
            Transport::Unix { socket } => {
                use std::os::unix::ffi::OsStrExt;
                let bytes = socket.as_os_str().as_bytes();
                if let Some(name) = bytes.strip_prefix(b"\0") {
                    use std::os::linux::net::SocketAddrExt;
                    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                    return UnixStream::connect_addr(&addr).map(Stream::Unix);
                }
                UnixStream::connect(socket).map(Stream::Unix)
            }
        }
    }

    /// The socket, for the TLS handshake and relay (`None` for a stream already under TLS).
    pub(super) fn into_socket(self) -> Option<nbd_tls::Socket> {
        match self {
            Stream::Tcp(s) => Some(nbd_tls::Socket::Tcp(s)),
            Stream::Unix(s) => Some(nbd_tls::Socket::Unix(s)),
            Stream::Tls { .. } => None,
        }
    }

    /// Sets (or clears, with `None`) the read and write timeouts.
    pub(super) fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_io_timeouts(timeout, timeout)
    }

    /// Sets how long one read may block before it returns a timeout (the reader's
    /// polling period; `None`: forever), and how long one send may block.
    pub(super) fn set_io_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
            Stream::Unix(s) | Stream::Tls { plain: s, .. } => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)
            }
        }
    }

    /// `shutdown(2)`: wakes a thread blocked reading. Errors (already closed) are moot.
    pub(super) fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) | Stream::Tls { plain: s, .. } => s.shutdown(how),
        };
    }

    /// Writes every byte of `bufs`, in as few system calls as the kernel allows.
    pub(super) fn write_all_vectored(&self, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        IoSlice::advance_slices(&mut bufs, 0);
        while !bufs.is_empty() {
            let written = match self {
                Stream::Tcp(s) => (&*s).write_vectored(bufs),
                Stream::Unix(s) | Stream::Tls { plain: s, .. } => (&*s).write_vectored(bufs),
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes all of `buf`.
    pub(super) fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.write_all_vectored(&mut [IoSlice::new(buf)])
    }

    /// Fills `buf`; the server closing the connection is `UnexpectedEof`, and a read
    /// timeout ends it.
    pub(super) fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        self.read_exact_watched(buf, &mut NoWait)
    }

    /// Fills `buf`; the server closing the connection is `UnexpectedEof`. A read that
    /// returns after the socket's read timeout without data calls `waited`, which gives
    /// up (its error is returned) or lets the read go on; `arrived` is called whenever
    /// bytes come in.
    pub(super) fn read_exact_watched(&self, buf: &mut [u8], watch: &mut dyn Watch) -> io::Result<()> {
        let mut got = 0;
        while got < buf.len() {
            let read = match self {
                Stream::Tcp(s) => (&*s).read(&mut buf[got..]),
                Stream::Unix(s) | Stream::Tls { plain: s, .. } => (&*s).read(&mut buf[got..]),
            };
            match read {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    got += n;
                    watch.arrived();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    watch.waited()?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads and drops `len` bytes (a payload nobody can take), watched as
    /// [`read_exact_watched`](Self::read_exact_watched) is.
    pub(super) fn skip(&self, mut len: u64, watch: &mut dyn Watch) -> io::Result<()> {
        let mut sink = [0; 8192];
        while len > 0 {
            let n = len.min(sink.len() as u64) as usize;
            self.read_exact_watched(&mut sink[..n], watch)?;
            len -= n as u64;
        }
        Ok(())
    }
}

/// Watches a read for a server that stopped answering.
pub(super) trait Watch {
    /// Bytes arrived.
    fn arrived(&mut self);
    /// A read timed out without data: `Err` gives up.
    fn waited(&mut self) -> io::Result<()>;
}

/// A read timeout ends the read (the handshake's steps are bounded this way).
pub(super) struct NoWait;

impl Watch for NoWait {
    fn arrived(&mut self) {}
    fn waited(&mut self) -> io::Result<()> {
        Err(io::ErrorKind::TimedOut.into())
    }
}
