//! Names: lookup, and the operations that add a name (mknod/create, mkdir, symlink, link)
//! or take one away (unlink, rmdir), with the link counts ext4 keeps (dir_nlink: a
//! directory with more than 65000 subdirectories counts 1).

use super::inner::Inner;
use super::inode_io::{set_rdev, set_time};
use super::types::Attr;
use crate::dirops::check_name;
use crate::error::{FsError, Result, shown};
use crate::extent_tree::LBLK_END;
use crate::ondisk::extent::Extent;
use crate::ondisk::features::ro_compat;
use crate::ondisk::inode::{Inode, flags, mode};

/// ext4's most links (`EXT4_LINK_MAX`).
pub(crate) const LINK_MAX: u16 = 65000;

impl Inner {
    /// The attributes of `ino`.
    pub fn attr(&mut self, ino: u32) -> Result<Attr> {
        let i = self.read_inode(ino)?;
        Ok(Attr::from_inode(ino, &i, self.geo.bs))
    }

    /// Looks `name` up in `dir`.
    pub fn lookup(&mut self, dir: u32, name: &[u8]) -> Result<Attr> {
        let Some(ino) = self.dir_lookup(dir, name)? else {
            return Err(FsError::NotFound { dir, name: shown(name) });
        };
        self.attr(ino).map_err(|e| match e {
            FsError::NoSuchInode { ino } => FsError::corrupt(
                format!("inode {dir}"),
                "directory entry",
                format!("{:?} points at free inode {ino}", shown(name)),
            ),
            o => o,
        })
    }

    /// Reads, changes and writes a directory inode.
    pub(crate) fn with_dir<R>(
        &mut self,
        dir: u32,
        f: impl FnOnce(&mut Inner, &mut Inode) -> Result<R>,
    ) -> Result<R> {
        let mut i = self.read_dir_inode(dir)?;
        let r = f(self, &mut i)?;
        self.write_inode(dir, &mut i)?;
        self.touched(dir, true);
        Ok(r)
    }

    /// A parent for a new name: a live directory without that name yet.
    fn check_new_name(&mut self, dir: u32, name: &[u8]) -> Result<()> {
        check_name(name)?;
        let parent = self.read_dir_inode(dir)?;
        if parent.links_count == 0 {
            return Err(FsError::NotFound { dir, name: shown(name) });
        }
        if self.dir_lookup(dir, name)?.is_some() {
            return Err(FsError::Exists { dir, name: shown(name) });
        }
        Ok(())
    }

    /// One more subdirectory in `dir`'s link count.
    pub(crate) fn inc_dir_links(&mut self, i: &mut Inode, dir: u32) -> Result<()> {
        if i.links_count == 1 {
            return Ok(()); // already past the limit (dir_nlink)
        }
        if i.links_count >= LINK_MAX {
            if self.sb.features.ro_compat & ro_compat::DIR_NLINK == 0 {
                return Err(FsError::TooManyLinks { ino: dir });
            }
            i.links_count = 1;
        } else {
            i.links_count += 1;
        }
        Ok(())
    }

    /// One subdirectory fewer in `dir`'s link count (recounted if it was past the limit).
    pub(crate) fn dec_dir_links(&mut self, i: &mut Inode, dir: u32) -> Result<()> {
        if i.links_count == 1 {
            let (_, subdirs) = self.dir_counts(dir, i)?;
            if subdirs + 2 <= u32::from(LINK_MAX) {
                i.links_count = (subdirs + 2) as u16;
            }
        } else if i.links_count > 2 {
            i.links_count -= 1;
        }
        Ok(())
    }

    /// Creates a file-system node: a regular file, device, FIFO or socket (`m` has the type
    /// bits; a directory or symlink goes through `mkdir`/`symlink`).
    pub fn mknod(&mut self, dir: u32, name: &[u8], m: u16, rdev: u32, uid: u32, gid: u32) -> Result<Attr> {
        let ft = m & mode::S_IFMT;
        let m = if ft == 0 { m | mode::S_IFREG } else { m };
        if !matches!(
            m & mode::S_IFMT,
            mode::S_IFREG | mode::S_IFCHR | mode::S_IFBLK | mode::S_IFIFO | mode::S_IFSOCK
        ) {
            return Err(FsError::Invalid(format!("mknod of mode {m:o}")));
        }
        self.op(|s| {
            s.check_new_name(dir, name)?;
            let (ino, mut i) = s.new_inode(dir, m, uid, gid)?;
            if matches!(m & mode::S_IFMT, mode::S_IFCHR | mode::S_IFBLK) {
                set_rdev(&mut i, rdev);
            }
            s.write_inode(ino, &mut i)?;
            let ftype = s.ftype(m);
            s.with_dir(dir, |s, p| s.dir_add(dir, p, name, ino, ftype))?;
            s.touched(ino, true);
            Ok(Attr::from_inode(ino, &i, s.geo.bs))
        })
    }

