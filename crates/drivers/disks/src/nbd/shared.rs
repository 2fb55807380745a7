//! What the disk, its writer thread and its connections share: the queue of requests
//! waiting for the writer, the export's identity, and whether acknowledged writes were
//! lost with a connection.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use irp::Condvar;
use irp::Irp;

use super::connect::ExportInfo;
use super::plan::Op;
use super::uri::NbdUri;

thread_local! {
    static NBD_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as a reader or writer of an NBD disk.
pub(super) fn mark_nbd_thread() {
    NBD_THREAD.set(true);
}

/// Whether the calling thread is a reader or writer of an NBD disk (which must not
/// wait for the writer to end).
pub(super) fn on_nbd_thread() -> bool {
    NBD_THREAD.get()
}

/// What the disk, its writer and its connections share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) name: String,
    pub(super) uri: NbdUri,
    /// The TLS client configuration, for TLS URIs (each reconnection redoes TLS).
    pub(super) tls: Option<Arc<nbd_tls::rustls::ClientConfig>>,
    pub(super) timeout: Duration,
    /// See [`NbdOptions::request_timeout`](super::NbdOptions::request_timeout).
    pub(super) request_timeout: Option<Duration>,
    /// The export as first negotiated; a reconnection must find the same.
    pub(super) initial: ExportInfo,
    queue: Mutex<Queue>,
    /// Signalled when a request is queued or the disk stops.
    pub(super) ready: Condvar,
    /// Writes acknowledged on a lost connection were never flushed (sticky).
    lost_writes: AtomicBool,
}

/// The requests waiting for the writer, in arrival order.
#[derive(Debug, Default)]
pub(super) struct Queue {
    pub(super) requests: VecDeque<Request>,
    pub(super) stop: bool,
    pub(super) next_seq: u64,
    /// The writer thread is gone (it panicked): requests are refused.
    pub(super) dead: bool,
}

/// A request waiting for the writer.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) irp: Irp,
    pub(super) op: Op,
    /// Arrival order, to fail the requests that waited for one failed reconnection.
    pub(super) seq: u64,
}

impl Shared {
    pub(super) fn new(
        name: &str,
        uri: NbdUri,
        tls: Option<Arc<nbd_tls::rustls::ClientConfig>>,
        timeout: Duration,
        request_timeout: Option<Duration>,
        initial: ExportInfo,
    ) -> Shared {
        Shared {
            name: name.to_owned(),
            uri,
            tls,
            timeout,
            request_timeout,
            initial,
            queue: Mutex::default(),
            ready: Condvar::new(),
            lost_writes: AtomicBool::new(false),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a request for the writer; gives the IRP back when there is no writer any
    /// more (it panicked), for the caller to fail — outside its locks.
    pub(super) fn push(&self, irp: Irp, op: Op) -> Result<(), Irp> {
        let mut q = self.lock();
        if q.dead {
            return Err(irp);
        }
        let seq = q.next_seq;
        q.next_seq += 1;
        q.requests.push_back(Request { irp, op, seq });
        drop(q);
        self.ready.notify_all();
        Ok(())
    }

    /// The writer is going down with a panic: refuses requests from now on and returns
    /// those queued, to be failed.
    pub(super) fn writer_died(&self) -> Vec<Request> {
        let mut q = self.lock();
        q.dead = true;
        q.requests.drain(..).collect()
    }

    /// Wakes the writer (a connection went idle or ended).
    pub(super) fn wake(&self) {
        self.ready.notify_all();
    }

    /// Tells the writer to finish: serve what is queued, disconnect, end.
    pub(super) fn stop(&self) {
        self.lock().stop = true;
        self.ready.notify_all();
    }

    /// Records that acknowledged writes may not be durable: every later flush fails.
    pub(super) fn lose_writes(&self, why: &str) {
        if !self.lost_writes.swap(true, Ordering::AcqRel) {
            tracing::error!(
                uri = %self.uri,
                "{}: {why}; writes acknowledged since the last flush may not be durable, so every \
                 later flush of this disk fails with STATUS_CONNECTION_RESET until it is reopened",
                self.name
            );
        }
    }

    /// Whether [`Shared::lose_writes`] happened.
    pub(super) fn lost_writes(&self) -> bool {
        self.lost_writes.load(Ordering::Acquire)
    }
}
