//! The NBD client disk: a bottom device whose storage is an export on an NBD server
//! (qemu-nbd, nbdkit, nbd-server, irpstack's own), reached by an [`NbdUri`].
//!
//! | request | NBD |
//! |---|---|
//! | Read / Write | `NBD_CMD_READ` / `NBD_CMD_WRITE`, split at the server's maximum payload (at most 32 MiB); the IRP completes when every part did, with the first error |
//! | Write + ForceUnitAccess | `NBD_CMD_FLAG_FUA` if the server advertises `SEND_FUA`; else the write, then `NBD_CMD_FLUSH` before completing (emulated, like nbdkit's `fua=emulate`); `STATUS_NOT_SUPPORTED` if it has neither |
//! | FlushBuffers | `NBD_CMD_FLUSH`; at once without device sync (`FILE_DATA_ONLY`, `NO_SYNC`) or on a read-only export |
//! | Discard | `NBD_CMD_TRIM` with `SEND_TRIM`; without it, success doing nothing (a discard is a hint) |
//! | WriteZeroes | `NBD_CMD_WRITE_ZEROES` (`NO_HOLE` unless `MAY_UNMAP`) with `SEND_WRITE_ZEROES`; else writes of zeroes |
//! | Shutdown | `NBD_CMD_FLUSH`, then `NBD_CMD_DISC` once nothing is in flight; a later request reconnects |
//!
//! Replies map to statuses with [`status_from_nbd_error`].
//!
//! **Threads.** Dispatch checks the request, marks the IRP pending and queues it; a
//! writer thread sends requests in order, each command with its own cookie, and a
//! reader thread per connection matches replies to IRPs, fills read data straight into
//! their MDLs and completes them. Completion routines run on these threads and must not
//! wait for I/O to this disk. Structured replies are not negotiated. A panic in the
//! reader fails what its connection has in flight with `STATUS_INTERNAL_ERROR` (the
//! next request reconnects); a panic in the writer fails what is queued and every later
//! request the same way, and drops the connections (whose readers fail what is in
//! flight): no IRP is left waiting.
//!
//! **Flushes.** The disk reports a volatile cache when the server advertises
//! `SEND_FLUSH`. A server without it cannot be asked to make data durable: a warning is
//! logged at connect ("data is not guaranteed durable") and every flush fails with
//! `STATUS_NOT_SUPPORTED` rather than succeed doing nothing (DESIGN, flush contract 7).
//!
//! **Connection loss.** Everything in flight fails with `STATUS_CONNECTION_RESET` and
//! the loss is logged with the URI; the next request reconnects (one attempt per
//! request, bounded by the timeout; requests that waited for a failed attempt fail with
//! its status, `STATUS_CONNECTION_RESET` or `STATUS_IO_TIMEOUT`). Writes in flight at
//! the loss are not known to be durable, and no flush reported success for them. Writes
//! already acknowledged on the lost connection but not yet covered by a flush may be lost
//! with the server: since no later flush can cover them, every later flush of the disk
//! fails with `STATUS_CONNECTION_RESET` until it is reopened (flush contract 4). A
//! reconnection must find the export with the same size, read-only flag and minimum
//! block size. A server that stops answering without closing the connection is given up
//! after `request_timeout` (2 minutes by default) with requests in flight: they fail with
//! `STATUS_IO_TIMEOUT`, and the next request reconnects; `timeout` bounds connecting and
//! the handshake.

mod conn;
mod connect;
mod engine;
mod error;
mod plan;
mod shared;
mod stream;
#[cfg(test)]
mod tests;
mod uri;

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use irp::block::{BlockDisk, BlockRequest, DiskDriver, DiskInfo};
use irp::{Characteristics, DeviceBuilder, DeviceRef, Irp, MajorFunction, Mdl, Status};

pub use self::connect::ExportInfo;
pub use self::error::{NbdError, status_from_nbd_error};
use self::plan::Op;
pub use self::uri::{DEFAULT_PORT, NbdUri, Transport, UriError, UriErrorKind};

/// How long requests may go unanswered before the connection counts as lost.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// How to reach an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbdOptions {
    /// The server and export.
    pub uri: NbdUri,
    /// Bounds connecting and each step of the handshake (default 5 s).
    pub timeout: Duration,
    /// A connection with requests in flight on which nothing arrives (and nothing can
    /// be sent) for this long is lost (default 2 min; `None`: wait forever).
    pub request_timeout: Option<Duration>,
    /// The TLS certificates directory when the URI names none (`tls-certificates=`):
    /// `ca-cert.pem`, and `client-cert.pem`, `client-key.pem` if present.
    pub tls_certificates: Option<PathBuf>,
}

