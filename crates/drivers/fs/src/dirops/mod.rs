//! Directories: linear blocks of entries (with the metadata_csum tail), an in-memory index
//! per directory for constant-time lookups and inserts, and indexed (htree) directories made
//! linear on their first change (their dx blocks rewritten as empty linear blocks and the
//! INDEX flag cleared), which e2fsck accepts as it stands.
//!
//! - [`block`]: editing one block's records;
//! - [`index`]: the in-memory index of one directory;
//! - [`cache`]: the indexes kept;
//! - [`htree`]: reading dx blocks and making an indexed directory linear;
//! - [`readdir`]: listing with resumable cookies.

pub(crate) mod block;
mod cache;
mod htree;
pub(crate) mod index;
mod readdir;

use std::sync::Arc;

pub(crate) use cache::DirCache;
use index::{DirIndex, Slot};

use crate::error::{FsError, Result, shown};
use crate::extent_tree::LBLK_END;
use crate::filesystem::inner::Inner;
use crate::filesystem::inode_io::set_time;
use crate::ondisk::dirent::{TAIL_SIZE, rec_len_for, set_dirblock_csum, verify_dirblock};
use crate::ondisk::extent::Extent;
use crate::ondisk::inode::{Inode, flags};

/// Largest directory without large_dir (2 GiB).
const MAX_DIR_BYTES: u64 = 1 << 31;

impl Inner {
    /// Where records end in a directory block.
    pub(crate) fn dir_end(&self) -> usize {
        if self.geo.metadata_csum { self.geo.bsz() - TAIL_SIZE } else { self.geo.bsz() }
    }

    /// The `file_type` byte for an inode mode (0 without the filetype feature).
    pub(crate) fn ftype(&self, mode: u16) -> u8 {
        if self.geo.filetype { crate::ondisk::dirent::FileType::from_mode(mode).raw() } else { 0 }
    }

    /// Reads inode `dir`, which must be a directory.
    pub(crate) fn read_dir_inode(&mut self, dir: u32) -> Result<Inode> {
        let i = self.read_inode(dir)?;
        if !i.is_dir() {
            return Err(FsError::NotADirectory { ino: dir });
        }
        if i.flags & flags::INLINE_DATA != 0 {
            return Err(FsError::NotSupported(format!("inode {dir}: inline data")));
        }
        Ok(i)
    }

    /// Number of blocks of a directory (its size must be whole blocks).
    pub(crate) fn dir_blocks(&self, dir: u32, inode: &Inode) -> Result<u32> {
        let bs = u64::from(self.geo.bs);
        if !inode.size.is_multiple_of(bs) || inode.size > MAX_DIR_BYTES {
            return Err(FsError::corrupt(
                format!("inode {dir}"),
                "directory",
                format!("size {}", inode.size),
            ));
        }
        Ok((inode.size / bs) as u32)
    }

    /// Physical block of logical block `lblk` of a directory.
    pub(crate) fn dir_phys(&mut self, dir: u32, inode: &Inode, lblk: u32) -> Result<u64> {
        match self.map(dir, inode, lblk)? {
            (Some((p, false)), _) if p > self.geo.first_data_block && p < self.geo.blocks_count => Ok(p),
            _ => Err(FsError::corrupt(
                format!("inode {dir}"),
                "directory",
                format!("block {lblk} is not mapped"),
            )),
        }
    }

    /// A linear block of a directory, checksum verified.
    pub(crate) fn dir_leaf(&mut self, dir: u32, inode: &Inode, lblk: u32) -> Result<(u64, Arc<Vec<u8>>)> {
        let p = self.dir_phys(dir, inode, lblk)?;
        let b = self.txn.read(p)?;
        if self.geo.metadata_csum && self.opts.verify_checksums {
            verify_dirblock(&b, self.inode_seed(dir, inode))
                .map_err(|e| e.at(format!("directory block {lblk}")).at(format!("inode {dir}")))?;
        }
        Ok((p, b))
    }

    /// Builds the index of `dir` unless it is in the cache.
    pub(crate) fn dir_index(&mut self, dir: u32, inode: &Inode) -> Result<()> {
        if self.dirs.get(dir).is_some() {
            return Ok(());
        }
        let n = self.dir_blocks(dir, inode)?;
        let end = self.dir_end();
        let mut idx = DirIndex::new(0);
        let mut skip = Vec::new();
        if inode.flags & flags::INDEX != 0 {
            let (dotdot, blocks) = self.dx_blocks(dir, inode)?;
            idx.parent = dotdot;
            skip = blocks;
            idx.htree_blocks = Some(skip.clone());
        }
        for lblk in 0..n {
            if skip.contains(&lblk) {
                idx.set_room(lblk, 0);
                continue;
            }
            let (_, b) = self.dir_leaf(dir, inode, lblk)?;
            let recs = block::records(&b, end).map_err(|e| match e {
                FsError::Corrupt(f) => {
                    FsError::Corrupt(f.at(format!("directory block {lblk}")).at(format!("inode {dir}")))
                }
                o => o,
            })?;
            let mut room = 0;
            for r in recs {
                room = room.max(r.room());
                if r.inode == 0 {
                    continue;
                }
                let name = r.name(&b);
                if lblk == 0 && (name == b"." || name == b"..") {
                    if name == b".." {
                        idx.parent = r.inode;
                    }
                    continue;
                }
                idx.add(name, Slot { lblk, ino: r.inode, file_type: r.file_type });
            }
            idx.set_room(lblk, room);
        }
        self.dirs.insert(dir, idx);
        Ok(())
    }

