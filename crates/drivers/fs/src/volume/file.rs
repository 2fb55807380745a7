//! Reading file data: runs of mapped blocks are read in one device request; holes and
//! unwritten extents read as zeros; nothing is read past `i_size`.

use super::error::{Result, VolumeError};
use super::map::Mapping;
use super::{BlockDevice, Volume};
use crate::ondisk::inode::Inode;

/// Largest run read in one device request.
const MAX_RUN_BYTES: u64 = 1 << 20;

impl<D: BlockDevice> Volume<D> {
    /// Reads up to `buf.len()` bytes of inode `ino`'s data at `offset`; returns how many
    /// (fewer at the end of the file, 0 at or past it).
    pub fn read_at(&self, ino: u32, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let size = inode.size;
        if offset >= size {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(size - offset) as usize;
        let bs = u64::from(self.block_size());
        let mut done = 0usize;
        while done < want {
            let pos = offset + done as u64;
            let lblk = pos / bs;
            let within = pos % bs;
            let left = (want - done) as u64;
            let Ok(lblk32) = u32::try_from(lblk) else {
                // Past the last possible logical block: nothing can be mapped there.
                buf[done..want].fill(0);
                break;
            };
            let (mapped, run_blocks) = match self.map_block(ino, inode, lblk32)? {
                Mapping::Mapped { physical, len, unwritten: false } => (Some(physical), len),
                Mapping::Mapped { len, unwritten: true, .. } | Mapping::Hole { len } => (None, len),
            };
            let need_blocks = (within + left).div_ceil(bs);
            let run = run_blocks.min(need_blocks).min((MAX_RUN_BYTES / bs).max(1));
            let n = (run * bs - within).min(left) as usize;
            let dst = &mut buf[done..done + n];
            match mapped {
                None => dst.fill(0),
                Some(physical) => {
                    let data = self.read_blocks(physical, run, "file data")?;
                    let w = within as usize;
                    dst.copy_from_slice(&data[w..w + n]);
                }
            }
            done += n;
        }
        Ok(want)
    }

    /// The whole file, if it is at most `limit` bytes long (`i_size` comes from disk: the
    /// limit keeps a corrupt size from allocating without bound).
    pub fn read_all(&self, ino: u32, inode: &Inode, limit: u64) -> Result<Vec<u8>> {
        if inode.size > limit {
            return Err(VolumeError::TooLarge { ino, size: inode.size, limit });
        }
        let mut buf = vec![0u8; usize::try_from(inode.size).unwrap_or(0)];
        let n = self.read_at(ino, inode, 0, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }
}
