//! The TLS relay: after the handshake, two threads move bytes between the socket (TLS
//! records) and one end of a Unix socket pair (plain NBD), sharing the rustls session
//! under a lock that is never held across a blocking read or write of the socket.
//!
//! - *in*: reads records from the socket, decrypts them under the lock, writes the plain
//!   bytes to the pair. The peer's end of the stream (or `close_notify`) ends the pair's
//!   write direction, so the reader on the other end sees end of file.
//! - *out*: reads plain bytes from the pair, encrypts them under the lock, writes the
//!   records to the socket. The end of the plain stream sends `close_notify`.
//!
//! Records leave in the order they were made: the send lock is taken before the session's
//! lock is let go. Back-pressure carries through: a peer that does not read fills the
//! socket, then the pair, so the code writing plain bytes sees its writes block (and its
//! stall timeouts work as on a plain socket).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustls::{Connection, ConnectionCommon};

/// The socket under TLS.
#[derive(Debug)]
pub enum Socket {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix socket.
    Unix(UnixStream),
}

impl Socket {
    fn try_clone(&self) -> io::Result<Socket> {
        Ok(match self {
            Socket::Tcp(s) => Socket::Tcp(s.try_clone()?),
            Socket::Unix(s) => Socket::Unix(s.try_clone()?),
        })
    }

    fn shutdown(&self, how: Shutdown) {
        // ENOTCONN once the peer is gone is fine: nothing more flows either way.
        let _ = match self {
            Socket::Tcp(s) => s.shutdown(how),
            Socket::Unix(s) => s.shutdown(how),
        };
    }

    fn clear_timeouts(&self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.set_read_timeout(None).and_then(|()| s.set_write_timeout(None)),
            Socket::Unix(s) => s.set_read_timeout(None).and_then(|()| s.set_write_timeout(None)),
        }
    }
}

impl Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => (&*s).read(buf),
            Socket::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => (&*s).write(buf),
            Socket::Unix(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs the TLS handshake of `conn` over `io` (whose timeouts bound it) to its end.
pub fn handshake<Data, S: Read + Write>(conn: &mut ConnectionCommon<Data>, io: &mut S) -> io::Result<()> {
    while conn.is_handshaking() {
        conn.complete_io(io)?;
    }
    while conn.wants_write() {
        conn.write_tls(io)?;
    }
    Ok(())
}

/// A running relay. Dropping it shuts the socket down, which ends both threads (the end of
/// the pair that was handed out should be dropped first, or with it).
#[derive(Debug)]
pub struct Relay {
    control: Socket,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.control.shutdown(Shutdown::Both);
    }
}

struct Shared {
    conn: Mutex<Connection>,
    /// Held while records are written, taken before `conn` is let go.
    send: Mutex<()>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the records `conn` has ready, in order, without holding `conn` meanwhile.
    fn send(&self, mut conn: MutexGuard<'_, Connection>, net: &Socket) -> io::Result<()> {
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out)?;
        }
        if out.is_empty() {
            return Ok(());
        }
        let _send = self.send.lock().unwrap_or_else(PoisonError::into_inner);
        drop(conn);
        (&*net).write_all(&out)
    }
}

/// Starts the relay of `conn` (handshake done) over `net`; returns the plain end of the
/// pair, which reads and writes the session's plain bytes, and the relay. `name` names
/// the threads.
pub fn start(mut conn: Connection, net: Socket, name: &str) -> io::Result<(UnixStream, Relay)> {
    net.clear_timeouts()?;
    conn.set_buffer_limit(None);
    let (plain, inner) = UnixStream::pair()?;
    let shared = Arc::new(Shared { conn: Mutex::new(conn), send: Mutex::new(()) });
    let control = net.try_clone()?;
    let (net_in, inner_in) = (net.try_clone()?, inner.try_clone()?);
    let shared_in = Arc::clone(&shared);
    std::thread::Builder::new()
        .name(format!("{name}-tls-in"))
        .spawn(move || pump_in(&shared_in, &net_in, inner_in))?;
    std::thread::Builder::new()
        .name(format!("{name}-tls-out"))
        .spawn(move || pump_out(&shared, &net, inner))?;
    Ok((plain, Relay { control }))
}

