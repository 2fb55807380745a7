//! The transmission phase of one connection: this thread reads requests and submits
//! IRPs; completions (in whatever thread completes them) send the replies.

mod buffers;
mod dispatch;
mod inflight;
mod outgoing;
mod writer;

use std::io::{self, BufReader, Read};
use std::sync::Arc;

use irp::{DeviceRef, FileObject, Irp, MajorFunction};
use nbd::PayloadAction;
use nbd::consts::REQUEST_HEADER_LEN;
use nbd::transmission::{Command, ExportLimits, decode_request_header};

use crate::config::Limits;
use crate::handshake::Session;
use crate::listener::Stream;
use buffers::{BufferPool, KeptBudget};
use inflight::{Inflight, ServerInflight};
use outgoing::{Reply, Ticket};
use writer::ReplyWriter;

/// Read buffer: small requests (headers, 4 KiB writes) arrive many per system call.
const READ_BUFFER: usize = 128 * 1024;

/// Free transfer buffers kept per connection for reuse.
const POOLED_BUFFERS: usize = 4 << 20;

/// Free transfer buffers kept by all the connections of a server together.
const POOLED_BUFFERS_PER_SERVER: usize = 16 << 20;

/// What the connections of one server share: the server-wide bounds on their memory.
#[derive(Debug)]
pub(crate) struct ServerBounds {
    inflight: Arc<ServerInflight>,
    kept: Arc<KeptBudget>,
}

impl ServerBounds {
    pub(crate) fn new(limits: &Limits) -> ServerBounds {
        ServerBounds {
            inflight: Arc::new(ServerInflight::new(limits.max_server_bytes_in_flight)),
            kept: Arc::new(KeptBudget::new(POOLED_BUFFERS_PER_SERVER)),
        }
    }
}

/// What the requests' completions need.
#[derive(Debug)]
pub(crate) struct Shared {
    writer: ReplyWriter,
    inflight: Inflight,
    buffers: BufferPool,
    device: DeviceRef,
    file: Arc<FileObject>,
    read_only: bool,
    peer: String,
}

impl Shared {
    /// A new IRP for this connection's handle.
    fn irp(&self, major: MajorFunction) -> Irp {
        Irp::for_device(&self.device, major).with_file_object(Arc::clone(&self.file))
    }
}

/// Why the read loop ended.
enum Ending {
    /// `NBD_CMD_DISC`.
    Disconnect,
    /// The client closed its side (or the server stopped reading).
    EndOfFile,
    /// Replies can no longer be sent.
    Broken,
    /// The client broke the protocol; the connection is closed.
    Protocol(String),
    /// The socket failed, or a request was cut short.
    Io(io::Error),
}

/// Serves requests until the client disconnects, breaks the protocol, or the server
/// stops reading; then waits for every request in flight to be answered and closes the
/// handle (`IRP_MJ_CLEANUP`, `IRP_MJ_CLOSE`).
pub(crate) fn serve(stream: Stream, session: Session, limits: &Limits, bounds: &ServerBounds, peer: &str) {
    let Session { export, handle, structured } = session;
    let writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(e) => {
            tracing::warn!(peer, "closing the connection: cannot clone the socket: {e}");
            return;
        }
    };
    let shared = Arc::new(Shared {
        writer: ReplyWriter::new(writer, structured, peer),
        inflight: Inflight::new(
            limits.max_requests_in_flight,
            limits.max_bytes_in_flight,
            Arc::clone(&bounds.inflight),
        ),
        buffers: BufferPool::new(POOLED_BUFFERS, Arc::clone(&bounds.kept)),
        device: Arc::clone(handle.device()),
        file: Arc::clone(handle.file_object()),
        read_only: export.read_only,
        peer: peer.to_owned(),
    });
    let writer_thread = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new().name("nbd-replies".into()).spawn(move || shared.writer.run())
    };
    let writer_thread = match writer_thread {
        Ok(thread) => thread,
        Err(e) => {
            tracing::warn!(peer, "closing the connection: cannot start its reply thread: {e}");
            return;
        }
    };
    let mut reader = BufReader::with_capacity(READ_BUFFER, stream);
    let ending = read_requests(&mut reader, &shared, &export.limits());
    match ending {
        Ending::Disconnect => tracing::debug!(peer, "client disconnected (NBD_CMD_DISC)"),
        Ending::EndOfFile => tracing::debug!(peer, "end of requests"),
        Ending::Broken => tracing::debug!(peer, "the connection broke"),
        Ending::Protocol(reason) => tracing::warn!(peer, "closing the connection: {reason}"),
        Ending::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            tracing::warn!(peer, "closing the connection: the client closed it in the middle of a request")
        }
        Ending::Io(e) => tracing::warn!(peer, "closing the connection: {e}"),
    }
    // Every request read is answered (or dropped, if the connection broke) before the
    // handle closes: a ticket is released only after its reply left.
    shared.inflight.wait_idle();
    shared.writer.close();
    if writer_thread.join().is_err() {
        tracing::error!(peer, "the reply thread panicked");
    }
    shared.writer.shutdown();
    if let Err(status) = handle.close() {
        tracing::warn!(peer, export = %export.name, %status, "closing the export's handle failed");
    }
}

fn read_requests(reader: &mut BufReader<Stream>, shared: &Arc<Shared>, limits: &ExportLimits) -> Ending {
    let mut header = [0u8; REQUEST_HEADER_LEN];
    loop {
        if shared.writer.is_broken() {
            return Ending::Broken;
        }
        match read_header(reader, &mut header) {
            Ok(true) => {}
            Ok(false) => return Ending::EndOfFile,
            Err(e) => return Ending::Io(e),
        }
        let request = match decode_request_header(&header) {
            Ok(request) => request,
            Err(e) => return Ending::Protocol(format!("bad request: {e}")),
        };
        let command = match Command::classify(&request, limits) {
            Ok(command) => command,
            Err(e) => {
                tracing::warn!(peer = %shared.peer, cookie = e.cookie, "refusing a request: {}", e.kind);
                match e.payload {
                    PayloadAction::None => {}
                    PayloadAction::Discard(n) => {
                        if let Err(e) = io::copy(&mut reader.by_ref().take(n.into()), &mut io::sink())
                            .and_then(|copied| expect_len(copied, n.into()))
                        {
                            return Ending::Io(e);
                        }
                    }
                    PayloadAction::Disconnect => {
                        return Ending::Protocol(format!("{}: payload too large to skip", e.kind));
                    }
                }
                Ticket::acquire(shared, e.cookie, 0).reply(Reply::error(e.errno(), e.kind.to_string()));
                continue;
            }
        };
        match dispatch::start(reader, shared, request.cookie, command) {
            Ok(true) => {}
            Ok(false) => return Ending::Disconnect,
            Err(e) => return Ending::Io(e),
        }
    }
}

/// Reads one request header: `false` at a clean end of the stream (between requests).
fn read_header(reader: &mut impl Read, header: &mut [u8; REQUEST_HEADER_LEN]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < header.len() {
        match reader.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated request header")),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn expect_len(got: u64, want: u64) -> io::Result<()> {
    if got == want { Ok(()) } else { Err(io::ErrorKind::UnexpectedEof.into()) }
}
