//! The in-memory index of one directory, built from its blocks on first use: every name
//! with its inode and block, and each block's largest free room, so that a lookup, an
//! insert and a removal cost a hash probe and one block, whatever the directory's size.

use std::collections::{BTreeSet, HashMap};

/// Where a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Logical block of the directory holding the entry.
    pub lblk: u32,
    /// The entry's inode.
    pub ino: u32,
    /// Its `file_type`.
    pub file_type: u8,
}

/// The index of one directory.
#[derive(Debug, Default)]
pub(crate) struct DirIndex {
    names: HashMap<Box<[u8]>, Slot>,
    /// Largest room per logical block (0 for index blocks of an htree not yet converted).
    room: Vec<u16>,
    /// (room, block) of every block with room, to find one that fits in log time.
    by_room: BTreeSet<(u16, u32)>,
    /// The ".." entry's inode.
    pub parent: u32,
    /// Entries that are directories ("." and ".." not counted).
    pub subdirs: u32,
    /// The dx (index) blocks of a directory still indexed, until it is made linear.
    pub htree_blocks: Option<Vec<u32>>,
}

/// `file_type` of a directory.
pub(crate) const FT_DIR: u8 = 2;

impl DirIndex {
    /// An empty index (blocks and names are added while the directory is read).
    pub fn new(parent: u32) -> DirIndex {
        DirIndex { parent, ..DirIndex::default() }
    }

    /// Entries indexed ("." and ".." not counted).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// The slot of `name`.
    pub fn get(&self, name: &[u8]) -> Option<Slot> {
        self.names.get(name).copied()
    }

    /// Records a name.
    pub fn add(&mut self, name: &[u8], slot: Slot) {
        if slot.file_type == FT_DIR {
            self.subdirs += 1;
        }
        if let Some(old) = self.names.insert(name.into(), slot)
            && old.file_type == FT_DIR
        {
            self.subdirs -= 1;
        }
    }

    /// Forgets a name.
    pub fn remove(&mut self, name: &[u8]) -> Option<Slot> {
        let s = self.names.remove(name)?;
        if s.file_type == FT_DIR {
            self.subdirs -= 1;
        }
        Some(s)
    }

    /// Sets the room of block `lblk` (extending the list for a new block).
    pub fn set_room(&mut self, lblk: u32, room: usize) {
        let room = room.min(usize::from(u16::MAX)) as u16;
        let i = lblk as usize;
        if i >= self.room.len() {
            self.room.resize(i + 1, 0);
        }
        let old = self.room[i];
        self.by_room.remove(&(old, lblk));
        self.room[i] = room;
        if room > 0 {
            self.by_room.insert((room, lblk));
        }
    }

    /// A block with at least `need` bytes of room (the tightest one that fits).
    pub fn block_with_room(&self, need: usize) -> Option<u32> {
        let need = u16::try_from(need).ok()?;
        self.by_room.range((need, 0)..).next().map(|&(_, b)| b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_tightest_block_that_fits_and_counts_subdirectories() {
        let mut d = DirIndex::new(2);
        d.set_room(0, 20);
        d.set_room(1, 300);
        d.set_room(2, 40);
        assert_eq!(d.block_with_room(16), Some(0));
        assert_eq!(d.block_with_room(24), Some(2));
        assert_eq!(d.block_with_room(260), Some(1));
        assert_eq!(d.block_with_room(400), None);
        d.set_room(1, 0);
        assert_eq!(d.block_with_room(260), None);
        d.add(b"sub", Slot { lblk: 0, ino: 12, file_type: FT_DIR });
        d.add(b"file", Slot { lblk: 0, ino: 13, file_type: 1 });
        assert_eq!((d.len(), d.subdirs), (2, 1));
        d.remove(b"sub");
        assert_eq!(d.subdirs, 0);
    }
}