impl NbdOptions {
    /// `uri` with the default timeouts.
    pub fn new(uri: NbdUri) -> NbdOptions {
        NbdOptions {
            uri,
            timeout: Duration::from_secs(5),
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            tls_certificates: None,
        }
    }

    /// The TLS client configuration, for a TLS URI: from the URI's `tls-certificates=`,
    /// else from [`NbdOptions::tls_certificates`]; one of them is needed (`ca-cert.pem`
    /// verifies the server).
    fn tls(&self) -> Result<Option<Arc<nbd_tls::rustls::ClientConfig>>, NbdError> {
        let uri = &self.uri;
        match (&uri.tls_certificates, &self.tls_certificates) {
            (Some(a), Some(b)) if a != b => Err(NbdError::InvalidOption(format!(
                "two TLS certificates directories: {} in the URI and {}",
                a.display(),
                b.display()
            ))),
            _ if !uri.tls && self.tls_certificates.is_some() => Err(NbdError::InvalidOption(
                "TLS certificates were given for a URI without TLS: use nbds:// or nbds+unix://".into(),
            )),
            _ if !uri.tls => Ok(None),
            (Some(dir), _) | (None, Some(dir)) => nbd_tls::client_config(dir)
                .map(Some)
                .map_err(|e| NbdError::TlsCertificates { uri: uri.clone(), source: Box::new(e) }),
            (None, None) => Err(NbdError::InvalidOption(format!(
                "{uri}: a TLS URI needs a certificates directory (tls-certificates=DIR holding ca-cert.pem)"
            ))),
        }
    }
}

/// The NBD client disk driver (a bottom device).
#[derive(Debug)]
pub struct NbdDisk {
    info: ExportInfo,
    shared: Arc<shared::Shared>,
    writer: Option<JoinHandle<()>>,
}

impl NbdDisk {
    /// Connects to the export and starts the reader and writer threads (named after
    /// `name`). Fails if the server cannot be reached or refuses the export.
    pub fn connect(name: &str, options: &NbdOptions) -> Result<NbdDisk, NbdError> {
        let NbdOptions { uri, timeout, request_timeout, .. } = options;
        if timeout.is_zero() {
            return Err(NbdError::InvalidOption("the timeout must be longer than zero".to_owned()));
        }
        if request_timeout.is_some_and(|t| t.is_zero()) {
            return Err(NbdError::InvalidOption(
                "the request timeout must be longer than zero (or none, to wait forever)".to_owned(),
            ));
        }
        let tls = options.tls()?;
        let (stream, info) = connect::connect(uri, tls.as_ref(), *timeout)?;
        tracing::debug!(
            name, %uri, size = info.size, flags = info.transmission_flags, block_size = ?info.block_size,
            go = info.opened_with_go, "NBD export connected"
        );
        if !info.can_flush() && !info.read_only() {
            tracing::warn!(
                %uri,
                "{name}: the NBD server does not support flush: data is not guaranteed durable \
                 (flushes fail with STATUS_NOT_SUPPORTED)"
            );
        }
        let shared = Arc::new(shared::Shared::new(name, uri.clone(), tls, *timeout, *request_timeout, info));
        let threads = |source| NbdError::Threads { uri: uri.clone(), source };
        let first = conn::Connection::start(Arc::clone(&shared), stream, info, 1).map_err(threads)?;
        let writer = engine::Writer::new(Arc::clone(&shared), Arc::clone(&first));
        match thread::Builder::new().name(format!("{name}-nbd-tx")).spawn(move || writer.run()) {
            Ok(writer) => Ok(NbdDisk { info, shared, writer: Some(writer) }),
            Err(source) => {
                first.shut_down();
                first.join_reader();
                Err(threads(source))
            }
        }
    }

    /// Connects and creates the device (bottom of a new stack) called `name`.
    pub fn create(name: &str, options: NbdOptions) -> Result<DeviceRef, NbdError> {
        let disk = NbdDisk::connect(name, &options)?;
        let info = disk.info;
        let mut characteristics = Characteristics::SHUTDOWN_NOTIFY;
        if info.can_flush() {
            characteristics = characteristics | Characteristics::VOLATILE_CACHE;
        }
        if info.read_only() {
            characteristics = characteristics | Characteristics::READ_ONLY;
        }
        DeviceBuilder::new(name)
            .sector_size(info.sector_size())
            .characteristics(characteristics)
            .build(DiskDriver::new(disk))
            .map_err(|source| NbdError::Device { uri: Box::new(options.uri), source })
    }

