//! # disks — the bottom drivers of a stack
//!
//! Each disk stores data somewhere and answers the block requests of
//! [`irp::block`]: it implements [`BlockDisk`](irp::block::BlockDisk) and runs as a
//! [`DiskDriver`](irp::block::DiskDriver), so every disk routes the major functions the same
//! way. One module per disk, named after it:
//!
//! | module | disk |
//! |---|---|
//! | [`file`](mod@file) | a regular file or block device (thread-pool and io_uring engines, O_DIRECT) |
//! | [`pmem`] | a memory-mapped file: persistent memory with cache-line write-back |
//! | [`memory`] | a RAM disk (not durable) |
//! | [`null`] | `\Device\Null` |
//! | [`nbd`] | an export on an NBD server (the NBD client) |
//! | [`crash`] | the crash-simulation disk: a durable image under a volatile cache |
//!
//! `sticky.rs` holds the rule the disks with a page cache below them share: a failed sync
//! cannot be retried, so it sticks. [`locking`] holds the image locks (QEMU's) that the
//! disks over an image file take, so that two writers never share one image.

#![warn(missing_docs)]

pub mod crash;
pub mod file;
pub mod locking;
pub mod memory;
pub mod nbd;
pub mod null;
pub mod pmem;
mod sticky;
