//! Inodes by number through the transaction: reading (checksum verified), writing
//! (checksummed), making new ones, and device numbers in `i_block`.

use super::inner::Inner;
use super::types::Timestamp;
use crate::error::{FsError, Result};
use crate::extent_tree::init_root;
use crate::ondisk::features::ro_compat;
use crate::ondisk::group_desc::BG_INODE_UNINIT;
use crate::ondisk::inode::{GOOD_OLD_INODE_SIZE, Inode, flags, mode};

/// Sets all four timestamps' fields of `i` that `which` names to `t`.
pub(crate) fn set_time(i: &mut Inode, t: Timestamp, atime: bool, mtime: bool, ctime: bool) {
    let (base, extra) = t.encode();
    if atime {
        (i.atime, i.atime_extra) = (base, extra);
    }
    if mtime {
        (i.mtime, i.mtime_extra) = (base, extra);
    }
    if ctime {
        (i.ctime, i.ctime_extra) = (base, extra);
    }
}

/// The device number of a device inode (`new_encode_dev` form).
pub(crate) fn rdev_of(i: &Inode) -> u32 {
    let ft = i.file_type();
    if ft != mode::S_IFCHR && ft != mode::S_IFBLK {
        return 0;
    }
    let w0 = u32::from_le_bytes([i.block[0], i.block[1], i.block[2], i.block[3]]);
    let w1 = u32::from_le_bytes([i.block[4], i.block[5], i.block[6], i.block[7]]);
    if w0 != 0 {
        // old_decode_dev: 8-bit major and minor; in new_encode_dev form it is the same value.
        w0 & 0xFFFF
    } else {
        w1
    }
}

/// Stores a device number as the kernel does: the old 16-bit form when major and minor
/// both fit a byte, else the new form in the second word.
pub(crate) fn set_rdev(i: &mut Inode, rdev: u32) {
    let major = (rdev >> 8) & 0xFFF;
    let minor = (rdev & 0xFF) | ((rdev >> 12) & 0xFFF00);
    i.block = [0; 60];
    if major < 256 && minor < 256 {
        i.block[..4].copy_from_slice(&((major << 8) | minor).to_le_bytes());
    } else {
        i.block[4..8].copy_from_slice(&rdev.to_le_bytes());
    }
}

impl Inner {
    /// Block and offset of inode `ino`, or None while its group's table is uninitialized
    /// there (the inode is free and reads as zeros).
    fn inode_slot(&self, ino: u32) -> Result<Option<(u64, usize)>> {
        if ino == 0 || ino > self.geo.inodes_count {
            return Err(FsError::NoSuchInode { ino });
        }
        let g = self.geo.group_of_inode(ino);
        let gd = &self.alloc.groups()[g as usize];
        let index = (ino - 1) % self.geo.ipg;
        if self.geo.uninit_flags()
            && (gd.flags & BG_INODE_UNINIT != 0 || index >= self.geo.ipg.saturating_sub(gd.itable_unused))
        {
            return Ok(None);
        }
        Ok(Some(self.geo.inode_location(gd.inode_table, ino)))
    }

    /// Reads inode `ino` (free or not).
    pub fn read_inode_any(&mut self, ino: u32) -> Result<Inode> {
        let isz = usize::from(self.geo.inode_size);
        let Some((block, off)) = self.inode_slot(ino)? else {
            return Ok(Inode::decode(&vec![0u8; isz])?);
        };
        let b = self.txn.read(block)?;
        let raw = &b[off..off + isz];
        let at = |e: crate::ondisk::FormatError| FsError::Corrupt(e.at(format!("inode {ino}")));
        let inode = Inode::decode(raw).map_err(at)?;
        if self.geo.metadata_csum && self.opts.verify_checksums && raw.iter().any(|&x| x != 0) {
            inode.verify_checksum(self.sb.csum_seed(), ino, isz).map_err(at)?;
        }
        Ok(inode)
    }

    /// Reads inode `ino`, which must be in use (linked, or open after an unlink).
    pub fn read_inode(&mut self, ino: u32) -> Result<Inode> {
        let i = self.read_inode_any(ino)?;
        if i.mode == 0
            || (i.links_count == 0 && !self.open.contains_key(&ino) && !self.orphans.contains(&ino))
        {
            return Err(FsError::NoSuchInode { ino });
        }
        Ok(i)
    }

    /// Writes inode `ino` (its checksum is set here).
    pub fn write_inode(&mut self, ino: u32, inode: &mut Inode) -> Result<()> {
        let isz = usize::from(self.geo.inode_size);
        let Some((block, off)) = self.inode_slot(ino)? else {
            return Err(FsError::corrupt(
                format!("inode {ino}"),
                "inode table",
                "write to an uninitialized slot",
            ));
        };
        if inode.size > 0x7FFF_FFFF
            && inode.is_regular()
            && self.sb.features.ro_compat & ro_compat::LARGE_FILE == 0
        {
            self.sb.features.ro_compat |= ro_compat::LARGE_FILE; // a file over 2 GiB: e2fsck wants the flag
        }
        if self.geo.metadata_csum {
            inode.update_checksum(self.sb.csum_seed(), ino, isz);
        }
        let raw = inode.encode(isz);
        self.txn.modify(block, |b| b[off..off + isz].copy_from_slice(&raw))
    }

    /// The seed of checksums in blocks that belong to inode `ino`.
    pub fn inode_seed(&self, ino: u32, inode: &Inode) -> u32 {
        inode.csum_seed(self.sb.csum_seed(), ino)
    }

    /// A new in-use inode (allocated near `parent`), not yet written: type and permission
    /// bits `m`, owner, times now, an empty extent tree for files, directories and symlinks.
    pub fn new_inode(&mut self, parent: u32, m: u16, uid: u32, gid: u32) -> Result<(u32, Inode)> {
        let is_dir = m & mode::S_IFMT == mode::S_IFDIR;
        let ino = self.alloc.alloc_inode(&mut self.txn, parent, is_dir)?;
        let isz = usize::from(self.geo.inode_size);
        let mut i = Inode::zeroed();
        i.mode = m;
        i.uid = uid;
        i.gid = gid;
        i.links_count = 1;
        i.generation = self.generation();
        if isz > GOOD_OLD_INODE_SIZE {
            let want = self.sb.want_extra_isize.max(32).max(self.sb.min_extra_isize);
            i.extra_isize = (usize::from(want).min(isz - GOOD_OLD_INODE_SIZE) & !3) as u16;
            i.tail = vec![0; isz - GOOD_OLD_INODE_SIZE - usize::from(i.extra_isize)];
        }
        let now = self.now();
        set_time(&mut i, now, true, true, true);
        (i.crtime, i.crtime_extra) = now.encode();
        if matches!(m & mode::S_IFMT, mode::S_IFREG | mode::S_IFDIR | mode::S_IFLNK) {
            i.flags = flags::EXTENTS;
            init_root(&mut i.block);
        }
        Ok((ino, i))
    }
}
