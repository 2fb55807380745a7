//! The ext4 on-disk format as pure functions: decode bytes into structures, encode them
//! back (exactly: `encode(decode(bytes)) == bytes`), and compute or verify the
//! metadata_csum checksums. Nothing here does I/O.

pub mod bitmap;
mod bytes;
pub mod crc16;
pub mod dirent;
pub mod dirhash;
pub mod error;
pub mod extent;
pub mod features;
pub mod group_desc;
pub mod htree;
pub mod inode;
pub mod superblock;
pub mod xattr;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod real_bytes;

pub use error::{Corruption, FormatError};
