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

#![warn(missing_docs)]

pub mod csum;
pub mod device;
pub mod driver;
pub mod fsck;
pub mod jbd2;
pub mod lower_device;
pub mod mkfs;
pub mod ondisk;
pub mod volume;

pub use device::{BlockDevice, DeviceIoError, MemoryDevice};
