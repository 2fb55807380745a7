//! What every connection of a server shares.

use std::sync::Arc;

use irp::IoManager;

use crate::config::Limits;
use crate::export::Exports;
use crate::tls::Tls;
use crate::transmission::ServerBounds;

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) exports: Exports,
    /// The process's I/O manager, where the exports' stacks are registered.
    pub(crate) manager: Arc<IoManager>,
    pub(crate) limits: Limits,
    /// The server-wide bounds, built from `limits`.
    pub(crate) bounds: ServerBounds,
    /// When TLS is offered, and its credentials.
    pub(crate) tls: Tls,
}
