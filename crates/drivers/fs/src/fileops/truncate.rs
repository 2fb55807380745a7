//! Truncation and hole punching. Blocks are removed from the end in steps of bounded size,
//! one operation each, so a huge fragmented file never makes a transaction too big for the
//! journal. A truncation that takes more than one step puts the inode on the orphan list
//! first, as ext4 does, so that after a crash the mount finishes it.

use std::sync::Arc;

use crate::error::{FsError, Result};
use crate::extent_tree::LBLK_END;
use crate::filesystem::inner::Inner;
use crate::filesystem::inode_io::set_time;
use crate::ondisk::extent::Extent;

impl Inner {
    /// Logical blocks one removal step covers at most (64 full extent leaves of one-block
    /// extents every other block).
    fn removal_step(&self) -> u64 {
        u64::from(self.geo.extents_per_block()) * 128
    }

    /// Sets the size of regular file `ino`: extends sparsely, or truncates.
    pub fn truncate(&mut self, ino: u32, size: u64) -> Result<()> {
        let inode = self.read_inode(ino)?;
        if inode.is_dir() {
            return Err(FsError::IsADirectory { ino });
        }
        if !inode.is_regular() {
            return Err(FsError::Invalid(format!("inode {ino}: truncate of a non-regular file")));
        }
        if size > self.max_file_size() {
            return Err(FsError::FileTooLarge { ino, size });
        }
        let bs = u64::from(self.geo.bs);
        let from = size.div_ceil(bs);
        let finished = self.op(|s| s.shrink_start(ino, size))?;
        if !finished {
            self.remove_blocks(ino, from, LBLK_END)?;
            if self.truncating.remove(&ino) {
                self.op(|s| s.orphan_del(ino))?;
            }
        }
        Ok(())
    }

    /// First step of a truncation: the new size, the partial last block's tail zeroed, and
    /// either every block past the end removed (true) or the inode put on the orphan list
    /// for the steps to come (false).
    fn shrink_start(&mut self, ino: u32, size: u64) -> Result<bool> {
        let mut inode = self.read_inode(ino)?;
        let bs = u64::from(self.geo.bs);
        let from = size.div_ceil(bs);
        let shrinking = size < inode.size;
        let growing = size > inode.size;
        if shrinking && !size.is_multiple_of(bs) {
            self.zero_in_block(ino, &inode, size, bs - size % bs)?;
        }
        let step = self.removal_step();
        let done = self.with_tree(ino, &mut inode, |t| {
            if growing {
                return Ok(true); // blocks past the old end (preallocated) stay
            }
            let Some(last) = t.last_before(LBLK_END)? else { return Ok(true) };
            if last.end() <= from {
                return Ok(true);
            }
            if last.end() - from > step && t.depth()? > 0 {
                return Ok(false);
            }
            t.remove(from, LBLK_END, true)?;
            Ok(true)
        })?;
        inode.size = size;
        set_time(&mut inode, self.now(), false, true, true);
        self.write_inode(ino, &mut inode)?;
        if !done && !self.orphans.contains(&ino) {
            self.orphan_add(ino)?;
            self.truncating.insert(ino);
        }
        self.touched(ino, true);
        Ok(done)
    }

    /// Removes the blocks of `ino` in `from..to` (logical), a bounded step per operation.
    pub fn remove_blocks(&mut self, ino: u32, from: u64, to: u64) -> Result<()> {
        let mut prev = None;
        loop {
            let (done, last) = self.op(|s| s.remove_step(ino, from, to))?;
            if done {
                return Ok(());
            }
            if last.is_some() && last == prev {
                // A tree whose index keys do not cover its extents: removal makes no progress.
                return Err(FsError::corrupt(
                    format!("inode {ino}"),
                    "extent tree",
                    "index keys do not match extents",
                ));
            }
            prev = last;
        }
    }

    /// One step of [`Inner::remove_blocks`]: true when nothing is left in the range, and the
    /// extent the step started from.
    fn remove_step(&mut self, ino: u32, from: u64, to: u64) -> Result<(bool, Option<Extent>)> {
        let mut inode = self.read_inode_any(ino)?;
        let step = self.removal_step();
        let r = self.with_tree(ino, &mut inode, |t| {
            let Some(last) = t.last_before(to)? else { return Ok((true, None)) };
            let hi = last.end().min(to);
            if hi <= from {
                return Ok((true, None));
            }
            let lo = from.max(hi.saturating_sub(step));
            t.remove(lo, hi, true)?;
            Ok((lo <= from, Some(last)))
        })?;
        self.write_inode(ino, &mut inode)?;
        self.touched(ino, true);
        Ok(r)
    }

    /// Zeros `len` bytes at `pos` of the file where they fall in a written block (holes and
    /// unwritten blocks already read as zeros). Stays within one block.
    fn zero_in_block(
        &mut self,
        ino: u32,
        inode: &crate::ondisk::inode::Inode,
        pos: u64,
        len: u64,
    ) -> Result<()> {
        let bs = u64::from(self.geo.bs);
        let lblk = pos / bs;
        if lblk >= LBLK_END || len == 0 {
            return Ok(());
        }
        if let (Some((phys, false)), _) = self.map(ino, inode, lblk as u32)? {
            let dev = Arc::clone(self.txn.device());
            let mut b = vec![0u8; bs as usize];
            dev.read_at(phys * bs, &mut b)?;
            let w = (pos % bs) as usize;
            b[w..(w + len as usize).min(bs as usize)].fill(0);
            dev.write_at(phys * bs, &b)?;
        }
        Ok(())
    }

    /// Deallocates the whole blocks in `off..off+len` and zeros the partial ones at its
    /// edges; the size does not change.
    pub fn punch_hole(&mut self, ino: u32, off: u64, len: u64) -> Result<()> {
        let inode = self.read_inode(ino)?;
        if inode.is_dir() {
            return Err(FsError::IsADirectory { ino });
        }
        if !inode.is_regular() {
            return Err(FsError::Invalid(format!("inode {ino}: punch in a non-regular file")));
        }
        let bs = u64::from(self.geo.bs);
        let end = off.saturating_add(len).min(self.max_file_size());
        if end <= off {
            return Ok(());
        }
        self.op(|s| {
            let mut inode = s.read_inode(ino)?;
            let head_end = (off / bs + 1) * bs;
            if !off.is_multiple_of(bs) {
                s.zero_in_block(ino, &inode, off, head_end.min(end) - off)?;
            }
            if !end.is_multiple_of(bs) && end > head_end.min(end) && end / bs != off / bs {
                s.zero_in_block(ino, &inode, end / bs * bs, end % bs)?;
            }
            set_time(&mut inode, s.now(), false, true, true);
            s.write_inode(ino, &mut inode)?;
            s.touched(ino, true);
            Ok(())
        })?;
        let (lo, hi) = (off.div_ceil(bs), end / bs);
        if lo < hi {
            self.remove_blocks(ino, lo, hi)?;
        }
        Ok(())
    }
}
