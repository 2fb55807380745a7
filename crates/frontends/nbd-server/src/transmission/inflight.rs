//! Bounding the requests in flight on one connection and the bytes in flight on the whole
//! server, and the ticket each request holds until its reply is sent.
//!
//! A request takes room on its connection first, then on the server. The two locks are
//! never held together, and a reader waiting for room holds no other lock, so the replies
//! that free room (sent from completions and reply threads) never wait for it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use irp::Condvar;

/// Requests read but not answered yet on one connection, and their buffer bytes (counted
/// in the server's [`ServerInflight`] too).
#[derive(Debug)]
pub(crate) struct Inflight {
    state: Mutex<Counts>,
    changed: Condvar,
    max_requests: usize,
    max_bytes: usize,
    server: Arc<ServerInflight>,
}

#[derive(Debug, Default)]
struct Counts {
    requests: usize,
    bytes: usize,
}

impl Inflight {
    pub(crate) fn new(max_requests: usize, max_bytes: usize, server: Arc<ServerInflight>) -> Inflight {
        Inflight {
            state: Mutex::new(Counts::default()),
            changed: Condvar::new(),
            max_requests: max_requests.max(1),
            max_bytes,
            server,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for room for one more request of `bytes` on the connection, then on the
    /// server, and counts it. A request is always let in when nothing else is in flight,
    /// whatever its size.
    pub(super) fn acquire(&self, bytes: usize) {
        let mut counts = self.lock();
        while counts.requests > 0
            && (counts.requests >= self.max_requests || counts.bytes + bytes > self.max_bytes)
        {
            counts = self.changed.wait(counts);
        }
        counts.requests += 1;
        counts.bytes += bytes;
        drop(counts);
        self.server.acquire(bytes);
    }

    /// Frees the place of a request of `bytes`: on the server first, so that a connection
    /// seen idle holds nothing on the server either.
    pub(super) fn release(&self, bytes: usize) {
        self.server.release(bytes);
        let mut counts = self.lock();
        counts.requests -= 1;
        counts.bytes -= bytes;
        drop(counts);
        self.changed.notify_all();
    }

    /// Waits until every request was answered.
    pub(crate) fn wait_idle(&self) {
        let mut counts = self.lock();
        while counts.requests > 0 {
            counts = self.changed.wait(counts);
        }
    }
}

/// Buffer bytes of the requests in flight on every connection of one server.
#[derive(Debug)]
pub(crate) struct ServerInflight {
    bytes: Mutex<usize>,
    changed: Condvar,
    max_bytes: usize,
}

impl ServerInflight {
    pub(crate) fn new(max_bytes: usize) -> ServerInflight {
        ServerInflight { bytes: Mutex::new(0), changed: Condvar::new(), max_bytes }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `bytes` more fit, then counts them. They are always let in when no
    /// bytes at all are in flight, so a request larger than the bound still goes through;
    /// a request without a buffer never waits.
    pub(super) fn acquire(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let mut in_flight = self.lock();
        while *in_flight > 0 && *in_flight + bytes > self.max_bytes {
            in_flight = self.changed.wait(in_flight);
        }
        *in_flight += bytes;
    }

    pub(super) fn release(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        *self.lock() -= bytes;
        self.changed.notify_all();
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    const KIB: usize = 1024;

    /// Acquires `bytes` on `conn` in another thread; the receiver hears when it got in.
    fn acquire_in_thread(conn: &Arc<Inflight>, bytes: usize) -> mpsc::Receiver<()> {
        let (conn, (done, got_in)) = (Arc::clone(conn), mpsc::channel());
        std::thread::spawn(move || {
            conn.acquire(bytes);
            done.send(()).unwrap();
        });
        got_in
    }

    #[test]
    fn connections_share_the_server_bound() {
        let server = Arc::new(ServerInflight::new(64 * KIB));
        let a = Arc::new(Inflight::new(16, 64 * KIB, Arc::clone(&server)));
        let b = Arc::new(Inflight::new(16, 64 * KIB, Arc::clone(&server)));
        a.acquire(48 * KIB);
        let got_in = acquire_in_thread(&b, 32 * KIB);
        assert!(
            got_in.recv_timeout(Duration::from_millis(100)).is_err(),
            "b fits its connection, not the server"
        );
        assert_eq!(b.lock().requests, 1, "b holds its room on its connection while it waits");
        a.release(48 * KIB);
        got_in.recv_timeout(Duration::from_secs(10)).expect("a's release lets b in");
        assert_eq!(server.in_flight(), 32 * KIB);
        b.release(32 * KIB);
        assert_eq!(server.in_flight(), 0);
        a.wait_idle();
        b.wait_idle();
    }

    #[test]
    fn a_request_larger_than_the_bound_goes_in_when_nothing_is_in_flight() {
        let server = Arc::new(ServerInflight::new(16 * KIB));
        let a = Arc::new(Inflight::new(16, 64 * KIB, Arc::clone(&server)));
        let b = Arc::new(Inflight::new(16, 64 * KIB, Arc::clone(&server)));
        a.acquire(32 * KIB);
        assert_eq!(server.in_flight(), 32 * KIB, "let in alone, over the bound");
        b.acquire(0); // A request without a buffer does not wait.
        b.release(0);
        let got_in = acquire_in_thread(&b, 4 * KIB);
        assert!(got_in.recv_timeout(Duration::from_millis(100)).is_err(), "nothing more fits");
        a.release(32 * KIB);
        got_in.recv_timeout(Duration::from_secs(10)).expect("let in once the server is idle");
        b.release(4 * KIB);
        assert_eq!(server.in_flight(), 0);
    }
}
