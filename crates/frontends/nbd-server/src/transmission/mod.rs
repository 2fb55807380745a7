//! The transmission phase of one connection: this thread reads requests and submits
//! IRPs; completions (in whatever thread completes them) send the replies.

mod block_status;
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
use crate::connection::ConnState;
use crate::handshake::Session;
use crate::listener::Stream;
use buffers::{BufferPool, KeptBudget};
use inflight::{Inflight, ServerInflight};
use outgoing::{Reply, Ticket};
use writer::ReplyWriter;
pub(crate) use writer::Stalls;

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
    /// The context id of `base:allocation`, if the client selected it.
    block_status: Option<u32>,
    peer: String,
    /// The export's name (for messages and test hooks).
    export: String,
    /// What the server's registry sees of this connection (busy or idle).
    state: Arc<ConnState>,
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
    /// Nothing in flight and nothing received for the idle timeout.
    Idle,
    /// The client stopped in the middle of a request for the idle timeout.
    Stalled,
    /// The socket failed, or a request was cut short.
    Io(io::Error),
}

/// Serves requests until the client disconnects, breaks the protocol, or the server
/// stops reading; then waits for every request in flight to be answered and closes the
/// handle (`IRP_MJ_CLEANUP`, `IRP_MJ_CLOSE`).
pub(crate) fn serve(
    stream: Stream,
    session: Session,
    limits: &Limits,
    bounds: &ServerBounds,
    peer: &str,
    state: &Arc<ConnState>,
) {
    let Session { export, handle, structured, block_status } = session;
    let writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(e) => {
            tracing::warn!(peer, "closing the connection: cannot clone the socket: {e}");
            return;
        }
    };
    let shared = Arc::new(Shared {
        writer: ReplyWriter::new(writer, structured, peer, &export.name),
        inflight: Inflight::new(
            limits.max_requests_in_flight,
            limits.max_bytes_in_flight,
            Arc::clone(&bounds.inflight),
        ),
        buffers: BufferPool::new(POOLED_BUFFERS, Arc::clone(&bounds.kept)),
        device: Arc::clone(handle.device()),
        file: Arc::clone(handle.file_object()),
        read_only: export.read_only,
        block_status,
        peer: peer.to_owned(),
        export: export.name.clone(),
        state: Arc::clone(state),
    });
    let writer_thread = {
        let shared = Arc::clone(&shared);
        let stalls = Stalls { reply_timeout: limits.reply_timeout, stall_timeout: limits.stall_timeout };
        std::thread::Builder::new()
            .name("nbd-replies".into())
            .spawn(move || shared.writer.run(stalls, &shared.inflight))
    };
    let writer_thread = match writer_thread {
        Ok(thread) => thread,
        Err(e) => {
            tracing::warn!(peer, "closing the connection: cannot start its reply thread: {e}");
            return;
        }
    };
    // Declared after `handle` and `shared`: dropped before them when this thread unwinds.
    let _guard = CloseOnPanic(&shared);
    let mut reader = BufReader::with_capacity(READ_BUFFER, stream);
    let ending = read_requests(&mut reader, &shared, &export.limits());
    match ending {
        Ending::Disconnect => tracing::debug!(peer, "client disconnected (NBD_CMD_DISC)"),
        Ending::EndOfFile => tracing::debug!(peer, "end of requests"),
        Ending::Broken => tracing::debug!(peer, "the connection broke"),
        Ending::Protocol(reason) => tracing::warn!(peer, "closing the connection: {reason}"),
        Ending::Idle => tracing::info!(
            peer,
            "closing the connection: idle for {:?} (idle timeout)",
            limits.idle_timeout.unwrap_or_default()
        ),
        Ending::Stalled => tracing::warn!(
            peer,
            "closing the connection: the client stopped in the middle of a request for {:?} (idle timeout)",
            limits.idle_timeout.unwrap_or_default()
        ),
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

/// If the connection thread unwinds (it panicked), the client is not left waiting: the
/// socket is shut down (the client sees the connection end; replies still to come fail
/// to send and free their places), the reply thread is told to end, and the handle
/// closes only once nothing is in flight, as on the normal path.
struct CloseOnPanic<'a>(&'a Shared);

impl Drop for CloseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(peer = %self.0.peer, export = %self.0.export, "the connection's thread panicked; closing the connection");
            self.0.writer.shutdown();
            self.0.writer.close();
            self.0.inflight.wait_idle();
        }
    }
}

fn read_requests(reader: &mut BufReader<Stream>, shared: &Arc<Shared>, limits: &ExportLimits) -> Ending {
    let mut header = [0u8; REQUEST_HEADER_LEN];
    loop {
        if shared.writer.is_broken() {
            return Ending::Broken;
        }
        match read_header(reader, &mut header, &shared.state) {
            Ok(Header::Read) => {}
            Ok(Header::End) => return Ending::EndOfFile,
            Ok(Header::Idle) => return Ending::Idle,
            Ok(Header::Stalled) => return Ending::Stalled,
            Err(e) if is_timeout(&e) => return Ending::Stalled,
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
                            return if is_timeout(&e) { Ending::Stalled } else { Ending::Io(e) };
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
            Err(e) if is_timeout(&e) => return Ending::Stalled,
            Err(e) => return Ending::Io(e),
        }
    }
}

/// What reading a request header found.
enum Header {
    Read,
    /// A clean end of the stream (between requests).
    End,
    /// The idle timeout passed between requests with nothing in flight.
    Idle,
    /// The idle timeout passed in the middle of a header.
    Stalled,
}

/// Whether `e` is a read that gave up at the socket's read timeout (the idle timeout).
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Reads one request header. The socket's read timeout is the idle timeout: passing it
/// between requests with something in flight is fine (the client waits for replies).
fn read_header(
    reader: &mut impl Read,
    header: &mut [u8; REQUEST_HEADER_LEN],
    state: &ConnState,
) -> io::Result<Header> {
    let mut filled = 0;
    while filled < header.len() {
        match reader.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(Header::End),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated request header")),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) && filled > 0 => return Ok(Header::Stalled),
            Err(e) if is_timeout(&e) && !state.is_busy() => return Ok(Header::Idle),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Header::Read)
}

fn expect_len(got: u64, want: u64) -> io::Result<()> {
    if got == want { Ok(()) } else { Err(io::ErrorKind::UnexpectedEof.into()) }
}