    /// What the server said about the export at the first connection.
    pub fn info(&self) -> ExportInfo {
        self.info
    }

    /// The export.
    pub fn uri(&self) -> &NbdUri {
        &self.shared.uri
    }

    /// Whether writes acknowledged on a lost connection were never flushed, so that
    /// every flush fails until the disk is reopened.
    pub fn lost_writes(&self) -> bool {
        self.shared.lost_writes()
    }

    /// Checks a block request against the export: `None` for an empty one.
    fn decode(&self, irp: &Irp) -> Result<Option<Op>, Status> {
        let request = BlockRequest::decode(irp, &self.disk_info())?;
        if !matches!(request, BlockRequest::Read { .. }) && self.info.read_only() {
            return Err(Status::MEDIA_WRITE_PROTECTED);
        }
        let (offset, length) = request.range();
        let min_block = u64::from(self.info.min_block());
        if !offset.is_multiple_of(min_block) || !length.is_multiple_of(min_block) {
            return Err(Status::INVALID_PARAMETER);
        }
        // The lengths of reads and writes fit in u32: they come from the IRP's parameters.
        let op = match request {
            BlockRequest::Read { offset, length } => Op::Read { offset, length: length as u32 },
            BlockRequest::Write { offset, length, fua } => Op::Write { offset, length: length as u32, fua },
            BlockRequest::Discard { offset, length } => Op::Trim { offset, length },
            BlockRequest::WriteZeroes { offset, length, may_unmap, fua } => {
                Op::Zeroes { offset, length, no_hole: !may_unmap, fua }
            }
        };
        Ok((length > 0).then_some(op))
    }

    fn queue(&self, mut irp: Irp, op: Op) -> Status {
        irp.mark_pending();
        if let Err(irp) = self.shared.push(irp, op) {
            // No writer thread any more (it panicked).
            irp.complete(Status::INTERNAL_ERROR);
        }
        Status::PENDING
    }

    fn send_flush(&self, irp: Irp, op: Op) -> Status {
        if self.info.read_only() {
            return irp.complete(Status::SUCCESS);
        }
        if self.shared.lost_writes() {
            return irp.complete(Status::CONNECTION_RESET);
        }
        self.queue(irp, op)
    }
}

impl BlockDisk for NbdDisk {
    fn disk_info(&self) -> DiskInfo {
        DiskInfo {
            size: self.info.size,
            sector_size: self.info.sector_size(),
            volatile_cache: self.info.can_flush(),
            durable: true,
        }
    }
    fn serve(&self, mut irp: Irp) -> Status {
        if irp.major_function() == MajorFunction::Read && irp.mdl_mut().and_then(Mdl::bytes_mut).is_none() {
            // The MDL shares its memory with a live partial MDL or its source.
            return irp.complete(Status::INVALID_PARAMETER);
        }
        match self.decode(&irp) {
            Ok(Some(op)) => self.queue(irp, op),
            Ok(None) => irp.complete_with(Status::SUCCESS, 0),
            Err(status) => irp.complete(status),
        }
    }
    /// `NBD_CMD_FLUSH`, unless the flags skip the device sync.
    fn flush(&self, irp: Irp, syncs_device: bool) -> Status {
        if !syncs_device {
            return irp.complete(Status::SUCCESS);
        }
        self.send_flush(irp, Op::Flush)
    }
    /// `NBD_CMD_FLUSH`, then `NBD_CMD_DISC`.
    fn shutdown(&self, irp: Irp) -> Status {
        self.send_flush(irp, Op::Shutdown)
    }
}

impl Drop for NbdDisk {
    /// Lets the writer serve what is queued, flush and disconnect (each wait bounded by
    /// the timeout), and waits for it — unless this runs on one of the disk's own
    /// threads (a completion dropped the last reference): the writer then ends alone.
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(writer) = self.writer.take()
            && !shared::on_nbd_thread()
            && writer.join().is_err()
        {
            tracing::error!(uri = %self.shared.uri, "the NBD writer thread panicked");
        }
    }
}
