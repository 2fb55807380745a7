//! # nbd-server — irpstack's NBD server
//!
//! Serves device stacks over the [NBD protocol](https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md)
//! (the wire format is the `nbd` crate's pure functions; this crate owns the sockets and
//! threads). Each export is one stack built from a spec (`cache(size=256M) / file(path=x.img)`)
//! and registered with an [`irp::IoManager`]; every connection opens its own handle on it.
//!
//! - **Handshake**: fixed newstyle; `NBD_OPT_GO`, `INFO`, `EXPORT_NAME`, `LIST`, `ABORT`,
//!   `STRUCTURED_REPLY`, `LIST_META_CONTEXT` and `SET_META_CONTEXT` with the one context
//!   `base:allocation` (after structured replies, as the spec requires; `base:` lists it,
//!   unknown namespaces and leaves are ignored). Unknown options get `NBD_REP_ERR_UNSUP`,
//!   malformed ones `NBD_REP_ERR_INVALID`; at most [`Limits::max_options`] options per
//!   handshake.
//! - **Transmission**: one reader thread per connection reads requests and submits IRPs
//!   asynchronously ([`irp::Device::submit`]); each completion sends its reply (matched
//!   by cookie, in any order) under the connection's write lock, with one non-blocking
//!   `sendmsg`. A completion never waits for the socket — it may run inside a driver that
//!   holds a lock — so what the socket does not take at once goes to the connection's
//!   reply thread. Requests in flight are bounded per connection
//!   ([`Limits::max_requests_in_flight`], [`Limits::max_bytes_in_flight`]) and their bytes
//!   across the server ([`Limits::max_server_bytes_in_flight`]); transfer buffers are
//!   reused within a connection, and the buffers kept for reuse by all connections
//!   together are capped (16 MiB), so that memory does not grow with the connections.
//! - **Slots**: the whole handshake has a deadline ([`Limits::handshake_timeout`], 10 s),
//!   connections still in the handshake have a bound of their own
//!   ([`Limits::max_handshakes`]) within [`Limits::max_connections`], and at that limit a
//!   new client takes the place of the connection idle longest (nothing in flight for
//!   [`Limits::evict_idle_after`]); [`Limits::idle_timeout`] optionally closes idle
//!   connections. Every refusal and eviction is logged with its reason.
//! - **Panics**: a panic in a connection's thread closes that connection only; the
//!   request it held is answered `EIO` if the socket still takes it.
//!
//! | NBD request | IRP on the export's stack |
//! |---|---|
//! | `READ` | `IRP_MJ_READ` into a fresh [`irp::Mdl`]; the reply carries the MDL's bytes |
//! | `WRITE` (+`FUA`) | `IRP_MJ_WRITE` of the payload, read straight into an MDL (ForceUnitAccess) |
//! | `FLUSH` | `IRP_MJ_FLUSH_BUFFERS`, no flags |
//! | `TRIM` (+`FUA`) | Discard (then a flush before the reply, for `FUA`) |
//! | `WRITE_ZEROES` (+`NO_HOLE`, +`FUA`) | WriteZeroes (`MAY_UNMAP` unless `NO_HOLE`; ForceUnitAccess) |
//! | `BLOCK_STATUS` (+`REQ_ONE`), `base:allocation` | `IRP_MJ_DEVICE_CONTROL` `FSCTL_QUERY_ALLOCATED_RANGES` ([`irp::block::allocated`]); holes `NBD_STATE_HOLE \| NBD_STATE_ZERO`, data 0, one `BLOCK_STATUS` chunk of at most 2049 extents; a stack that cannot tell: one data extent |
//! | `DISC`, end of connection | the handle is closed: `IRP_MJ_CLEANUP`, `IRP_MJ_CLOSE` |
//! | server stop | `IRP_MJ_SHUTDOWN` to every stack ([`irp::IoManager::shutdown`]) |
//!
//! ## The flush promise over NBD
//!
//! A reply to a write is sent only from the write IRP's completion, so every write the
//! client has seen acknowledged had completed on the stack before the client could send
//! the `FLUSH` that depends on it. The flush IRP is sent when the `FLUSH` request is read
//! and its reply is sent only after that IRP completed with success: by the stack's flush
//! contract, every write that completed before it was sent is durable. That is the
//! spec's rule ("all write requests for which a reply has already been sent").
//!
//! `NBD_FLAG_CAN_MULTI_CONN` is advertised because every connection to an export sends its
//! IRPs to the same device stack: a write acknowledged on connection A completed on that
//! stack, so a flush sent by connection B after it covers it, and a FUA write is durable
//! when it completes whichever connection sent it. Reads on any connection see every
//! completed write, since they go through the same cache.
//!
//! ## Stopping
//!
//! [`ServerHandle::stop`] (or SIGINT/SIGTERM after [`ServerHandle::stop_on_signals`])
//! stops accepting, stops reading new requests on every connection, waits until every
//! request in flight was answered — for [`Limits::stop_grace`] (2 s): then the
//! connections of clients that do not read their replies are closed, their replies
//! dropped — closes the handles, and sends `IRP_MJ_SHUTDOWN` down every stack, so caches
//! write everything back. A second signal exits at once (status 130), saying what it
//! abandons ([`set_stopping`] tells it what stopping is busy with).

#![warn(missing_docs)]
#![deny(unsafe_code)]

mod config;
mod connection;
mod context;
mod error;
mod export;
mod handshake;
mod listener;
mod server;
mod sys;
mod transmission;

pub use config::{ExportConfig, ExportStack, FileConfig, FileExport, Limits, Listen, ServerConfig};
pub use error::{ConfigError, ServerError};
pub use server::{ExportInfo, Server, ServerHandle};
pub use sys::{set_stopping, stop_signal_received};

/// The IANA port for NBD.
pub const DEFAULT_PORT: u16 = 10809;
