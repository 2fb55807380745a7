//! Reading inodes by number: locate them in their group's inode table, verify their
//! checksum (metadata_csum), and treat never-initialized ones as free.

use super::error::{Result, VolumeError};
use super::{BlockDevice, Volume};
use crate::ondisk::group_desc::BG_INODE_UNINIT;
use crate::ondisk::inode::Inode;

impl<D: BlockDevice> Volume<D> {
    /// Byte offset of inode `ino` on the device, or None if its group's table is not
    /// initialized (the inode is free).
    fn inode_offset(&self, ino: u32) -> Result<Option<u64>> {
        let max = self.sb.inodes_count;
        if ino == 0 || ino > max {
            return Err(VolumeError::BadInodeNumber { ino, max });
        }
        let ipg = self.sb.inodes_per_group;
        let group = (ino - 1) / ipg;
        let index = (ino - 1) % ipg;
        let gd = self.groups.get(group as usize).ok_or(VolumeError::BadInodeNumber { ino, max })?;
        let csummed = self.sb.has_metadata_csum() || self.sb.has_gdt_csum();
        if csummed && (gd.flags & BG_INODE_UNINIT != 0 || index >= ipg.saturating_sub(gd.itable_unused)) {
            return Ok(None);
        }
        let isz = u64::from(self.sb.inode_size());
        let bs = u64::from(self.block_size());
        Ok(Some(gd.inode_table * bs + u64::from(index) * isz))
    }

    /// The raw bytes of inode `ino` (`s_inode_size` of them; zeros if uninitialized).
    pub fn read_inode_raw(&self, ino: u32) -> Result<Vec<u8>> {
        let mut raw = vec![0u8; usize::from(self.sb.inode_size())];
        if let Some(off) = self.inode_offset(ino)? {
            self.dev.read_at(off, &mut raw)?;
        }
        Ok(raw)
    }

    /// Reads inode `ino` and verifies its checksum (an all-zero inode, never written, has
    /// none). The inode may be free: see [`Inode::links_count`] and `mode`.
    pub fn read_inode(&self, ino: u32) -> Result<Inode> {
        let raw = self.read_inode_raw(ino)?;
        let at = |e: crate::ondisk::FormatError| VolumeError::Corrupt(e.at(format!("inode {ino}")));
        let inode = Inode::decode(&raw).map_err(at)?;
        if self.verify_csums() && raw.iter().any(|&b| b != 0) {
            inode.verify_checksum(self.sb.csum_seed(), ino, raw.len()).map_err(at)?;
        }
        Ok(inode)
    }

    /// The seed of the checksums in blocks that belong to inode `ino` (extent, directory,
    /// dx blocks).
    pub(crate) fn inode_seed(&self, ino: u32, inode: &Inode) -> u32 {
        inode.csum_seed(self.sb.csum_seed(), ino)
    }
}
