//! Preallocation: unwritten extents over the holes of a range (they read as zeros until
//! written), optionally growing the size to cover it.

use crate::error::{FsError, Result};
use crate::extent_tree::{Found, max_len};
use crate::filesystem::inner::Inner;
use crate::filesystem::inode_io::set_time;
use crate::ondisk::extent::Extent;

/// Blocks one preallocation step allocates at most.
const STEP_BLOCKS: u64 = 1 << 16;

impl Inner {
    /// Allocates unwritten blocks for every hole in `off..off+len` of regular file `ino`;
    /// unless `keep_size`, the size grows to `off + len`.
    pub fn fallocate(&mut self, ino: u32, off: u64, len: u64, keep_size: bool) -> Result<()> {
        let inode = self.read_inode(ino)?;
        if inode.is_dir() {
            return Err(FsError::IsADirectory { ino });
        }
        if !inode.is_regular() {
            return Err(FsError::Invalid(format!("inode {ino}: fallocate of a non-regular file")));
        }
        if len == 0 {
            return Err(FsError::Invalid("fallocate of 0 bytes".into()));
        }
        let end = off.checked_add(len).filter(|&e| e <= self.max_file_size());
        let Some(end) = end else { return Err(FsError::FileTooLarge { ino, size: off.saturating_add(len) }) };
        let bs = u64::from(self.geo.bs);
        let (first, stop) = (off / bs, end.div_ceil(bs));
        let mut lblk = first;
        while lblk < stop {
            lblk = self.op(|s| s.fallocate_step(ino, lblk, stop))?;
        }
        self.op(|s| {
            let mut inode = s.read_inode(ino)?;
            if !keep_size && end > inode.size {
                inode.size = end;
            }
            set_time(&mut inode, s.now(), false, false, true);
            s.write_inode(ino, &mut inode)?;
            s.touched(ino, true);
            Ok(())
        })
    }

    /// Fills holes from `lblk` for up to [`STEP_BLOCKS`] blocks; returns where it stopped.
    fn fallocate_step(&mut self, ino: u32, mut lblk: u64, stop: u64) -> Result<u64> {
        let mut inode = self.read_inode(ino)?;
        let mut budget = STEP_BLOCKS;
        let r = self.with_tree(ino, &mut inode, |t| {
            while lblk < stop && budget > 0 {
                match t.find(lblk as u32)? {
                    Found::Mapped(e) => lblk = e.end().min(stop),
                    Found::Hole { next } => {
                        let want = (next.min(stop) - lblk).min(u64::from(max_len(true))).min(budget) as u32;
                        let goal = match t.last_before(lblk + 1)? {
                            Some(e) => e.start + (lblk - u64::from(e.block)),
                            None => t.store().goal,
                        };
                        let s = t.store();
                        let (phys, n) = s.fs.alloc.alloc_blocks(&mut s.fs.txn, goal, want)?;
                        s.delta += i64::from(n);
                        t.insert(Extent { block: lblk as u32, len: n as u16, unwritten: true, start: phys })?;
                        lblk += u64::from(n);
                        budget -= u64::from(n);
                    }
                }
            }
            Ok(lblk)
        })?;
        self.write_inode(ino, &mut inode)?;
        self.touched(ino, true);
        Ok(r)
    }
}