    /// Creates a directory.
    pub fn mkdir(&mut self, dir: u32, name: &[u8], perm: u16, uid: u32, gid: u32) -> Result<Attr> {
        self.op(|s| {
            s.check_new_name(dir, name)?;
            let (ino, mut i) = s.new_inode(dir, mode::S_IFDIR | (perm & 0o7777), uid, gid)?;
            i.links_count = 2;
            s.dir_init(ino, &mut i, dir)?;
            s.write_inode(ino, &mut i)?;
            let ftype = s.ftype(mode::S_IFDIR);
            s.with_dir(dir, |s, p| {
                s.dir_add(dir, p, name, ino, ftype)?;
                s.inc_dir_links(p, dir)
            })?;
            s.touched(ino, true);
            Ok(Attr::from_inode(ino, &i, s.geo.bs))
        })
    }

    /// Creates a symbolic link to `target` (kept in the inode when under 60 bytes, else in
    /// a block).
    pub fn symlink(&mut self, dir: u32, name: &[u8], target: &[u8], uid: u32, gid: u32) -> Result<Attr> {
        let max = self.geo.bsz() - 1;
        if target.is_empty() || target.contains(&0) {
            return Err(FsError::Invalid("symlink target empty or with a NUL byte".into()));
        }
        if target.len() > max {
            return Err(FsError::NameTooLong { len: target.len(), max });
        }
        self.op(|s| {
            s.check_new_name(dir, name)?;
            let (ino, mut i) = s.new_inode(dir, mode::S_IFLNK | 0o777, uid, gid)?;
            i.size = target.len() as u64;
            if target.len() < 60 {
                i.flags &= !flags::EXTENTS;
                i.block = [0; 60];
                i.block[..target.len()].copy_from_slice(target);
            } else {
                let bs = s.geo.bsz();
                let dev = std::sync::Arc::clone(s.txn.device());
                s.with_tree(ino, &mut i, |t| {
                    let goal = t.store().goal;
                    let st = t.store();
                    let (phys, _) = st.fs.alloc.alloc_blocks(&mut st.fs.txn, goal, 1)?;
                    st.delta += 1;
                    let mut b = vec![0u8; bs];
                    b[..target.len()].copy_from_slice(target);
                    dev.write_at(phys * bs as u64, &b)?;
                    t.insert(Extent { block: 0, len: 1, unwritten: false, start: phys })
                })?;
            }
            s.write_inode(ino, &mut i)?;
            let ftype = s.ftype(mode::S_IFLNK);
            s.with_dir(dir, |s, p| s.dir_add(dir, p, name, ino, ftype))?;
            s.touched(ino, true);
            Ok(Attr::from_inode(ino, &i, s.geo.bs))
        })
    }

