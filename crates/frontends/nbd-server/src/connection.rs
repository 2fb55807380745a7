//! One connection: its thread runs the handshake, then the transmission loop, then closes
//! its handle. The server keeps a registry of live connections to stop them.

use std::collections::HashMap;
use std::io;
use std::net::Shutdown;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::context::Context;
use crate::handshake::{self, HandshakeError, Outcome};
use crate::listener::Stream;
use crate::transmission;

/// The live connections: a clone of each socket (to stop its reader) and its thread.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    live: Mutex<HashMap<u64, Live>>,
}

/// A live connection: a clone of its socket and its thread (taken when joined).
type Live = (Stream, Option<JoinHandle<()>>);

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Starts the thread of connection `id`.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        id: u64,
        stream: Stream,
        peer: String,
        ctx: &Arc<Context>,
    ) -> io::Result<()> {
        let control = stream.try_clone()?;
        let (registry, ctx) = (Arc::clone(self), Arc::clone(ctx));
        // Registered before the thread starts, so that the thread's own removal comes after.
        let mut live = self.lock();
        let thread = std::thread::Builder::new().name(format!("nbd-conn-{id}")).spawn(move || {
            serve(stream, &peer, &ctx);
            registry.lock().remove(&id);
        })?;
        live.insert(id, (control, Some(thread)));
        Ok(())
    }

    /// Stops every connection: no more requests are read (the reader sees end of file),
    /// requests in flight are answered, handles closed. Returns when all threads ended.
    pub(crate) fn stop_all(&self) {
        let threads: Vec<JoinHandle<()>> = self
            .lock()
            .values_mut()
            .filter_map(|(stream, thread)| {
                stream.shutdown(Shutdown::Read);
                thread.take()
            })
            .collect();
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a connection thread panicked");
            }
        }
    }
}

/// The connection thread: handshake, transmission, close.
fn serve(mut stream: Stream, peer: &str, ctx: &Context) {
    tracing::debug!(peer, "connected");
    if let Err(e) = stream.set_read_timeout(Some(ctx.limits.handshake_timeout)) {
        tracing::warn!(peer, "cannot set the handshake timeout: {e}");
    }
    let session = match handshake::negotiate(&mut stream, ctx, peer) {
        Ok(Outcome::Transmission(session)) => session,
        Ok(Outcome::Aborted) => {
            tracing::debug!(peer, "client ended the handshake (NBD_OPT_ABORT)");
            return;
        }
        Err(HandshakeError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            tracing::debug!(peer, "client closed the connection during the handshake");
            return;
        }
        Err(HandshakeError::Io(e))
            if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
        {
            tracing::warn!(peer, "closing the connection: handshake timed out");
            return;
        }
        Err(e) => {
            tracing::warn!(peer, "closing the connection during the handshake: {e}");
            return;
        }
    };
    let export = session.export.name.clone();
    tracing::info!(peer, export = %export, structured = session.structured, "transmission");
    let setup =
        stream.set_read_timeout(None).and_then(|()| stream.set_write_timeout(Some(ctx.limits.reply_timeout)));
    if let Err(e) = setup {
        tracing::warn!(peer, "closing the connection: cannot set socket timeouts: {e}");
        return;
    }
    transmission::serve(stream, session, &ctx.limits, &ctx.bounds, peer);
    tracing::debug!(peer, export = %export, "disconnected");
}
