//! The read path: a mounted view of an ext4 volume on a [`BlockDevice`] — superblock and
//! group descriptors checked at open, inodes read by number (checksums verified), files
//! mapped through extent trees (or block maps) and read, directories listed and searched
//! (linear and htree), paths resolved, symlinks and xattrs read.

mod dir;
pub mod error;
mod file;
mod htree;
mod inode;
mod map;
pub mod path;
mod xattr;

use std::sync::Arc;

use crate::device::{BlockDevice, DeviceIoError};
use crate::ondisk::features::{Access, check_features};
use crate::ondisk::group_desc::GroupDesc;
use crate::ondisk::superblock::{SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock};

pub use dir::DirEntryInfo;
use error::corrupt;
pub use error::{Result, VolumeError};
pub use map::Mapping;
pub use path::is_fast_symlink;

/// An opened volume (read-only view).
#[derive(Debug)]
pub struct Volume<D: BlockDevice> {
    dev: D,
    sb: Superblock,
    groups: Vec<GroupDesc>,
    access: Access,
    verify: bool,
}

/// How to open a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// Verify metadata_csum checksums (on by default; off only for inspecting damaged
    /// volumes and for fuzzing the decoders behind the checksums).
    pub verify_checksums: bool,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions { verify_checksums: true }
    }
}

impl<D: BlockDevice> Volume<D> {
    /// Reads and checks the superblock (magic, geometry, features, checksum) and the group
    /// descriptor table (checksums, metadata inside the volume).
    pub fn open(dev: D) -> Result<Volume<D>> {
        Volume::open_with(dev, OpenOptions::default())
    }

    /// [`Volume::open`] with options.
    pub fn open_with(dev: D, options: OpenOptions) -> Result<Volume<D>> {
        let verify = options.verify_checksums;
        let mut raw = vec![0u8; SUPERBLOCK_SIZE];
        dev.read_at(SUPERBLOCK_OFFSET, &mut raw)?;
        let sb = Superblock::decode(&raw)?;
        let access = check_features(&sb.features)?;
        if verify {
            sb.verify_checksum()?;
        }
        let bs = u64::from(sb.block_size());
        if sb.blocks_count.checked_mul(bs).is_none_or(|end| end > dev.size()) {
            return Err(corrupt(
                "volume",
                "superblock",
                format!("{} blocks of {bs} bytes, but the device has {} bytes", sb.blocks_count, dev.size()),
            ));
        }
        let count = sb.group_count();
        let ds = usize::from(sb.desc_size());
        let table_bytes = u64::from(count) * ds as u64;
        let table_start = (u64::from(sb.first_data_block) + 1) * bs;
        let table_blocks = table_bytes.div_ceil(bs);
        if table_start / bs + table_blocks > sb.blocks_count {
            return Err(corrupt("volume", "group descriptor table", format!("{count} groups do not fit")));
        }
        let mut table = vec![0u8; (table_blocks * bs) as usize];
        dev.read_at(table_start, &mut table)?;
        let mut groups = Vec::with_capacity(count as usize);
        for g in 0..count {
            let raw = table.get(g as usize * ds..(g as usize + 1) * ds).unwrap_or(&[]);
            let gd = GroupDesc::decode(raw, ds).map_err(|e| e.at(format!("group {g}")))?;
            if verify {
                gd.verify_checksum(&sb, g).map_err(|e| e.at(format!("group {g}")))?;
            }
            let itable_blocks = (u64::from(sb.inodes_per_group) * u64::from(sb.inode_size())).div_ceil(bs);
            for (what, start, len) in [
                ("block bitmap", gd.block_bitmap, 1),
                ("inode bitmap", gd.inode_bitmap, 1),
                ("inode table", gd.inode_table, itable_blocks),
            ] {
                if start <= u64::from(sb.first_data_block) || start.saturating_add(len) > sb.blocks_count {
                    return Err(corrupt(
                        format!("group {g}"),
                        "group descriptor",
                        format!("{what} at block {start} is outside the volume"),
                    ));
                }
            }
            groups.push(gd);
        }
        Ok(Volume { dev, sb, groups, access, verify })
    }

    /// Checksums are on and being verified.
    pub(crate) fn verify_csums(&self) -> bool {
        self.verify && self.sb.has_metadata_csum()
    }

    /// The superblock as read at open.
    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// What the features allow (read-write, or read-only and why).
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Group descriptors, by group number.
    pub fn groups(&self) -> &[GroupDesc] {
        &self.groups
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// Block size in bytes.
    pub fn block_size(&self) -> u32 {
        self.sb.block_size()
    }

    /// Reads `count` whole blocks from physical block `block`, which must lie inside the
    /// volume (after the boot block).
    pub fn read_blocks(&self, block: u64, count: u64, what: &'static str) -> Result<Vec<u8>> {
        self.check_range(block, count, what)?;
        let bs = u64::from(self.block_size());
        let mut buf = vec![0u8; (count * bs) as usize];
        self.dev.read_at(block * bs, &mut buf)?;
        Ok(buf)
    }

    /// Reads one block.
    pub fn read_block(&self, block: u64, what: &'static str) -> Result<Vec<u8>> {
        self.read_blocks(block, 1, what)
    }

    fn check_range(&self, block: u64, count: u64, what: &'static str) -> Result<()> {
        if block <= u64::from(self.sb.first_data_block)
            || block.checked_add(count).is_none_or(|end| end > self.sb.blocks_count)
        {
            return Err(corrupt(
                format!("block {block}"),
                what,
                format!("{count} blocks at {block} are outside the volume (1..{})", self.sb.blocks_count),
            ));
        }
        Ok(())
    }
}

/// A shared reference to a device is a device (so `Volume<&dyn BlockDevice>` works).
impl<T: BlockDevice + ?Sized> BlockDevice for &T {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), DeviceIoError> {
        (**self).read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> std::result::Result<(), DeviceIoError> {
        (**self).write_at(offset, buf)
    }
    fn flush(&self) -> std::result::Result<(), DeviceIoError> {
        (**self).flush()
    }
}

/// So is an `Arc` of one.
impl<T: BlockDevice + ?Sized> BlockDevice for Arc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), DeviceIoError> {
        (**self).read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> std::result::Result<(), DeviceIoError> {
        (**self).write_at(offset, buf)
    }
    fn flush(&self) -> std::result::Result<(), DeviceIoError> {
        (**self).flush()
    }
}
