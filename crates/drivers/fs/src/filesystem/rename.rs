//! Rename, in one operation (so one transaction): over an existing file or empty
//! directory, without replacing, or exchanging two names; a directory that changes parent
//! gets its ".." rewritten and both parents' link counts follow.

use super::inner::Inner;
use super::inode_io::set_time;
use super::types::RenameMode;
use crate::dirops::check_name;
use crate::error::{FsError, Result, shown};
use crate::ondisk::inode::ROOT_INO;

impl Inner {
    /// Whether directory `anc` is `dir` or one of its ancestors.
    fn is_ancestor(&mut self, anc: u32, mut dir: u32) -> Result<bool> {
        for _ in 0..self.geo.inodes_count {
            if dir == anc {
                return Ok(true);
            }
            if dir == ROOT_INO {
                return Ok(false);
            }
            let parent = self
                .dir_lookup(dir, b"..")?
                .ok_or_else(|| FsError::corrupt(format!("inode {dir}"), "directory", "no \"..\""))?;
            if parent == dir {
                return Ok(false);
            }
            dir = parent;
        }
        Err(FsError::corrupt(format!("inode {dir}"), "directory", "\"..\" chain loops"))
    }

    /// Renames `src_dir/src_name` to `dst_dir/dst_name`.
    pub fn rename(
        &mut self,
        src_dir: u32,
        src_name: &[u8],
        dst_dir: u32,
        dst_name: &[u8],
        how: RenameMode,
    ) -> Result<()> {
        check_name(src_name)?;
        check_name(dst_name)?;
        let later = self.op(|s| s.rename_op(src_dir, src_name, dst_dir, dst_name, how))?;
        if let Some(ino) = later {
            self.destroy(ino)?;
        }
        Ok(())
    }

    fn rename_op(
        &mut self,
        src_dir: u32,
        src_name: &[u8],
        dst_dir: u32,
        dst_name: &[u8],
        how: RenameMode,
    ) -> Result<Option<u32>> {
        self.read_dir_inode(src_dir)?;
        if self.read_dir_inode(dst_dir)?.links_count == 0 {
            return Err(FsError::NotFound { dir: dst_dir, name: shown(dst_name) });
        }
        let Some(src) = self.dir_lookup(src_dir, src_name)? else {
            return Err(FsError::NotFound { dir: src_dir, name: shown(src_name) });
        };
        let dst = self.dir_lookup(dst_dir, dst_name)?;
        if how == RenameMode::NoReplace && dst.is_some() {
            return Err(FsError::Exists { dir: dst_dir, name: shown(dst_name) });
        }
        if dst == Some(src) {
            return Ok(None); // two names of one inode: nothing to do
        }
        let mut si = self.read_inode(src)?;
        let src_is_dir = si.is_dir();
        let moves = src_dir != dst_dir;
        if src_is_dir && moves && self.is_ancestor(src, dst_dir)? {
            return Err(FsError::Invalid("rename of a directory into itself".into()));
        }
        let sft = self.ftype(si.mode);
        match (how, dst) {
            (RenameMode::NoReplace, Some(_)) => Err(FsError::Exists { dir: dst_dir, name: shown(dst_name) }),
            (RenameMode::Exchange, None) => Err(FsError::NotFound { dir: dst_dir, name: shown(dst_name) }),
            (RenameMode::Exchange, Some(d)) => {
                let mut di = self.read_inode(d)?;
                if di.is_dir() && moves && self.is_ancestor(d, src_dir)? {
                    return Err(FsError::Invalid("exchange of a directory with its descendant".into()));
                }
                let dft = self.ftype(di.mode);
                self.with_dir(src_dir, |s, p| s.dir_retarget(src_dir, p, src_name, d, dft))?;
                self.with_dir(dst_dir, |s, p| s.dir_retarget(dst_dir, p, dst_name, src, sft))?;
                if moves {
                    if src_is_dir {
                        self.reparent(src, src_dir, dst_dir)?;
                    }
                    if di.is_dir() {
                        self.reparent(d, dst_dir, src_dir)?;
                    }
                }
                self.finish_moved(src, &mut si)?;
                self.finish_moved(d, &mut di)?;
                Ok(None)
            }
            (_, Some(d)) => {
                let mut di = self.read_inode(d)?;
                if src_is_dir && !di.is_dir() {
                    return Err(FsError::NotADirectory { ino: d });
                }
                if !src_is_dir && di.is_dir() {
                    return Err(FsError::IsADirectory { ino: d });
                }
                if di.is_dir() && self.dir_counts(d, &di)?.0 > 0 {
                    return Err(FsError::NotEmpty { ino: d });
                }
                self.with_dir(dst_dir, |s, p| {
                    s.dir_retarget(dst_dir, p, dst_name, src, sft)?;
                    if di.is_dir() {
                        s.dec_dir_links(p, dst_dir)?;
                    }
                    Ok(())
                })?;
                self.with_dir(src_dir, |s, p| s.dir_remove(src_dir, p, src_name))?;
                if src_is_dir && moves {
                    self.reparent(src, src_dir, dst_dir)?;
                }
                self.finish_moved(src, &mut si)?;
                Ok(self.drop_link(d, &mut di)?.then_some(d))
            }
            (_, None) => {
                self.with_dir(dst_dir, |s, p| s.dir_add(dst_dir, p, dst_name, src, sft))?;
                self.with_dir(src_dir, |s, p| s.dir_remove(src_dir, p, src_name))?;
                if src_is_dir && moves {
                    self.reparent(src, src_dir, dst_dir)?;
                }
                self.finish_moved(src, &mut si)?;
                Ok(None)
            }
        }
    }

    /// Directory `dir` moved from `from` to `to`: its "..", and both link counts.
    fn reparent(&mut self, dir: u32, from: u32, to: u32) -> Result<()> {
        self.with_dir(dir, |s, i| s.dir_set_parent(dir, i, to))?;
        self.with_dir(from, |s, p| s.dec_dir_links(p, from))?;
        self.with_dir(to, |s, p| s.inc_dir_links(p, to))
    }

    fn finish_moved(&mut self, ino: u32, i: &mut crate::ondisk::inode::Inode) -> Result<()> {
        // Re-read: reparent may have changed the inode (a directory's blocks).
        let mut fresh = self.read_inode(ino)?;
        set_time(&mut fresh, self.now(), false, false, true);
        self.write_inode(ino, &mut fresh)?;
        *i = fresh;
        self.touched(ino, true);
        Ok(())
    }
}
