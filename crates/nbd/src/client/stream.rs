//! The socket: TCP or Unix, shared by the writer (under a lock) and the reader thread.

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

    /// Sets (or clears, with `None`) the read and write timeouts.
    pub(super) fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
        }
    }

    /// `shutdown(2)`: wakes a thread blocked reading. Errors (already closed) are moot.
    pub(super) fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        };
    }

    /// Writes every byte of `bufs`, in as few system calls as the kernel allows.
    pub(super) fn write_all_vectored(&self, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        IoSlice::advance_slices(&mut bufs, 0);
        while !bufs.is_empty() {
            let written = match self {
                Stream::Tcp(s) => (&*s).write_vectored(bufs),
                Stream::Unix(s) => (&*s).write_vectored(bufs),
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

    /// Fills `buf`; the server closing the connection is `UnexpectedEof`.
    pub(super) fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => (&*s).read_exact(buf),
            Stream::Unix(s) => (&*s).read_exact(buf),
        }
    }

    /// Reads and drops `len` bytes (a payload nobody can take).
    pub(super) fn skip(&self, len: u64) -> io::Result<()> {
        let copied = match self {
            Stream::Tcp(s) => io::copy(&mut s.take(len), &mut io::sink())?,
            Stream::Unix(s) => io::copy(&mut s.take(len), &mut io::sink())?,
        };
        if copied < len { Err(io::ErrorKind::UnexpectedEof.into()) } else { Ok(()) }
    }
}
