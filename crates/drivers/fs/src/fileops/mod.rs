//! File data: reading (holes and unwritten extents read as zeros), writing (blocks allocated
//! where the file has none, contiguous where they can be, unwritten extents turned written),
//! truncation, hole punching and preallocation.
//!
//! Data is ordered, not journaled: it is written to its blocks before the operation returns,
//! so before the commit of the transaction whose metadata points at it. Blocks a file already
//! had are overwritten in place, which ordered mode allows.

mod blockmap;
mod fallocate;
mod store;
mod truncate;

use std::sync::Arc;

use crate::device::BlockDevice;
use crate::error::{FsError, Result};
use crate::extent_tree::{Found, LBLK_END, Tree, max_len};
use crate::filesystem::inner::Inner;
use crate::filesystem::inode_io::set_time;
use crate::ondisk::extent::Extent;
use crate::ondisk::inode::Inode;
pub(crate) use store::InodeStore;

/// Bytes one write operation (one transaction step) covers at most.
const WRITE_CHUNK: usize = 8 << 20;
/// Bytes read from the device in one request at most.
const READ_RUN: u64 = 1 << 20;

impl Inner {
    /// Largest file size: the last logical block ext4 can map.
    pub fn max_file_size(&self) -> u64 {
        (LBLK_END - 1) * u64::from(self.geo.bs)
    }

    /// Where a file's first blocks should go: the start of its inode's group.
    pub fn default_goal(&self, ino: u32) -> u64 {
        self.geo.group_start(self.geo.group_of_inode(ino))
    }

    /// Runs `f` on the extent tree of `inode`, then brings `i_blocks` up to date with what
    /// the tree allocated and freed.
    pub fn with_tree<R>(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        f: impl FnOnce(&mut Tree<'_, InodeStore<'_>>) -> Result<R>,
    ) -> Result<R> {
        if !inode.uses_extents() {
            return Err(FsError::NotSupported(format!(
                "inode {ino}: changing a block-mapped (non-extent) file"
            )));
        }
        if inode.flags & crate::ondisk::inode::flags::HUGE_FILE != 0 {
            return Err(FsError::NotSupported(format!(
                "inode {ino}: i_blocks in file-system blocks (huge_file)"
            )));
        }
        let seed = self.inode_seed(ino, inode);
        let goal = self.default_goal(ino);
        let sectors = i64::from(self.geo.bs / 512);
        let mut store = InodeStore::new(self, seed, goal, inode.is_dir());
        let mut root = inode.block;
        let r = {
            let mut t = Tree::new(&mut root, &mut store);
            let r = f(&mut t);
            if r.is_ok() {
                t.finish()?;
            }
            r
        };
        let delta = store.delta;
        inode.block = root;
        inode.blocks = (inode.blocks as i64 + delta * sectors).max(0) as u64;
        r
    }

    /// Maps logical block `lblk` of a file: (physical block, blocks in the run, unwritten),
    /// or None in a hole (with the hole's length).
    pub fn map(&mut self, ino: u32, inode: &Inode, lblk: u32) -> Result<(Option<(u64, bool)>, u64)> {
        if !inode.uses_extents() {
            return self.map_blockmap(ino, inode, lblk);
        }
        let mut copy = inode.clone();
        self.with_tree(ino, &mut copy, |t| {
            Ok(match t.find(lblk)? {
                Found::Mapped(e) => {
                    let off = u64::from(lblk - e.block);
                    (Some((e.start + off, e.unwritten)), u64::from(e.len) - off)
                }
                Found::Hole { next } => (None, next - u64::from(lblk)),
            })
        })
    }

