//! The orphan list: inodes whose last link is gone while they are still open, and inodes
//! in the middle of a truncation. It is a chain in the superblock (`s_last_orphan`) and the
//! inodes' `i_dtime`, changed in the same transaction as what makes an inode an orphan, so
//! a crash leaves the mount a list of inodes to finish: free the unlinked ones, cut the
//! truncated ones to their size.

use super::inner::Inner;
use crate::error::Result;

impl Inner {
    /// Puts `ino` at the head of the orphan list.
    pub fn orphan_add(&mut self, ino: u32) -> Result<()> {
        if self.orphans.contains(&ino) {
            return Ok(());
        }
        let mut i = self.read_inode_any(ino)?;
        i.dtime = self.sb.last_orphan;
        self.write_inode(ino, &mut i)?;
        self.sb.last_orphan = ino;
        self.orphans.insert(0, ino);
        Ok(())
    }

    /// Takes `ino` off the orphan list (its `i_dtime` is cleared).
    pub fn orphan_del(&mut self, ino: u32) -> Result<()> {
        let Some(pos) = self.orphans.iter().position(|&o| o == ino) else { return Ok(()) };
        let mut i = self.read_inode_any(ino)?;
        let next = i.dtime;
        i.dtime = 0;
        self.write_inode(ino, &mut i)?;
        if pos == 0 {
            self.sb.last_orphan = next;
        } else {
            let prev = self.orphans[pos - 1];
            let mut p = self.read_inode_any(prev)?;
            p.dtime = next;
            self.write_inode(prev, &mut p)?;
        }
        self.orphans.remove(pos);
        Ok(())
    }

    /// Reads the on-disk chain (bounded: a corrupt chain stops at the first bad link).
    pub fn read_orphan_chain(&mut self) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut ino = self.sb.last_orphan;
        while ino != 0 {
            if ino > self.geo.inodes_count || out.contains(&ino) || out.len() as u32 >= self.geo.inodes_count
            {
                tracing::warn!(ino, "orphan chain ends at a bad link");
                break;
            }
            out.push(ino);
            ino = self.read_inode_any(ino)?.dtime;
        }
        Ok(out)
    }

    /// At mount: finishes what every orphan was left in the middle of.
    pub fn process_orphans(&mut self) -> Result<()> {
        self.orphans = self.read_orphan_chain()?;
        if self.sb.last_orphan != 0 && self.orphans.is_empty() {
            self.op(|s| {
                s.sb.last_orphan = 0;
                Ok(())
            })?;
        }
        for ino in self.orphans.clone() {
            let inode = self.read_inode_any(ino)?;
            if inode.links_count == 0 {
                tracing::info!(ino, "freeing an orphan inode");
                self.destroy(ino)?;
            } else {
                tracing::info!(ino, size = inode.size, "finishing an orphan's truncation");
                let bs = u64::from(self.geo.bs);
                if inode.uses_extents() {
                    self.remove_blocks(ino, inode.size.div_ceil(bs), crate::extent_tree::LBLK_END)?;
                }
                self.op(|s| s.orphan_del(ino))?;
            }
        }
        Ok(())
    }
}
