//! What a disk is to the rest of the stack: the block requests it answers
//! ([`BlockRequest`], decoded and range-checked from an IRP), what it reports about itself
//! ([`DiskInfo`]), the trait a disk implements ([`BlockDisk`]) and the adapter that turns
//! one into a [`Driver`](crate::Driver) ([`DiskDriver`]), so every disk routes the major
//! functions the same way. [`lower`] holds the synchronous requests a driver sends to the
//! device below it on its own behalf (a cache reading a block, a file system writing its
//! journal). [`allocated`] is the allocation query (`FSCTL_QUERY_ALLOCATED_RANGES`): which
//! parts of a disk may hold data, and which read as zeroes.

pub mod allocated;
mod disk;
pub mod lower;
mod request;

pub use allocated::{
    AllocatedRange, Allocation, AllocationError, AllocationExtent, AllocationQuery,
    FSCTL_QUERY_ALLOCATED_RANGES,
};
pub use disk::{BlockDisk, DiskDriver};
pub use request::{BlockRequest, DiskInfo};
