//! Path resolution from the root directory, following symbolic links (fast ones, with the
//! target in `i_block`, and slow ones, with the target in a data block).

use super::error::{Result, VolumeError};
use super::{BlockDevice, Volume};
use crate::ondisk::inode::{Inode, ROOT_INO};

/// Most symbolic links followed in one resolution (Linux's limit).
pub const MAX_SYMLINKS: u32 = 40;

impl<D: BlockDevice> Volume<D> {
    /// The target of symbolic link `ino`.
    pub fn read_link(&self, ino: u32) -> Result<Vec<u8>> {
        let inode = self.read_inode(ino)?;
        self.read_link_inode(ino, &inode)
    }

    /// The target of a symbolic link already read.
    pub fn read_link_inode(&self, ino: u32, inode: &Inode) -> Result<Vec<u8>> {
        if !inode.is_symlink() {
            return Err(VolumeError::NotASymlink { ino });
        }
        if is_fast_symlink(inode, self.block_size()) {
            let len = inode.size as usize; // < 60, checked by is_fast_symlink
            return Ok(inode.block.get(..len).unwrap_or(&[]).to_vec());
        }
        self.read_all(ino, inode, u64::from(self.block_size()))
    }

    /// Resolves an absolute path (relative ones are taken from the root too), following
    /// symbolic links, the last component's included.
    pub fn resolve(&self, path: impl AsRef<[u8]>) -> Result<u32> {
        self.resolve_from(ROOT_INO, path.as_ref(), true)
    }

    /// Like [`Volume::resolve`] but a final symbolic link is returned, not followed.
    pub fn resolve_nofollow(&self, path: impl AsRef<[u8]>) -> Result<u32> {
        self.resolve_from(ROOT_INO, path.as_ref(), false)
    }

    fn resolve_from(&self, start: u32, path: &[u8], follow_last: bool) -> Result<u32> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        // Components still to walk, last first, so a link's target can be pushed on top.
        let mut todo: Vec<Vec<u8>> = split(path).rev().collect();
        let mut dir = start;
        let mut links = 0u32;
        while let Some(name) = todo.pop() {
            if name.is_empty() || name == b"." {
                continue;
            }
            let Some(ino) = self.lookup(dir, &name)? else {
                return Err(VolumeError::NotFound { path: shown() });
            };
            let inode = self.read_inode(ino)?;
            if inode.links_count == 0 && inode.mode == 0 {
                return Err(super::error::corrupt(
                    format!("inode {dir}"),
                    "directory entry",
                    format!("{:?} points at free inode {ino}", String::from_utf8_lossy(&name)),
                ));
            }
            let last = todo.is_empty();
            if inode.is_symlink() && (!last || follow_last) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(VolumeError::SymlinkLoop { path: shown() });
                }
                let target = self.read_link_inode(ino, &inode)?;
                if target.first() == Some(&b'/') {
                    dir = ROOT_INO;
                }
                todo.extend(split(&target).rev());
                continue;
            }
            if last {
                return Ok(ino);
            }
            if !inode.is_dir() {
                return Err(VolumeError::NotADirectory { ino });
            }
            dir = ino;
        }
        Ok(dir)
    }
}

fn split(path: &[u8]) -> impl DoubleEndedIterator<Item = Vec<u8>> + '_ {
    path.split(|&c| c == b'/').map(<[u8]>::to_vec)
}

/// A fast symlink keeps its target in `i_block`: no extents flag, shorter than 60 bytes,
/// and no data blocks (an xattr block may still be counted in `i_blocks`).
pub fn is_fast_symlink(inode: &Inode, block_size: u32) -> bool {
    let xattr_sectors = if inode.file_acl != 0 { u64::from(block_size / 512) } else { 0 };
    inode.is_symlink()
        && !inode.uses_extents()
        && inode.size < 60
        && inode.blocks_512(false, block_size).saturating_sub(xattr_sectors) == 0
}
