//! Bounding the requests in flight on one connection and the bytes in flight on the whole
//! server, and the ticket each request holds until its reply is sent.
//!
//! A request takes room on its connection first, then on the server. The two locks are
//! never held together, and a reader waiting for room holds no other lock, so the replies
//! that free room (sent from completions and reply threads) never wait for it.
//!
//! **Fairness.** A few clients that stop reading their replies hold their requests' bytes
//! until they are cut off; alone, the server bound would let them lock everyone else out
//! (four clients at 16 MiB each fill 64 MiB). So every connection is entitled to its fair
//! share of the bound, `max / holders` (the connections holding bytes on the server,
//! itself included): a request that keeps its connection within its share goes in even
//! when the server is at its bound — up to twice the bound, a hard cap. Shares shrink as
//! connections come, so early comers may hold more than their share when the cap is
//! reached; such a connection that reads nothing of its replies while another connection
//! waits for room is closed after [`Limits::stall_timeout`](crate::Limits::stall_timeout)
//! (the reply writer checks, [`Inflight::hogging`]), which gives its bytes back. So a
//! fresh client among stuck ones is served at once, or at worst after the stall timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// This connection's bytes on the server.
    share: Share,
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
            share: Share::default(),
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
        self.server.acquire(&self.share, bytes);
    }

    /// Frees the place of a request of `bytes`: on the server first, so that a connection
    /// seen idle holds nothing on the server either.
    pub(super) fn release(&self, bytes: usize) {
        self.server.release(&self.share, bytes);
        let mut counts = self.lock();
        counts.requests -= 1;
        counts.bytes -= bytes;
        drop(counts);
        self.changed.notify_all();
    }

    /// Whether this connection holds more than its fair share of the server's bound
    /// while another connection waits for room there: if it also reads nothing, it is in
    /// the way.
    pub(super) fn hogging(&self) -> bool {
        self.server.hogging(&self.share)
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
    state: Mutex<ServerCounts>,
    changed: Condvar,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct ServerCounts {
    bytes: usize,
    /// Connections holding bytes.
    holders: usize,
    /// Readers waiting for room.
    waiting: usize,
}

/// One connection's bytes on the server. Changed only under the server's lock (an atomic
/// only so that it can live outside it).
#[derive(Debug, Default)]
pub(crate) struct Share {
    held: AtomicUsize,
}

impl ServerInflight {
    pub(crate) fn new(max_bytes: usize) -> ServerInflight {
        ServerInflight { state: Mutex::default(), changed: Condvar::new(), max_bytes }
    }

    fn lock(&self) -> MutexGuard<'_, ServerCounts> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `bytes` more for a connection holding `held` go in now: within the bound,
    /// or within the connection's fair share (below the hard cap of twice the bound), or
    /// alone (no bytes at all in flight: a request larger than the bound still goes
    /// through).
    fn fits(&self, s: &ServerCounts, held: usize, bytes: usize) -> bool {
        let total = s.bytes.saturating_add(bytes);
        if s.bytes == 0 || total <= self.max_bytes {
            return true;
        }
        let holders = s.holders + usize::from(held == 0);
        let fair = self.max_bytes / holders.max(1);
        held.saturating_add(bytes) <= fair && total <= self.max_bytes.saturating_mul(2)
    }

    /// Waits until `bytes` more fit for the connection of `share`, then counts them. A
    /// request without a buffer never waits.
    pub(super) fn acquire(&self, share: &Share, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let mut s = self.lock();
        // Relaxed: `held` changes only under this lock.
        while !self.fits(&s, share.held.load(Ordering::Relaxed), bytes) {
            s.waiting += 1;
            s = self.changed.wait(s);
            s.waiting -= 1;
        }
        if share.held.fetch_add(bytes, Ordering::Relaxed) == 0 {
            s.holders += 1;
        }
        s.bytes += bytes;
    }

    pub(super) fn release(&self, share: &Share, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let mut s = self.lock();
        if share.held.fetch_sub(bytes, Ordering::Relaxed) == bytes {
            s.holders -= 1;
        }
        s.bytes -= bytes;
        drop(s);
        self.changed.notify_all();
    }

    /// Whether the connection of `share` holds more than its fair share while a reader
    /// waits for room.
    fn hogging(&self, share: &Share) -> bool {
        let s = self.lock();
        s.waiting > 0 && share.held.load(Ordering::Relaxed) > self.max_bytes / s.holders.max(1)
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.lock().bytes
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
        // b's fair share is 32 KiB (two holders, itself included): 40 KiB is more.
        let got_in = acquire_in_thread(&b, 40 * KIB);
        assert!(
            got_in.recv_timeout(Duration::from_millis(100)).is_err(),
            "b fits its connection, not the server, nor its share"
        );
        assert_eq!(b.lock().requests, 1, "b holds its room on its connection while it waits");
        a.release(48 * KIB);
        got_in.recv_timeout(Duration::from_secs(10)).expect("a's release lets b in");
        assert_eq!(server.in_flight(), 40 * KIB);
        b.release(40 * KIB);
        assert_eq!(server.in_flight(), 0);
        a.wait_idle();
        b.wait_idle();
    }

    /// Connections that hold the whole bound and never give it back (their clients do
    /// not read their replies) cannot lock a fresh connection out: its fair share goes in
    /// at once.
    #[test]
    fn hogs_cannot_take_the_fresh_connections_share() {
        let server = Arc::new(ServerInflight::new(64 * KIB));
        let conn = || Arc::new(Inflight::new(128, 16 * KIB, Arc::clone(&server)));
        let hogs: Vec<_> = (0..16).map(|_| conn()).collect();
        // The first four take the whole bound (16 KiB each, their connection's bound);
        // the others ask for more than their shares and wait.
        for (i, hog) in hogs.iter().enumerate() {
            let got_in = acquire_in_thread(hog, 16 * KIB);
            if i < 4 {
                got_in.recv_timeout(Duration::from_secs(10)).expect("within the bound");
            } else {
                assert!(got_in.recv_timeout(Duration::from_millis(20)).is_err(), "hog {i} is over its share");
            }
        }
        assert_eq!(server.in_flight(), 64 * KIB);
        let fresh = conn();
        let got_in = acquire_in_thread(&fresh, 2 * KIB);
        got_in.recv_timeout(Duration::from_secs(10)).expect("the fresh connection's share goes in");
        assert!(server.in_flight() <= 128 * KIB, "the hard cap holds");
        // More than its share waits, as before.
        let greedy = acquire_in_thread(&fresh, 16 * KIB);
        assert!(greedy.recv_timeout(Duration::from_millis(100)).is_err(), "beyond its share it waits");
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