    /// Looks `name` up in directory `dir` ("." and ".." included).
    pub(crate) fn dir_lookup(&mut self, dir: u32, name: &[u8]) -> Result<Option<u32>> {
        let inode = self.read_dir_inode(dir)?;
        self.dir_index(dir, &inode)?;
        let idx = self
            .dirs
            .get(dir)
            .ok_or_else(|| FsError::corrupt(format!("inode {dir}"), "directory", "no index"))?;
        Ok(match name {
            b"." => Some(dir),
            b".." => Some(idx.parent),
            _ => idx.get(name).map(|s| s.ino),
        })
    }

    /// The index of `dir` for a change: built, and the directory made linear if it was
    /// indexed.
    fn dir_for_change(&mut self, dir: u32, inode: &mut Inode) -> Result<()> {
        self.dir_index(dir, inode)?;
        if inode.flags & flags::INDEX != 0 {
            self.dir_unindex(dir, inode)?;
        }
        Ok(())
    }

    fn index_mut(&mut self, dir: u32) -> Result<&mut DirIndex> {
        self.dirs
            .get_mut(dir)
            .ok_or_else(|| FsError::corrupt(format!("inode {dir}"), "directory", "no index"))
    }

    /// Adds entry `name` -> `ino` to directory `dir` (whose inode the caller writes after:
    /// its size may grow). The name must be valid and not yet present.
    pub(crate) fn dir_add(
        &mut self,
        dir: u32,
        inode: &mut Inode,
        name: &[u8],
        ino: u32,
        ftype: u8,
    ) -> Result<()> {
        self.dir_for_change(dir, inode)?;
        let need = rec_len_for(name.len());
        let end = self.dir_end();
        let seed = self.inode_seed(dir, inode);
        let csum = self.geo.metadata_csum;
        let found = self.index_mut(dir)?.block_with_room(need);
        let lblk = match found {
            Some(l) => l,
            None => self.dir_grow(dir, inode)?,
        };
        let phys = self.dir_phys(dir, inode, lblk)?;
        let room = self.txn.modify(phys, |b| -> Result<usize> {
            if block::insert(b, end, name, ino, ftype)?.is_none() {
                return Err(FsError::corrupt(
                    format!("inode {dir}"),
                    "directory index",
                    "block has no room after all",
                ));
            }
            if csum {
                set_dirblock_csum(b, seed);
            }
            block::largest_room(b, end)
        })??;
        let idx = self.index_mut(dir)?;
        idx.set_room(lblk, room);
        idx.add(name, Slot { lblk, ino, file_type: ftype });
        set_time(inode, self.now(), false, true, true);
        Ok(())
    }

    /// Appends an empty block to directory `dir`; returns its logical number.
    fn dir_grow(&mut self, dir: u32, inode: &mut Inode) -> Result<u32> {
        let bs = u64::from(self.geo.bs);
        if inode.size + bs > MAX_DIR_BYTES {
            return Err(FsError::NoSpace { what: "directory size (2 GiB without large_dir)" });
        }
        let lblk = (inode.size / bs) as u32;
        let csum = self.geo.metadata_csum;
        let seed = self.inode_seed(dir, inode);
        let bsz = self.geo.bsz();
        self.with_tree(dir, inode, |t| {
            let goal = match t.last_before(u64::from(lblk) + 1)? {
                Some(e) => e.start + u64::from(e.len),
                None => t.store().goal,
            };
            let s = t.store();
            let (phys, _) = s.fs.alloc.alloc_blocks(&mut s.fs.txn, goal, 1)?;
            s.delta += 1;
            let mut b = block::empty_block(bsz, csum);
            if csum {
                set_dirblock_csum(&mut b, seed);
            }
            s.fs.txn.write_new(phys, b)?;
            t.insert(Extent { block: lblk, len: 1, unwritten: false, start: phys })
        })?;
        inode.size += bs;
        let room = self.dir_end();
        self.index_mut(dir)?.set_room(lblk, room);
        Ok(lblk)
    }

    /// Removes entry `name` from directory `dir`; returns what it pointed at. The caller
    /// writes the directory inode.
    pub(crate) fn dir_remove(&mut self, dir: u32, inode: &mut Inode, name: &[u8]) -> Result<Slot> {
        self.dir_for_change(dir, inode)?;
        let Some(slot) = self.index_mut(dir)?.get(name) else {
            return Err(FsError::NotFound { dir, name: shown(name) });
        };
        let end = self.dir_end();
        let seed = self.inode_seed(dir, inode);
        let csum = self.geo.metadata_csum;
        let phys = self.dir_phys(dir, inode, slot.lblk)?;
        let room = self.txn.modify(phys, |b| -> Result<usize> {
            let Some(r) = block::find(b, end, name)? else {
                return Err(FsError::corrupt(
                    format!("inode {dir}"),
                    "directory index",
                    "entry not in its block",
                ));
            };
            block::remove(b, end, r.off)?;
            if csum {
                set_dirblock_csum(b, seed);
            }
            block::largest_room(b, end)
        })??;
        let idx = self.index_mut(dir)?;
        idx.set_room(slot.lblk, room);
        idx.remove(name);
        set_time(inode, self.now(), false, true, true);
        Ok(slot)
    }