/// Moves the plain bytes rustls has decrypted to `out`; `true` once the peer closed the
/// session (`close_notify`).
fn drain(conn: &mut Connection, out: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0; 16 * 1024];
    loop {
        match conn.reader().read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

fn pump_in(shared: &Shared, net: &Socket, mut inner: UnixStream) {
    let mut relay = || -> io::Result<()> {
        let mut buf = vec![0; 64 * 1024];
        let mut plain = Vec::new();
        // What arrived with the end of the handshake.
        let mut closed = drain(&mut shared.lock(), &mut plain)?;
        loop {
            inner.write_all(&plain)?;
            plain.clear();
            if closed {
                return Ok(());
            }
            let n = match (&*net).read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut conn = shared.lock();
            let mut records = &buf[..n];
            while !records.is_empty() && !closed {
                conn.read_tls(&mut records)?;
                if let Err(e) = conn.process_new_packets() {
                    // The alert rustls queued goes out before the end.
                    let _ = shared.send(conn, net);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                closed = drain(&mut conn, &mut plain)?;
            }
            shared.send(conn, net)?;
        }
    };
    if let Err(e) = relay() {
        tracing::debug!("TLS relay (in) ended: {e}");
        net.shutdown(Shutdown::Both);
    }
    let _ = inner.shutdown(Shutdown::Write);
}

fn pump_out(shared: &Shared, net: &Socket, mut inner: UnixStream) {
    let mut relay = || -> io::Result<()> {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match inner.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut conn = shared.lock();
            conn.writer().write_all(&buf[..n])?;
            shared.send(conn, net)?;
        }
        let mut conn = shared.lock();
        conn.send_close_notify();
        shared.send(conn, net)
    };
    match relay() {
        Ok(()) => net.shutdown(Shutdown::Write),
        Err(e) => {
            tracing::debug!("TLS relay (out) ended: {e}");
            net.shutdown(Shutdown::Both);
            let _ = inner.shutdown(Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConnection, ServerConnection};

    /// Both ends behind relays: bytes written on one plain end arrive whole and in order
    /// on the other, both ways at once, and closing one end reaches the other as end of
    /// file.
    #[test]
    fn bytes_cross_both_ways_and_the_end_arrives() {
        let Some(dir) = crate::certs::tests::pki() else { return };
        let server_config = crate::server_config(dir.path(), true).unwrap();
        let client_config = crate::client_config(dir.path()).unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut conn = ServerConnection::new(server_config).unwrap();
            let socket = Socket::Unix(a);
            handshake(&mut conn, &mut &socket).unwrap();
            start(conn.into(), socket, "test-server").unwrap()
        });
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = ClientConnection::new(client_config, name).unwrap();
        let socket = Socket::Unix(b);
        handshake(&mut conn, &mut &socket).unwrap();
        let (mut client_plain, client_relay) = start(conn.into(), socket, "test-client").unwrap();
        let (mut server_plain, server_relay) = server.join().unwrap();

        let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let mut writer = client_plain.try_clone().unwrap();
        let upload = std::thread::spawn(move || {
            writer.write_all(&sent).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        });
        // The server echoes what it reads, while the client is still writing.
        let mut echo = server_plain.try_clone().unwrap();
        let echoer = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0; 65536];
            loop {
                let n = server_plain.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                echo.write_all(&buf[..n]).unwrap();
            }
            drop(echo);
            got
        });
        let mut back = Vec::new();
        let mut buf = [0; 65536];
        while back.len() < data.len() {
            let n = client_plain.read(&mut buf).unwrap();
            assert_ne!(n, 0, "end of file after {} bytes", back.len());
            back.extend_from_slice(&buf[..n]);
        }
        upload.join().unwrap();
        let got = echoer.join().unwrap();
        assert!(got == data, "the server read other bytes ({} of {})", got.len(), data.len());
        assert!(back == data, "the client read other bytes back");
        drop(server_relay);
        // The server's side is gone: the client sees the end.
        assert_eq!(client_plain.read(&mut buf).unwrap(), 0);
        drop(client_relay);
    }
}