    /// The target of symbolic link `ino`.
    pub fn readlink(&mut self, ino: u32) -> Result<Vec<u8>> {
        let i = self.read_inode(ino)?;
        if !i.is_symlink() {
            return Err(FsError::Invalid(format!("inode {ino} is not a symbolic link")));
        }
        if crate::volume::is_fast_symlink(&i, self.geo.bs) {
            return Ok(i.block[..(i.size as usize).min(60)].to_vec());
        }
        let len = i.size.min(u64::from(self.geo.bs)) as usize;
        let mut buf = vec![0u8; len];
        let n = self.read_data(ino, 0, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Adds name `name` in `dir` for existing inode `ino`.
    pub fn link(&mut self, ino: u32, dir: u32, name: &[u8]) -> Result<Attr> {
        self.op(|s| {
            let mut i = s.read_inode(ino)?;
            if i.is_dir() {
                return Err(FsError::NotPermitted(format!("hard link to directory {ino}")));
            }
            if i.links_count == 0 {
                return Err(FsError::NoSuchInode { ino });
            }
            if i.links_count >= LINK_MAX {
                return Err(FsError::TooManyLinks { ino });
            }
            s.check_new_name(dir, name)?;
            let ftype = s.ftype(i.mode);
            s.with_dir(dir, |s, p| s.dir_add(dir, p, name, ino, ftype))?;
            i.links_count += 1;
            set_time(&mut i, s.now(), false, false, true);
            s.write_inode(ino, &mut i)?;
            s.touched(ino, true);
            Ok(Attr::from_inode(ino, &i, s.geo.bs))
        })
    }

    /// A file whose tree has index blocks is freed in steps (after it is on the orphan list).
    fn is_big(i: &Inode) -> bool {
        i.uses_extents() && u16::from_le_bytes([i.block[6], i.block[7]]) > 0
    }

    /// Drops one link of `ino` (its entry already gone): an inode left without links is
    /// freed now, or put on the orphan list if it is open or must be freed in steps.
    /// Returns true if the caller must then free it in steps ([`Inner::destroy`]).
    pub(crate) fn drop_link(&mut self, ino: u32, i: &mut Inode) -> Result<bool> {
        if i.is_dir() {
            i.links_count = 0;
        } else {
            i.links_count = i.links_count.saturating_sub(1);
        }
        set_time(i, self.now(), false, false, true);
        self.touched(ino, true);
        if i.links_count > 0 {
            self.write_inode(ino, i)?;
            return Ok(false);
        }
        let open = self.open.get(&ino).is_some_and(|&n| n > 0);
        if open || Self::is_big(i) {
            self.write_inode(ino, i)?;
            self.orphan_add(ino)?;
            return Ok(!open);
        }
        self.write_inode(ino, i)?;
        self.free_inode_now(ino)?;
        Ok(false)
    }

    /// Removes name `name` (not a directory) from `dir`.
    pub fn unlink(&mut self, dir: u32, name: &[u8]) -> Result<()> {
        let later = self.op(|s| {
            let Some(ino) = s.dir_lookup(dir, name)? else {
                return Err(FsError::NotFound { dir, name: shown(name) });
            };
            if name == b"." || name == b".." {
                return Err(FsError::IsADirectory { ino });
            }
            let mut i = s.read_inode(ino)?;
            if i.is_dir() {
                return Err(FsError::IsADirectory { ino });
            }
            s.with_dir(dir, |s, p| s.dir_remove(dir, p, name))?;
            Ok(s.drop_link(ino, &mut i)?.then_some(ino))
        })?;
        if let Some(ino) = later {
            self.destroy(ino)?;
        }
        Ok(())
    }

    /// Removes empty directory `name` from `dir`.
    pub fn rmdir(&mut self, dir: u32, name: &[u8]) -> Result<()> {
        if name == b"." {
            return Err(FsError::Invalid("rmdir of \".\"".into()));
        }
        if name == b".." {
            return Err(FsError::NotEmpty { ino: dir });
        }
        let later = self.op(|s| {
            let Some(ino) = s.dir_lookup(dir, name)? else {
                return Err(FsError::NotFound { dir, name: shown(name) });
            };
            let mut i = s.read_inode(ino)?;
            if !i.is_dir() {
                return Err(FsError::NotADirectory { ino });
            }
            if s.dir_counts(ino, &i)?.0 > 0 {
                return Err(FsError::NotEmpty { ino });
            }
            s.with_dir(dir, |s, p| {
                s.dir_remove(dir, p, name)?;
                s.dec_dir_links(p, dir)
            })?;
            Ok(s.drop_link(ino, &mut i)?.then_some(ino))
        })?;
        if let Some(ino) = later {
            self.destroy(ino)?;
        }
        Ok(())
    }

    /// Frees an unlinked inode in steps: its blocks first (bounded operations; the inode
    /// is on the orphan list meanwhile), then the inode.
    pub fn destroy(&mut self, ino: u32) -> Result<()> {
        let i = self.read_inode_any(ino)?;
        if i.uses_extents() && !i.is_dir() {
            self.remove_blocks(ino, 0, LBLK_END)?;
        }
        self.op(|s| s.free_inode_now(ino))
    }

    /// Frees inode `ino` and everything it holds, in the running operation.
    pub(crate) fn free_inode_now(&mut self, ino: u32) -> Result<()> {
        let probe = self.read_inode_any(ino)?;
        let xattr_sectors = if probe.file_acl != 0 { u64::from(self.geo.bs / 512) } else { 0 };
        if !probe.uses_extents() && probe.blocks.saturating_sub(xattr_sectors) > 0 {
            // Its blocks hang off a block map this implementation does not change.
            return Err(FsError::NotSupported(format!(
                "inode {ino}: freeing a block-mapped (non-extent) file"
            )));
        }
        self.orphan_del(ino)?;
        let mut i = self.read_inode_any(ino)?;
        let is_dir = i.is_dir();
        if is_dir {
            self.dir_release(ino, &mut i)?;
        } else if i.uses_extents() {
            self.with_tree(ino, &mut i, |t| t.remove(0, LBLK_END, true))?;
        }
        self.xattr_release(ino, &mut i)?;
        i.mode = 0;
        i.links_count = 0;
        i.size = 0;
        i.blocks = 0;
        i.block = [0; 60];
        i.flags = 0;
        i.file_acl = 0;
        i.dtime = self.now().secs as u32;
        self.write_inode(ino, &mut i)?;
        self.alloc.free_inode(&mut self.txn, ino, is_dir)?;
        self.dirs.remove(ino);
        self.open.remove(&ino);
        self.truncating.remove(&ino);
        self.touched(ino, true);
        Ok(())
    }

    /// An open count for `ino` (an unlinked inode lives until the last release).
    pub fn open_inode(&mut self, ino: u32) -> Result<()> {
        self.read_inode(ino)?;
        *self.open.entry(ino).or_insert(0) += 1;
        Ok(())
    }

    /// Drops an open count; the last one frees an inode that has no links left.
    pub fn release(&mut self, ino: u32) -> Result<()> {
        let Some(n) = self.open.get_mut(&ino) else { return Ok(()) };
        *n -= 1;
        if *n > 0 {
            return Ok(());
        }
        self.open.remove(&ino);
        let i = self.read_inode_any(ino)?;
        if i.links_count == 0 && i.mode != 0 && self.read_only.is_none() {
            self.destroy(ino)?;
        }
        Ok(())
    }
}
