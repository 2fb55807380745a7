//! # drivers — the irpstack driver collection
//!
//! Bottom drivers (disks) and filters that sit in a stack built by the `irp` core.
//! Each driver lives in its own module, named after it: `disk::memory`, `disk::file`,
//! `disk::crash`, `filter::cache`, ...

#![warn(missing_docs)]

pub mod disk;
pub mod filter;
pub mod spec;
