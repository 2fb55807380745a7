//! # filters — the drivers between a file system and a disk
//!
//! Each filter attaches above a lower device and keeps, changes or watches its requests.
//! One module per filter, named after it:
//!
//! | module | filter |
//! |---|---|
//! | [`cache`] | the write-back cache: lazy writer, throttling, flush coalescing |
//! | [`fault`] | error, latency and lost-flush injection |
//! | [`stats`] | counts, bytes and latency histograms |
//! | [`passthrough`] | forwards everything |
//!
//! A filter sends its own requests below with [`irp::block::lower`].

#![warn(missing_docs)]

pub mod cache;
pub mod fault;
pub mod passthrough;
pub mod stats;
