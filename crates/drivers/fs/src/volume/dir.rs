//! Directories: listing (every block parsed as a linear block, except an indexed
//! directory's dx_root/dx_node blocks), and name lookup (hashed through the htree when
//! the directory has one, else a linear scan).

use super::error::{Result, VolumeError, corrupt};
use super::map::Mapping;
use super::{BlockDevice, Volume};
use crate::ondisk::dirent::{FileType, parse_block, verify_dirblock};
use crate::ondisk::features::compat;
use crate::ondisk::inode::{Inode, flags};

/// Largest directory without large_dir.
const MAX_DIR_SIZE: u64 = 1 << 31;

/// A directory entry in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntryInfo {
    /// The name.
    pub name: Vec<u8>,
    /// Its inode.
    pub inode: u32,
    /// The type stored in the entry (`Unknown` without the filetype feature).
    pub file_type: FileType,
}

impl<D: BlockDevice> Volume<D> {
    /// Reads inode `ino`, failing unless it is a directory.
    pub fn read_dir_inode(&self, ino: u32) -> Result<Inode> {
        let inode = self.read_inode(ino)?;
        if !inode.is_dir() {
            return Err(VolumeError::NotADirectory { ino });
        }
        if inode.flags & flags::INLINE_DATA != 0 {
            return Err(VolumeError::NotSupported { ino, what: "inline data" });
        }
        Ok(inode)
    }

    /// Logical blocks of a directory: its size must be whole blocks, at most 2 GiB (the
    /// limit without large_dir, which we do not support).
    pub(crate) fn dir_blocks(&self, ino: u32, inode: &Inode) -> Result<u32> {
        let bs = u64::from(self.block_size());
        if !inode.size.is_multiple_of(bs) || inode.size > MAX_DIR_SIZE {
            return Err(corrupt(
                format!("inode {ino}"),
                "directory",
                format!("size {} is not whole blocks up to 2 GiB", inode.size),
            ));
        }
        Ok((inode.size / bs) as u32)
    }

    /// Logical block `lblk` of directory `ino` (a hole in a directory is corruption).
    pub(crate) fn read_dir_block(&self, ino: u32, inode: &Inode, lblk: u32) -> Result<Vec<u8>> {
        match self.map_block(ino, inode, lblk)? {
            Mapping::Mapped { physical, unwritten: false, .. } => {
                self.read_block(physical, "directory block")
            }
            _ => Err(corrupt(format!("inode {ino}"), "directory", format!("logical block {lblk} is a hole"))),
        }
    }

    /// The htree is used for this directory (flag set and dir_index on).
    pub(crate) fn is_indexed(&self, inode: &Inode) -> bool {
        inode.flags & flags::INDEX != 0 && self.sb.features.compat & compat::DIR_INDEX != 0
    }

    /// Parses a directory leaf block, verifying its checksum tail with metadata_csum.
    pub(crate) fn parse_leaf(
        &self,
        ino: u32,
        inode: &Inode,
        lblk: u32,
        block: &[u8],
    ) -> Result<Vec<DirEntryInfo>> {
        let csum = self.sb.has_metadata_csum();
        let at = |e: crate::ondisk::FormatError| {
            VolumeError::Corrupt(e.at(format!("directory block {lblk}")).at(format!("inode {ino}")))
        };
        if self.verify_csums() {
            verify_dirblock(block, self.inode_seed(ino, inode)).map_err(at)?;
        }
        let entries = parse_block(block, csum).map_err(at)?;
        Ok(entries
            .into_iter()
            .filter(|e| e.inode != 0)
            .map(|e| DirEntryInfo { name: e.name, inode: e.inode, file_type: e.file_type })
            .collect())
    }

    /// Every entry in use of directory `ino`, "." and ".." included, in on-disk order.
    pub fn read_dir(&self, ino: u32) -> Result<Vec<DirEntryInfo>> {
        let inode = self.read_dir_inode(ino)?;
        let n = self.dir_blocks(ino, &inode)?;
        let mut out = Vec::new();
        let index_blocks = if self.is_indexed(&inode) {
            let (root, blocks) = self.dx_index_blocks(ino, &inode)?;
            out.push(DirEntryInfo {
                name: b".".to_vec(),
                inode: root.dot_inode,
                file_type: FileType::Directory,
            });
            out.push(DirEntryInfo {
                name: b"..".to_vec(),
                inode: root.dotdot_inode,
                file_type: FileType::Directory,
            });
            blocks
        } else {
            Default::default()
        };
        for lblk in 0..n {
            if index_blocks.contains(&lblk) {
                continue;
            }
            let block = self.read_dir_block(ino, &inode, lblk)?;
            out.extend(self.parse_leaf(ino, &inode, lblk, &block)?);
        }
        Ok(out)
    }

    /// The inode `name` refers to in directory `dir`, if any.
    pub fn lookup(&self, dir: u32, name: &[u8]) -> Result<Option<u32>> {
        let inode = self.read_dir_inode(dir)?;
        if self.is_indexed(&inode) {
            if name == b"." || name == b".." {
                let root = self.dx_root(dir, &inode)?;
                return Ok(Some(if name == b"." { root.dot_inode } else { root.dotdot_inode }));
            }
            return self.dx_lookup(dir, &inode, name);
        }
        for lblk in 0..self.dir_blocks(dir, &inode)? {
            let block = self.read_dir_block(dir, &inode, lblk)?;
            if let Some(e) = self.parse_leaf(dir, &inode, lblk, &block)?.into_iter().find(|e| e.name == name)
            {
                return Ok(Some(e.inode));
            }
        }
        Ok(None)
    }
}
