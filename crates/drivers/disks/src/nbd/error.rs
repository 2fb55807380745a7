//! The errors of the client, and the mapping of NBD error values to [`Status`].

use std::io;

use irp::Status;

use super::uri::{NbdUri, UriError};
use nbd::consts::{
    CMD_TRIM, CMD_WRITE, CMD_WRITE_ZEROES, EINVAL, EIO, ENOMEM, ENOSPC, ENOTSUP, EOVERFLOW, EPERM, ESHUTDOWN,
};

/// Why the client could not connect to an export, or could not build its device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NbdError {
    /// The URI cannot be used.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// The TLS certificates could not be loaded (the error names the file).
    #[error("{uri}: TLS certificates: {source}")]
    TlsCertificates {
        /// The server.
        uri: NbdUri,
        /// What is wrong (boxed: it is large, and rare).
        #[source]
        source: Box<nbd_tls::TlsError>,
    },
    /// Connecting the socket failed.
    #[error("cannot connect to {uri}: {source}")]
    Connect {
        /// The server.
        uri: NbdUri,
        /// What `connect` said (`TimedOut` after the timeout).
        #[source]
        source: io::Error,
    },
    /// Reading or writing the socket failed during the handshake (the server closed
    /// the connection, or did not answer within the timeout).
    #[error("handshake with {uri} failed while {stage}: {source}")]
    HandshakeIo {
        /// The server.
        uri: NbdUri,
        /// What the client was doing.
        stage: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The server broke the protocol or offers something this client cannot use.
    #[error("handshake with {uri} failed: {reason}")]
    Handshake {
        /// The server.
        uri: NbdUri,
        /// What went wrong.
        reason: String,
    },
    /// The server refused the export (`NBD_REP_ERR_...` in reply to `NBD_OPT_GO`).
    #[error("{uri}: the server refused export {export:?} with {reply}{}", message_suffix(.message))]
    Refused {
        /// The server (boxed: this is the largest variant).
        uri: Box<NbdUri>,
        /// The export asked for.
        export: String,
        /// The spec name of the error reply.
        reply: &'static str,
        /// The server's message, if any.
        message: String,
    },
    /// After a reconnection, the export is no longer the one the device was built on.
    #[error("{uri}: the export changed since the device was created ({what})")]
    ExportChanged {
        /// The server.
        uri: NbdUri,
        /// What changed.
        what: String,
    },
    /// The reader or writer thread could not be started.
    #[error("cannot start the threads of the NBD client for {uri}: {source}")]
    Threads {
        /// The server.
        uri: NbdUri,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An option is out of range.
    #[error("invalid NBD client option: {0}")]
    InvalidOption(String),
    /// Building the device failed.
    #[error("cannot build the device for {uri}: {source}")]
    Device {
        /// The server (boxed: with the device error, this variant is the largest).
        uri: Box<NbdUri>,
        /// The error.
        #[source]
        source: irp::DeviceError,
    },
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() { String::new() } else { format!(": {message}") }
}

impl NbdError {
    /// The status a request fails with when this error prevented a reconnection:
    /// `STATUS_IO_TIMEOUT` when the server did not answer in time,
    /// `STATUS_CONNECTION_RESET` otherwise.
    pub fn status(&self) -> Status {
        let timed_out =
            |e: &io::Error| matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock);
        match self {
            NbdError::Connect { source, .. } | NbdError::HandshakeIo { source, .. } if timed_out(source) => {
                Status::IO_TIMEOUT
            }
            _ => Status::CONNECTION_RESET,
        }
    }
}

/// The status an IRP completes with when the server answered `command` with the NBD
/// error value `error` (0 is success):
///
/// | NBD error | status |
/// |---|---|
/// | `EPERM` | `STATUS_MEDIA_WRITE_PROTECTED` for write, trim and write-zeroes; `STATUS_ACCESS_DENIED` otherwise |
/// | `EIO` | `STATUS_IO_DEVICE_ERROR` |
/// | `ENOMEM` | `STATUS_INSUFFICIENT_RESOURCES` |
/// | `EINVAL`, `EOVERFLOW` | `STATUS_INVALID_PARAMETER` |
/// | `ENOSPC` | `STATUS_DISK_FULL` |
/// | `ENOTSUP` | `STATUS_NOT_SUPPORTED` |
/// | `ESHUTDOWN` | `STATUS_DEVICE_BUSY` (the client then disconnects and reconnects) |
/// | anything else | `STATUS_IO_DEVICE_ERROR` |
pub fn status_from_nbd_error(error: u32, command: u16) -> Status {
    match error {
        0 => Status::SUCCESS,
        EPERM if matches!(command, CMD_WRITE | CMD_TRIM | CMD_WRITE_ZEROES) => Status::MEDIA_WRITE_PROTECTED,
        EPERM => Status::ACCESS_DENIED,
        EIO => Status::IO_DEVICE_ERROR,
        ENOMEM => Status::INSUFFICIENT_RESOURCES,
        EINVAL | EOVERFLOW => Status::INVALID_PARAMETER,
        ENOSPC => Status::DISK_FULL,
        ENOTSUP => Status::NOT_SUPPORTED,
        ESHUTDOWN => Status::DEVICE_BUSY,
        _ => Status::IO_DEVICE_ERROR,
    }
}
