//! The cache's block store: cached blocks, which are dirty, and which clean ones to
//! evict first. Pure data structure, no I/O; the cache holds it under one mutex.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One cached block.
#[derive(Debug)]
pub(super) struct Block {
    pub(super) data: Box<[u8]>,
    /// Bumped by every write; a write-back marks the block clean only if the
    /// generation it wrote is still the current one.
    pub(super) generation: u64,
    pub(super) dirty: bool,
    /// Its key in `clean_lru` while clean.
    tick: u64,
}

/// Blocks by number, with the dirty set and an LRU queue of clean blocks.
#[derive(Debug, Default)]
pub(super) struct Store {
    blocks: HashMap<u64, Block>,
    dirty: BTreeSet<u64>,
    clean_lru: BTreeMap<u64, u64>,
    clock: u64,
    pub(super) bytes: u64,
    pub(super) dirty_bytes: u64,
}

impl Store {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub(super) fn get(&self, block: u64) -> Option<&Block> {
        self.blocks.get(&block)
    }

    /// Marks a clean block recently used.
    pub(super) fn touch(&mut self, block: u64) {
        let tick = self.tick();
        if let Some(b) = self.blocks.get_mut(&block)
            && !b.dirty
        {
            self.clean_lru.remove(&b.tick);
            b.tick = tick;
            self.clean_lru.insert(tick, block);
        }
    }

    /// Writes `data` at `within` into a cached block and makes it dirty. Returns
    /// false when the block is not cached.
    pub(super) fn write(&mut self, block: u64, within: usize, data: &[u8]) -> bool {
        let Some(b) = self.blocks.get_mut(&block) else { return false };
        b.data[within..within + data.len()].copy_from_slice(data);
        b.generation += 1;
        if !b.dirty {
            b.dirty = true;
            self.clean_lru.remove(&b.tick);
            self.dirty.insert(block);
            self.dirty_bytes += b.data.len() as u64;
        }
        true
    }

    /// Inserts a block (replacing nothing: returns false if it is already cached).
    pub(super) fn insert(&mut self, block: u64, data: Box<[u8]>, dirty: bool) -> bool {
        if self.blocks.contains_key(&block) {
            return false;
        }
        let tick = self.tick();
        let len = data.len() as u64;
        self.bytes += len;
        if dirty {
            self.dirty.insert(block);
            self.dirty_bytes += len;
        } else {
            self.clean_lru.insert(tick, block);
        }
        self.blocks.insert(block, Block { data, generation: 1, dirty, tick });
        true
    }

    /// Marks `block` clean if it still has `generation` (its write-back succeeded and
    /// nobody wrote it since).
    pub(super) fn mark_clean(&mut self, block: u64, generation: u64) {
        let tick = self.tick();
        if let Some(b) = self.blocks.get_mut(&block)
            && b.dirty
            && b.generation == generation
        {
            b.dirty = false;
            b.tick = tick;
            self.dirty.remove(&block);
            self.dirty_bytes -= b.data.len() as u64;
            self.clean_lru.insert(tick, block);
        }
    }

    /// The dirty blocks, lowest number first, at most `limit`.
    pub(super) fn dirty_blocks(&self, limit: usize) -> Vec<u64> {
        self.dirty.iter().take(limit).copied().collect()
    }

    /// How many blocks are dirty.
    pub(super) fn dirty_count(&self) -> usize {
        self.dirty.len()
    }

    /// Evicts clean blocks, least recently used first, until `bytes <= limit` or no
    /// clean block is left. Dirty blocks are never evicted.
    pub(super) fn evict_to(&mut self, limit: u64) {
        while self.bytes > limit {
            let Some((_, block)) = self.clean_lru.pop_first() else { return };
            if let Some(b) = self.blocks.remove(&block) {
                debug_assert!(!b.dirty, "a dirty block was on the clean list");
                self.bytes -= b.data.len() as u64;
            }
        }
    }

    /// Drops a block, dirty or not: a discard or write-zeroes superseded its data.
    pub(super) fn discard(&mut self, block: u64) {
        if let Some(b) = self.blocks.remove(&block) {
            let len = b.data.len() as u64;
            self.bytes -= len;
            if b.dirty {
                self.dirty.remove(&block);
                self.dirty_bytes -= len;
            } else {
                self.clean_lru.remove(&b.tick);
            }
        }
    }

    /// Drops a clean block (a write-through write replaced it below).
    pub(super) fn remove_clean(&mut self, block: u64) {
        if let Some(b) = self.blocks.get(&block)
            && !b.dirty
        {
            self.clean_lru.remove(&b.tick);
            self.bytes -= b.data.len() as u64;
            self.blocks.remove(&block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(v: u8) -> Box<[u8]> {
        vec![v; 8].into_boxed_slice()
    }

    #[test]
    fn dirty_blocks_are_never_evicted_and_clean_ones_go_lru_first() {
        let mut s = Store::default();
        s.insert(1, block(1), false);
        s.insert(2, block(2), true);
        s.insert(3, block(3), false);
        s.touch(1);
        s.evict_to(16);
        assert!(s.get(3).is_none(), "3 was least recently used");
        assert!(s.get(1).is_some() && s.get(2).is_some());
        s.evict_to(0);
        assert!(s.get(1).is_none());
        assert!(s.get(2).is_some(), "dirty blocks stay");
        assert_eq!((s.bytes, s.dirty_bytes), (8, 8));
    }

    #[test]
    fn a_block_written_during_its_write_back_stays_dirty() {
        let mut s = Store::default();
        s.insert(7, block(0), true);
        let g = s.get(7).unwrap().generation;
        assert!(s.write(7, 0, &[9]));
        s.mark_clean(7, g);
        assert!(s.get(7).unwrap().dirty);
        let g = s.get(7).unwrap().generation;
        s.mark_clean(7, g);
        assert!(!s.get(7).unwrap().dirty);
        assert_eq!(s.dirty_bytes, 0);
        assert_eq!(s.dirty_blocks(10), Vec::<u64>::new());
    }
}