    /// Points existing entry `name` of `dir` at `ino` (rename over a name).
    pub(crate) fn dir_retarget(
        &mut self,
        dir: u32,
        inode: &mut Inode,
        name: &[u8],
        ino: u32,
        ftype: u8,
    ) -> Result<Slot> {
        self.dir_for_change(dir, inode)?;
        let Some(old) = self.index_mut(dir)?.get(name) else {
            return Err(FsError::NotFound { dir, name: shown(name) });
        };
        let end = self.dir_end();
        let seed = self.inode_seed(dir, inode);
        let csum = self.geo.metadata_csum;
        let phys = self.dir_phys(dir, inode, old.lblk)?;
        self.txn.modify(phys, |b| -> Result<()> {
            let Some(r) = block::find(b, end, name)? else {
                return Err(FsError::corrupt(
                    format!("inode {dir}"),
                    "directory index",
                    "entry not in its block",
                ));
            };
            block::set_inode(b, r.off, ino, ftype);
            if csum {
                set_dirblock_csum(b, seed);
            }
            Ok(())
        })??;
        self.index_mut(dir)?.add(name, Slot { lblk: old.lblk, ino, file_type: ftype });
        set_time(inode, self.now(), false, true, true);
        Ok(old)
    }

    /// Points the ".." of directory `dir` at `parent` (a directory moved to another parent).
    pub(crate) fn dir_set_parent(&mut self, dir: u32, inode: &mut Inode, parent: u32) -> Result<()> {
        self.dir_for_change(dir, inode)?;
        let end = self.dir_end();
        let seed = self.inode_seed(dir, inode);
        let csum = self.geo.metadata_csum;
        let ftype = self.ftype(crate::ondisk::inode::mode::S_IFDIR);
        let phys = self.dir_phys(dir, inode, 0)?;
        self.txn.modify(phys, |b| -> Result<()> {
            let recs = block::records(b, end)?;
            let Some(r) = recs.iter().find(|r| r.inode != 0 && r.name(b) == b"..").copied() else {
                return Err(FsError::corrupt(format!("inode {dir}"), "directory", "no \"..\" in block 0"));
            };
            block::set_inode(b, r.off, parent, ftype);
            if csum {
                set_dirblock_csum(b, seed);
            }
            Ok(())
        })??;
        self.index_mut(dir)?.parent = parent;
        Ok(())
    }

    /// Entries of `dir` besides "." and "..", and how many are directories.
    pub(crate) fn dir_counts(&mut self, dir: u32, inode: &Inode) -> Result<(usize, u32)> {
        self.dir_index(dir, inode)?;
        let idx = self
            .dirs
            .get(dir)
            .ok_or_else(|| FsError::corrupt(format!("inode {dir}"), "directory", "no index"))?;
        Ok((idx.len(), idx.subdirs))
    }

    /// Gives a new directory `ino` its first block ("." and ".." -> `parent`).
    pub(crate) fn dir_init(&mut self, ino: u32, inode: &mut Inode, parent: u32) -> Result<()> {
        let csum = self.geo.metadata_csum;
        let seed = self.inode_seed(ino, inode);
        let bsz = self.geo.bsz();
        let dt = self.ftype(crate::ondisk::inode::mode::S_IFDIR);
        self.with_tree(ino, inode, |t| {
            let goal = t.store().goal;
            let s = t.store();
            let (phys, _) = s.fs.alloc.alloc_blocks(&mut s.fs.txn, goal, 1)?;
            s.delta += 1;
            let mut b = block::first_block(bsz, csum, ino, parent, dt);
            if csum {
                set_dirblock_csum(&mut b, seed);
            }
            s.fs.txn.write_new(phys, b)?;
            t.insert(Extent { block: 0, len: 1, unwritten: false, start: phys })
        })?;
        inode.size = u64::from(self.geo.bs);
        let mut idx = DirIndex::new(parent);
        idx.set_room(0, self.dir_end() - 24);
        self.dirs.insert(ino, idx);
        Ok(())
    }

    /// Frees every block of a directory (it is being deleted).
    pub(crate) fn dir_release(&mut self, dir: u32, inode: &mut Inode) -> Result<()> {
        self.dirs.remove(dir);
        self.with_tree(dir, inode, |t| t.remove(0, LBLK_END, true))
    }
}

/// Checks a name for a new entry.
pub(crate) fn check_name(name: &[u8]) -> Result<()> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
        return Err(FsError::Invalid(format!("name {:?}", shown(name))));
    }
    if name.len() > 255 {
        return Err(FsError::NameTooLong { len: name.len(), max: 255 });
    }
    Ok(())
}
