//! Reading files mapped the ext2/ext3 way (no extents flag): twelve direct blocks, then
//! single, double and triple indirect blocks. Such files can be read; changing them is not
//! supported.

use crate::error::Result;
use crate::filesystem::inner::Inner;
use crate::ondisk::inode::{Inode, i_block_word};

impl Inner {
    /// Maps `lblk` through the classic block map: (physical, unwritten = false) and a run of
    /// 1, or a hole with its length.
    pub(crate) fn map_blockmap(
        &mut self,
        ino: u32,
        inode: &Inode,
        lblk: u32,
    ) -> Result<(Option<(u64, bool)>, u64)> {
        let per = u64::from(self.geo.bs / 4);
        let word = |i: usize| u64::from(i_block_word(&inode.block, i));
        let mut l = u64::from(lblk);
        if l < 12 {
            return Ok(finish(word(l as usize)));
        }
        l -= 12;
        let mut span = 1u64;
        for (level, slot) in [(1u32, 12usize), (2, 13), (3, 14)] {
            span *= per;
            if l < span {
                let mut blk = word(slot);
                let mut sub = span;
                for _ in 0..level {
                    if blk == 0 {
                        return Ok((None, sub - l % sub));
                    }
                    if blk >= self.geo.blocks_count {
                        return Err(crate::error::FsError::corrupt(
                            format!("inode {ino}"),
                            "indirect block",
                            format!("block {blk} outside the volume"),
                        ));
                    }
                    sub /= per;
                    let raw = self.txn.read(blk)?;
                    blk = u64::from(i_block_word(&raw, (l / sub % per) as usize));
                }
                return Ok(finish(blk));
            }
            l -= span;
        }
        Ok((None, 1))
    }
}

fn finish(blk: u64) -> (Option<(u64, bool)>, u64) {
    if blk == 0 { (None, 1) } else { (Some((blk, false)), 1) }
}
