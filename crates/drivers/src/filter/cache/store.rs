//! The cache's block store: cached blocks, which are dirty, and which clean ones to
//! evict first. Pure data structure, no I/O; the cache holds it under one mutex.
//!
//! Block buffers are recycled: an evicted or discarded block's buffer is kept for the
//! next block (as long as cached plus kept bytes stay within the cache size) instead of
//! going back to the allocator. The cache's memory is then allocated once, up to its
//! size, and not churned through the allocator's per-thread arenas (where freed blocks
//! fragment and stay resident).

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
#[derive(Debug)]
pub(super) struct Store {
    blocks: HashMap<u64, Block>,
    dirty: BTreeSet<u64>,
    clean_lru: BTreeMap<u64, u64>,
    clock: u64,
    pub(super) bytes: u64,
    pub(super) dirty_bytes: u64,
    /// Buffers of `block_size` bytes no block uses, for the next inserted block.
    spare: Vec<Box<[u8]>>,
    block_size: usize,
    /// Cached plus spare bytes stay within this (the cache size) where they can.
    capacity: u64,
    /// Blocks under a read below still in flight, with how many such reads: they are
    /// not evicted until those reads have overlaid them.
    reading: HashMap<u64, u32>,
    /// Bumped whenever a range is written below around the cache (write-through,
    /// write-around, discard, write-zeroes): data read from below before that may be
    /// stale, and must not be inserted as a clean block.
    epoch: u64,
}

impl Store {
    /// An empty store of `block_size`-byte blocks, keeping spare buffers while cached
    /// plus spare bytes stay within `capacity`.
    pub(super) fn new(block_size: usize, capacity: u64) -> Store {
        Store {
            blocks: HashMap::new(),
            dirty: BTreeSet::new(),
            clean_lru: BTreeMap::new(),
            clock: 0,
            bytes: 0,
            dirty_bytes: 0,
            spare: Vec::new(),
            block_size,
            capacity,
            epoch: 0,
            reading: HashMap::new(),
        }
    }

    /// A read of `blocks` goes below: none of them leaves the cache until
    /// [`end_read`](Self::end_read) (the read's overlay needs the blocks that were dirty
    /// when it started, even if they are written back and clean by then).
    pub(super) fn begin_read(&mut self, blocks: std::ops::RangeInclusive<u64>) {
        for block in blocks {
            *self.reading.entry(block).or_insert(0) += 1;
        }
    }

    /// The read of `blocks` came back.
    pub(super) fn end_read(&mut self, blocks: std::ops::RangeInclusive<u64>) {
        for block in blocks {
            if let std::collections::hash_map::Entry::Occupied(mut e) = self.reading.entry(block) {
                *e.get_mut() -= 1;
                if *e.get() == 0 {
                    e.remove();
                }
            }
        }
    }

    /// The invalidation epoch: compare before inserting data read from below.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A range is being written below around the cache: data read from below before
    /// now must not be cached.
    pub(super) fn invalidate(&mut self) {
        self.epoch += 1;
    }

    /// A buffer holding a copy of `data`: a spare one when `data` is a whole block.
    fn buffer(&mut self, data: &[u8]) -> Box<[u8]> {
        if data.len() == self.block_size
            && let Some(mut buffer) = self.spare.pop()
        {
            buffer.copy_from_slice(data);
            return buffer;
        }
        data.into()
    }

    /// Takes back the buffer of a block that left the store (`bytes` already lowered).
    fn recycle(&mut self, buffer: Box<[u8]>) {
        let spare_bytes = (self.spare.len() as u64 + 1) * self.block_size as u64;
        if buffer.len() == self.block_size && self.bytes + spare_bytes <= self.capacity {
            self.spare.push(buffer);
        }
    }

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

    /// Inserts a block holding a copy of `data` (replacing nothing: returns false if it
    /// is already cached).
    pub(super) fn insert(&mut self, block: u64, data: &[u8], dirty: bool) -> bool {
        if self.blocks.contains_key(&block) {
            return false;
        }
        let data = self.buffer(data);
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
    /// clean block is left. Dirty blocks are never evicted, nor blocks under a read in
    /// flight.
    pub(super) fn evict_to(&mut self, limit: u64) {
        let mut kept = Vec::new();
        while self.bytes > limit {
            let Some((tick, block)) = self.clean_lru.pop_first() else { break };
            if self.reading.contains_key(&block) {
                kept.push((tick, block));
                continue;
            }
            if let Some(b) = self.blocks.remove(&block) {
                debug_assert!(!b.dirty, "a dirty block was on the clean list");
                self.bytes -= b.data.len() as u64;
                self.recycle(b.data);
            }
        }
        self.clean_lru.extend(kept);
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
            self.recycle(b.data);
        }
    }

    /// Drops a clean block (a write-through write replaced it below).
    pub(super) fn remove_clean(&mut self, block: u64) {
        if let Some(b) = self.blocks.get(&block)
            && !b.dirty
        {
            self.clean_lru.remove(&b.tick);
            self.bytes -= b.data.len() as u64;
            if let Some(b) = self.blocks.remove(&block) {
                self.recycle(b.data);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(v: u8) -> [u8; 8] {
        [v; 8]
    }

    #[test]
    fn dirty_blocks_are_never_evicted_and_clean_ones_go_lru_first() {
        let mut s = Store::new(8, 1 << 20);
        s.insert(1, &block(1), false);
        s.insert(2, &block(2), true);
        s.insert(3, &block(3), false);
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
        let mut s = Store::new(8, 1 << 20);
        s.insert(7, &block(0), true);
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

    #[test]
    fn buffers_of_evicted_blocks_are_reused_within_the_capacity() {
        let mut s = Store::new(8, 24);
        for b in 0..3 {
            s.insert(b, &block(b as u8), false);
        }
        s.evict_to(0);
        assert_eq!((s.bytes, s.spare.len()), (0, 3), "3 blocks of 8 fit in 24 bytes");
        s.insert(9, &block(9), true);
        assert_eq!(s.spare.len(), 2);
        assert_eq!(&s.get(9).unwrap().data[..], &block(9), "a reused buffer holds the new data");
        // Cached plus spare bytes stay within the capacity.
        s.insert(10, &block(10), false);
        s.insert(11, &block(11), false);
        s.insert(12, &block(12), false);
        s.evict_to(0);
        assert!(s.bytes + s.spare.len() as u64 * 8 <= 24);
        // A short last block is not kept (it fits only its own place).
        s.insert(20, &[1, 2, 3], false);
        s.discard(20);
        assert!(s.spare.iter().all(|b| b.len() == 8));
    }

    #[test]
    fn blocks_under_a_read_in_flight_are_not_evicted() {
        let mut s = Store::new(8, 1 << 20);
        s.insert(1, &block(1), false);
        s.insert(2, &block(2), false);
        s.begin_read(1..=1);
        s.begin_read(1..=3);
        s.evict_to(0);
        assert!(s.get(1).is_some() && s.get(2).is_some());
        s.end_read(1..=1);
        s.evict_to(0);
        assert!(s.get(1).is_some(), "one read still covers block 1");
        s.end_read(1..=3);
        s.evict_to(0);
        assert!(s.get(1).is_none() && s.get(2).is_none());
        assert!(s.reading.is_empty());
    }
}
