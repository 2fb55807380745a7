//! Listing an inode's extended attributes: the in-inode ones, then the xattr block's.

use super::error::{Result, VolumeError};
use super::{BlockDevice, Volume};
use crate::ondisk::inode::Inode;
use crate::ondisk::xattr::{parse_inode_xattrs, parse_xattr_block, verify_xattr_block};

impl<D: BlockDevice> Volume<D> {
    /// `(full name, value)` of every xattr of inode `ino`: in-inode entries first, then
    /// the xattr block's (checksum verified with metadata_csum).
    pub fn xattrs(&self, ino: u32, inode: &Inode) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let at = |what: &'static str| {
            move |e: crate::ondisk::FormatError| VolumeError::Corrupt(e.at(what).at(format!("inode {ino}")))
        };
        let mut entries = parse_inode_xattrs(inode.xattr_area()).map_err(at("in-inode area"))?;
        if inode.file_acl != 0 {
            let blk = inode.file_acl;
            let raw = self.read_block(blk, "xattr block").map_err(|e| match e {
                VolumeError::Corrupt(f) => VolumeError::Corrupt(f.at(format!("inode {ino}"))),
                o => o,
            })?;
            if self.verify_csums() {
                verify_xattr_block(&raw, self.sb.csum_seed(), blk).map_err(at("xattr block"))?;
            }
            entries.extend(parse_xattr_block(&raw).map_err(at("xattr block"))?.1);
        }
        entries
            .into_iter()
            .map(|e| {
                if e.value_inum != 0 {
                    Err(VolumeError::NotSupported { ino, what: "an xattr value in an inode (ea_inode)" })
                } else {
                    Ok((e.full_name(), e.value))
                }
            })
            .collect()
    }
}
