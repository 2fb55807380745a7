//! # fs — the irpstack file system
//!
//! The on-disk format is ext4 (the features `mkfs.ext4` sets by default on Debian 12), journaled
//! with jbd2 in ordered mode, so `e2fsck`, `debugfs` and the Linux kernel check our work.
//!
//! Layers, bottom up:
//! - [`device`]: the block device the on-disk code reads and writes ([`BlockDevice`]).
//! - [`csum`]: crc32c as ext4 and jbd2 use it (metadata_csum).
//! - [`ondisk`]: the ext4 structures, decoded, encoded and checksummed (no I/O).
//! - [`jbd2`]: the journal (jbd2 format): replay, transactions, checkpoints.
//! - [`mkfs`]: formats a device as ext4 (Debian defaults but resize_inode).
//! - [`volume`]: the read path over a [`BlockDevice`]: inodes, files, directories, paths.
//! - the write path, [`filesystem`] ([`Filesystem`]) over:
//!   - [`geometry`]: the volume's shape;
//!   - `txn`: transactions and the metadata buffer cache over the journal;
//!   - `alloc`: block and inode allocation (bitmaps, descriptors, counts);
//!   - `extent_tree`: extent trees that change (splits, removal, compaction);
//!   - `dirops`: directory blocks and the in-memory name index;
//!   - `fileops`: file data (read, write, truncate, punch, fallocate);
//!   - `xattrops`: extended attributes;
//! - [`error`]: what the write path reports ([`FsError`], with errnos).
//! - [`driver`]: the file-system driver on IRPs (fastfat's shape: one file per major
//!   function over volume, file and open control blocks), over [`lower_device`]; read-write
//!   through [`Filesystem`] behind its `Backend`/`Mutations` seams, or read-only.
//! - [`fsck`]: the read-only structural check (`irpstack fsck`).
//! - [`breakage`]: deliberately broken variants, for the crash checker's tests (feature
//!   `broken-variants`).

#![warn(missing_docs)]

pub(crate) mod alloc;
pub mod breakage;
pub mod csum;
pub mod device;
pub(crate) mod dirops;
pub mod driver;
pub mod error;
pub(crate) mod extent_tree;
pub(crate) mod fileops;
pub mod filesystem;
pub mod fsck;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub mod geometry;
pub mod jbd2;
pub mod lower_device;
pub mod mkfs;
pub mod ondisk;
pub(crate) mod txn;
pub mod volume;
pub(crate) mod xattrops;

pub use device::{BlockDevice, DeviceIoError, FileDevice, MemoryDevice};
pub use error::{FsError, errno};
pub use filesystem::{Filesystem, MountOptions, ROOT};
