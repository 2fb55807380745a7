//! Extended attributes: in the inode's spare bytes first, then in an xattr block (one per
//! inode; a block the kernel shares between inodes is copied before it is changed).
//! Entries carry their hashes, the block its hash and checksum, as the kernel writes them.

use crate::error::{FsError, Result, shown};
use crate::filesystem::inner::Inner;
use crate::filesystem::inode_io::set_time;
use crate::filesystem::types::XattrMode;
use crate::ondisk::inode::Inode;
use crate::ondisk::xattr::{
    BLOCK_HEADER_SIZE, XattrBlockHeader, XattrEntry, encode_inode_xattrs, encode_xattr_block, layout_values,
    parse_inode_xattrs, parse_xattr_block, set_xattr_block_csum, split_name, update_hashes,
    verify_xattr_block,
};

/// Largest value accepted (Linux's `XATTR_SIZE_MAX`).
const VALUE_MAX: usize = 65536;

/// An inode's attributes where they are.
struct Loaded {
    ibody: Vec<XattrEntry>,
    block: Option<(u64, XattrBlockHeader, Vec<XattrEntry>)>,
}

fn same(e: &XattrEntry, index: u8, name: &[u8]) -> bool {
    e.name_index == index && e.name == name
}

impl Inner {
    fn xattr_load(&mut self, ino: u32, i: &Inode) -> Result<Loaded> {
        let at = |w: &'static str| {
            move |e: crate::ondisk::FormatError| FsError::Corrupt(e.at(w).at(format!("inode {ino}")))
        };
        let ibody = parse_inode_xattrs(i.xattr_area()).map_err(at("in-inode xattrs"))?;
        let block = if i.file_acl != 0 {
            let b = i.file_acl;
            if b <= self.geo.first_data_block || b >= self.geo.blocks_count {
                return Err(FsError::corrupt(
                    format!("inode {ino}"),
                    "xattr block",
                    format!("block {b} outside the volume"),
                ));
            }
            let raw = self.txn.read(b)?;
            if self.geo.metadata_csum && self.opts.verify_checksums {
                verify_xattr_block(&raw, self.sb.csum_seed(), b).map_err(at("xattr block"))?;
            }
            let (h, e) = parse_xattr_block(&raw).map_err(at("xattr block"))?;
            Some((b, h, e))
        } else {
            None
        };
        if ibody.iter().chain(block.iter().flat_map(|b| b.2.iter())).any(|e| e.value_inum != 0) {
            return Err(FsError::NotSupported(format!("inode {ino}: an xattr value in an inode (ea_inode)")));
        }
        Ok(Loaded { ibody, block })
    }

    /// The value of attribute `name` of `ino`.
    pub fn getxattr(&mut self, ino: u32, name: &[u8]) -> Result<Vec<u8>> {
        let i = self.read_inode(ino)?;
        let (index, suffix) = split_name(name);
        let l = self.xattr_load(ino, &i)?;
        l.ibody
            .iter()
            .chain(l.block.iter().flat_map(|b| b.2.iter()))
            .find(|e| same(e, index, suffix))
            .map(|e| e.value.clone())
            .ok_or_else(|| FsError::NoAttribute { ino, name: shown(name) })
    }

    /// Every attribute name of `ino` (in-inode ones first).
    pub fn listxattr(&mut self, ino: u32) -> Result<Vec<Vec<u8>>> {
        let i = self.read_inode(ino)?;
        let l = self.xattr_load(ino, &i)?;
        Ok(l.ibody.iter().chain(l.block.iter().flat_map(|b| b.2.iter())).map(XattrEntry::full_name).collect())
    }

    /// Sets attribute `name` of `ino` to `value`.
    pub fn setxattr(&mut self, ino: u32, name: &[u8], value: &[u8], how: XattrMode) -> Result<()> {
        let (index, suffix) = split_name(name);
        if index == 0 {
            return Err(FsError::NotSupported(format!("xattr namespace of {:?}", shown(name))));
        }
        if suffix.len() > 255 {
            return Err(FsError::NameTooLong { len: suffix.len(), max: 255 });
        }
        if suffix.is_empty() && matches!(index, 1 | 4 | 6 | 7) {
            return Err(FsError::Invalid(format!("xattr name {:?}", shown(name))));
        }
        if value.len() > VALUE_MAX {
            return Err(FsError::Range { need: value.len(), have: VALUE_MAX });
        }
        self.op(|s| {
            let mut i = s.read_inode(ino)?;
            let mut l = s.xattr_load(ino, &i)?;
            let in_body = l.ibody.iter().position(|e| same(e, index, suffix));
            let in_block = l.block.as_ref().and_then(|b| b.2.iter().position(|e| same(e, index, suffix)));
            let exists = in_body.is_some() || in_block.is_some();
            match how {
                XattrMode::Create if exists => return Err(FsError::Exists { dir: ino, name: shown(name) }),
                XattrMode::Replace if !exists => return Err(FsError::NoAttribute { ino, name: shown(name) }),
                _ => {}
            }
            if let Some(p) = in_body {
                l.ibody.remove(p);
            }
            let mut block_entries = l.block.as_ref().map(|b| b.2.clone()).unwrap_or_default();
            if let Some(p) = in_block {
                block_entries.remove(p);
            }
            let mut new = XattrEntry {
                name_index: index,
                name: suffix.to_vec(),
                value_offs: 0,
                value_inum: 0,
                hash: 0,
                value: value.to_vec(),
            };
            new.hash = new.compute_hash();
            let mut body = l.ibody.clone();
            body.push(new.clone());
            let area = i.tail.len();
            if area > 4 && layout_values(&mut body, area - 4, 0).is_ok() {
                l.ibody = body;
            } else {
                block_entries.push(new);
            }
            s.xattr_store(ino, &mut i, l.ibody, l.block.map(|b| (b.0, b.1)), block_entries)?;
            set_time(&mut i, s.now(), false, false, true);
            s.write_inode(ino, &mut i)?;
            s.touched(ino, false);
            Ok(())
        })
    }

    /// Removes attribute `name` of `ino`.
    pub fn removexattr(&mut self, ino: u32, name: &[u8]) -> Result<()> {
        let (index, suffix) = split_name(name);
        self.op(|s| {
            let mut i = s.read_inode(ino)?;
            let mut l = s.xattr_load(ino, &i)?;
            let mut block_entries = l.block.as_ref().map(|b| b.2.clone()).unwrap_or_default();
            let before = l.ibody.len() + block_entries.len();
            l.ibody.retain(|e| !same(e, index, suffix));
            block_entries.retain(|e| !same(e, index, suffix));
            if l.ibody.len() + block_entries.len() == before {
                return Err(FsError::NoAttribute { ino, name: shown(name) });
            }
            s.xattr_store(ino, &mut i, l.ibody, l.block.map(|b| (b.0, b.1)), block_entries)?;
            set_time(&mut i, s.now(), false, false, true);
            s.write_inode(ino, &mut i)?;
            s.touched(ino, false);
            Ok(())
        })
    }

    /// Writes the in-inode entries (laid out already) and the block's (laid out here).
    fn xattr_store(
        &mut self,
        ino: u32,
        i: &mut Inode,
        mut ibody: Vec<XattrEntry>,
        old: Option<(u64, XattrBlockHeader)>,
        mut entries: Vec<XattrEntry>,
    ) -> Result<()> {
        if !ibody.is_empty() {
            layout_values(&mut ibody, i.tail.len().saturating_sub(4), 0)?;
        }
        encode_inode_xattrs(&ibody, &mut i.tail)?;
        let sectors = u64::from(self.geo.bs / 512);
        if entries.is_empty() {
            if old.is_some() {
                self.xattr_release(ino, i)?;
            }
            return Ok(());
        }
        entries.sort_by(|a, b| {
            (a.name_index, a.name.len(), &a.name).cmp(&(b.name_index, b.name.len(), &b.name))
        });
        let bs = self.geo.bsz();
        layout_values(&mut entries, bs, BLOCK_HEADER_SIZE)
            .map_err(|_| FsError::NoSpace { what: "room for the attribute in the xattr block" })?;
        let hash = update_hashes(&mut entries);
        let blk = match old {
            Some((b, h)) if h.refcount <= 1 => b,
            other => {
                if other.is_some() {
                    self.xattr_release(ino, i)?; // shared: drop our reference, make our own
                }
                let goal = self.default_goal(ino);
                let (b, _) = self.alloc.alloc_blocks(&mut self.txn, goal, 1)?;
                i.blocks += sectors;
                b
            }
        };
        let mut buf = vec![0u8; bs];
        let header = XattrBlockHeader { refcount: 1, blocks: 1, hash, checksum: 0 };
        encode_xattr_block(&entries, &header, &mut buf)?;
        if self.geo.metadata_csum {
            set_xattr_block_csum(&mut buf, self.sb.csum_seed(), blk);
        }
        self.txn.write_new(blk, buf)?;
        i.file_acl = blk;
        Ok(())
    }

    /// Drops `ino`'s reference to its xattr block (freed when no inode is left using it).
    pub(crate) fn xattr_release(&mut self, ino: u32, i: &mut Inode) -> Result<()> {
        let b = i.file_acl;
        if b == 0 {
            return Ok(());
        }
        i.file_acl = 0;
        i.blocks = i.blocks.saturating_sub(u64::from(self.geo.bs / 512));
        if b <= self.geo.first_data_block || b >= self.geo.blocks_count {
            return Err(FsError::corrupt(
                format!("inode {ino}"),
                "xattr block",
                format!("block {b} outside the volume"),
            ));
        }
        let raw = self.txn.read(b)?;
        let refcount = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
        if refcount <= 1 {
            self.txn.forget(b);
            self.alloc.release_blocks(b, 1);
        } else {
            let seed = self.sb.csum_seed();
            let csum = self.geo.metadata_csum;
            self.txn.modify(b, |img| {
                img[4..8].copy_from_slice(&(refcount - 1).to_le_bytes());
                if csum {
                    set_xattr_block_csum(img, seed, b);
                }
            })?;
        }
        Ok(())
    }
}
