//! Attributes: `setattr` (mode, owner, times with nanoseconds, size) and `statfs`.

use super::inner::Inner;
use super::inode_io::set_time;
use super::types::{Attr, SetAttr, StatFs};
use crate::error::Result;
use crate::ondisk::inode::mode;

impl Inner {
    /// Changes what `set` names; the size first (a truncation), then the rest in one
    /// operation. ctime becomes now unless given.
    pub fn setattr(&mut self, ino: u32, set: &SetAttr) -> Result<Attr> {
        if let Some(size) = set.size {
            self.truncate(ino, size)?;
        }
        let only_size = set.mode.is_none()
            && set.uid.is_none()
            && set.gid.is_none()
            && set.atime.is_none()
            && set.mtime.is_none()
            && set.ctime.is_none()
            && set.crtime.is_none();
        if only_size && set.size.is_some() {
            return self.attr(ino);
        }
        self.op(|s| {
            let mut i = s.read_inode(ino)?;
            if let Some(m) = set.mode {
                i.mode = (i.mode & mode::S_IFMT) | (m & 0o7777);
            }
            if let Some(u) = set.uid {
                i.uid = u;
            }
            if let Some(g) = set.gid {
                i.gid = g;
            }
            if let Some(t) = set.atime {
                set_time(&mut i, t, true, false, false);
            }
            if let Some(t) = set.mtime {
                set_time(&mut i, t, false, true, false);
            }
            if let Some(t) = set.crtime {
                (i.crtime, i.crtime_extra) = t.encode();
            }
            let ctime = set.ctime.unwrap_or_else(|| s.now());
            set_time(&mut i, ctime, false, false, true);
            s.write_inode(ino, &mut i)?;
            s.touched(ino, false);
            Ok(Attr::from_inode(ino, &i, s.geo.bs))
        })
    }

    /// Volume usage.
    pub fn statfs(&self) -> StatFs {
        let free = self.alloc.free_blocks() + self.alloc.pending_free_blocks();
        StatFs {
            block_size: self.geo.bs,
            blocks: self.geo.blocks_count,
            free_blocks: free,
            available_blocks: free.saturating_sub(self.sb.r_blocks_count),
            files: u64::from(self.geo.inodes_count),
            free_files: u64::from(self.alloc.free_inodes()),
            name_max: 255,
        }
    }
}