    /// Reads file data at `off` into `buf`; returns the bytes read (0 at or past the end).
    pub fn read_data(&mut self, ino: u32, off: u64, buf: &mut [u8]) -> Result<usize> {
        let inode = self.read_inode(ino)?;
        if inode.is_dir() {
            return Err(FsError::IsADirectory { ino });
        }
        // Regular files, and the target block of a slow symlink (readlink); a fast symlink's
        // or a device's i_block is not a block map.
        if !(inode.is_regular() || inode.is_symlink() && inode.uses_extents()) {
            return Err(FsError::Invalid(format!("inode {ino}: read of a file that has no data blocks")));
        }
        if off >= inode.size {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(inode.size - off) as usize;
        let bs = u64::from(self.geo.bs);
        let dev = Arc::clone(self.txn.device());
        let mut done = 0usize;
        while done < want {
            let pos = off + done as u64;
            let lblk = pos / bs;
            let within = (pos % bs) as usize;
            let (mapped, run) = self.map(ino, &inode, lblk as u32)?;
            let left = want - done;
            let run = run.min(READ_RUN / bs).max(1).min((within + left).div_ceil(bs as usize) as u64);
            let n = ((run * bs) as usize - within).min(left);
            let dst = &mut buf[done..done + n];
            match mapped {
                Some((phys, false)) => {
                    self.check_data_range(ino, phys, run)?;
                    let mut tmp = vec![0u8; (run * bs) as usize];
                    dev.read_at(phys * bs, &mut tmp)?;
                    dst.copy_from_slice(&tmp[within..within + n]);
                }
                _ => dst.fill(0),
            }
            done += n;
        }
        Ok(want)
    }

    fn check_data_range(&self, ino: u32, phys: u64, n: u64) -> Result<()> {
        if phys <= self.geo.first_data_block || phys.saturating_add(n) > self.geo.blocks_count {
            return Err(FsError::corrupt(
                format!("inode {ino}"),
                "extent",
                format!("data at block {phys} outside the volume"),
            ));
        }
        Ok(())
    }

    /// Writes `data` at `off`, in operations of at most [`WRITE_CHUNK`] bytes; returns the
    /// bytes written. When the volume fills, smaller and smaller pieces are tried, so the
    /// write comes back short with what fit (ENOSPC only if nothing did).
    pub fn write_data(&mut self, ino: u32, off: u64, data: &[u8]) -> Result<usize> {
        if off.checked_add(data.len() as u64).is_none_or(|end| end > self.max_file_size()) {
            return Err(FsError::FileTooLarge { ino, size: off.saturating_add(data.len() as u64) });
        }
        let mut done = 0usize;
        let mut step = WRITE_CHUNK;
        while done < data.len() {
            let n = (data.len() - done).min(step);
            let at = off + done as u64;
            let chunk = &data[done..done + n];
            match self.op(|s| s.write_chunk(ino, at, chunk)) {
                Ok(()) => done += n,
                Err(FsError::NoSpace { .. }) if n > 1 => step = n / 2,
                Err(e) if done > 0 && matches!(e, FsError::NoSpace { .. }) => return Ok(done),
                Err(e) => return Err(e),
            }
        }
        if data.is_empty() {
            self.read_inode(ino)?;
        }
        Ok(done)
    }

    fn write_chunk(&mut self, ino: u32, off: u64, data: &[u8]) -> Result<()> {
        let mut inode = self.read_inode(ino)?;
        if inode.is_dir() {
            return Err(FsError::IsADirectory { ino });
        }
        if !inode.is_regular() {
            return Err(FsError::Invalid(format!("inode {ino}: write to a non-regular file")));
        }
        let end = off.saturating_add(data.len() as u64);
        if end > self.max_file_size() {
            return Err(FsError::FileTooLarge { ino, size: end });
        }
        let bs = u64::from(self.geo.bs);
        let (first, last) = (off / bs, (end - 1) / bs);
        let dev = Arc::clone(self.txn.device());
        let w = Writer { dev: &*dev, bs, off, data };
        let old_blocks = inode.blocks;
        // Preallocated blocks written for the first time: their extents become written,
        // which reading the data back needs (fdatasync must commit it).
        let mut converted = false;
        self.with_tree(ino, &mut inode, |t| {
            let mut lblk = first;
            while lblk <= last {
                match t.find(lblk as u32)? {
                    Found::Mapped(e) => {
                        let run_end = e.end().min(last + 1);
                        let phys = e.start + (lblk - u64::from(e.block));
                        let geo = &t.store().fs.geo;
                        if phys <= geo.first_data_block
                            || phys.saturating_add(run_end - lblk) > geo.blocks_count
                        {
                            return Err(FsError::corrupt(
                                format!("inode {ino}"),
                                "extent",
                                "data outside the volume",
                            ));
                        }
                        w.write(phys, lblk, run_end - lblk, !e.unwritten)?;
                        if e.unwritten {
                            t.mark_written(lblk, run_end)?;
                            converted = true;
                        }
                        lblk = run_end;
                    }
                    Found::Hole { next } => {
                        let want = (next.min(last + 1) - lblk).min(u64::from(max_len(false))) as u32;
                        let goal = match t.last_before(lblk + 1)? {
                            Some(e) => e.start + (lblk - u64::from(e.block)),
                            None => t.store().goal,
                        };
                        let s = t.store();
                        let (phys, n) = s.fs.alloc.alloc_blocks(&mut s.fs.txn, goal, want)?;
                        s.delta += i64::from(n);
                        w.write(phys, lblk, u64::from(n), false)?;
                        t.insert(Extent {
                            block: lblk as u32,
                            len: n as u16,
                            unwritten: false,
                            start: phys,
                        })?;
                        lblk += u64::from(n);
                    }
                }
            }
            Ok(())
        })?;
        let grew = end > inode.size;
        if grew {
            inode.size = end;
        }
        set_time(&mut inode, self.now(), false, true, true);
        self.write_inode(ino, &mut inode)?;
        self.touched(ino, grew || converted || inode.blocks != old_blocks);
        Ok(())
    }
}

/// Writes the part of one `write` that falls in a run of blocks.
struct Writer<'a> {
    dev: &'a dyn BlockDevice,
    bs: u64,
    off: u64,
    data: &'a [u8],
}

impl Writer<'_> {
    /// Writes logical blocks `lblk..lblk + n` at physical `phys`: the write's bytes, and
    /// around them (in partly covered first and last blocks) what was there if `keep`, else
    /// zeros.
    fn write(&self, phys: u64, lblk: u64, n: u64, keep: bool) -> Result<()> {
        let bs = self.bs;
        let (start, stop) = (lblk * bs, (lblk + n) * bs);
        let end = self.off + self.data.len() as u64;
        let (a, b) = (start.max(self.off), stop.min(end));
        let mut buf = vec![0u8; (n * bs) as usize];
        if keep && a > start {
            self.dev.read_at(phys * bs, &mut buf[..bs as usize])?;
        }
        if keep && b < stop {
            let last = ((n - 1) * bs) as usize;
            self.dev.read_at((phys + n - 1) * bs, &mut buf[last..])?;
        }
        buf[(a - start) as usize..(b - start) as usize]
            .copy_from_slice(&self.data[(a - self.off) as usize..(b - self.off) as usize]);
        self.dev.write_at(phys * bs, &buf)?;
        Ok(())
    }
}
