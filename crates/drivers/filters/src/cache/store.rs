//! The cache's block store: cached blocks, which are dirty, and which clean ones to
//! evict first. Pure data structure, no I/O; the cache holds it under one mutex.
//!
//! Block data lives in a [`Slab`] of the cache's size; a block that finds no free slot
//! (the cache briefly over its size: dirty blocks and blocks under a read in flight are
//! never evicted) gets a heap buffer of its own until it leaves.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::slab::Slab;

/// Where a block's bytes are.
#[derive(Debug)]
enum Data {
    /// In the slab: slot and length.
    Slot(u32, u32),
    /// On the heap (no slot was free).
    Heap(Box<[u8]>),
}

impl Data {
    fn len(&self) -> usize {
        match self {
            Data::Slot(_, len) => *len as usize,
            Data::Heap(bytes) => bytes.len(),
        }
    }
}

/// One cached block.
#[derive(Debug)]
pub(super) struct Block {
    data: Data,
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
    slab: Slab,
    /// Blocks under a read below still in flight, with how many such reads: they are
    /// not evicted until those reads have overlaid them.
    reading: HashMap<u64, u32>,
    /// Bumped whenever a range is written below around the cache (write-through,
    /// write-around, discard, write-zeroes): data read from below before that may be
    /// stale, and must not be inserted as a clean block.
    epoch: u64,
    /// The block ranges that writes around the cache (write-around, discard,
    /// write-zeroes) are changing below right now, one entry per write (few: at most the
    /// requests in flight): what is below them may be older than those writes, so no
    /// partial write fills them from below meanwhile.
    below: Vec<std::ops::RangeInclusive<u64>>,
}

impl Store {
    /// An empty store of `block_size`-byte blocks with slab room for `capacity` bytes.
    pub(super) fn new(block_size: usize, capacity: u64) -> Store {
        Store {
            blocks: HashMap::new(),
            dirty: BTreeSet::new(),
            clean_lru: BTreeMap::new(),
            clock: 0,
            bytes: 0,
            dirty_bytes: 0,
            slab: Slab::new(block_size, capacity),
            epoch: 0,
            reading: HashMap::new(),
            below: Vec::new(),
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

    /// A write around the cache starts changing `blocks` below.
    pub(super) fn begin_write_below(&mut self, blocks: std::ops::RangeInclusive<u64>) {
        self.below.push(blocks);
    }

    /// The write around the cache of `blocks` completed.
    pub(super) fn end_write_below(&mut self, blocks: std::ops::RangeInclusive<u64>) {
        if let Some(at) = self.below.iter().position(|r| *r == blocks) {
            self.below.swap_remove(at);
        }
    }

    /// Whether a write around the cache is changing `block` below right now.
    pub(super) fn written_below(&self, block: u64) -> bool {
        self.below.iter().any(|r| r.contains(&block))
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

    /// A place holding a copy of `data` (at most one block): a slab slot, evicting the
    /// least recently used clean block for it when none is free (the cache is full).
    fn place(&mut self, data: &[u8]) -> Data {
        let mut slot = self.slab.take();
        if slot.is_none() && self.bytes > 0 {
            self.evict_to(self.bytes - 1);
            slot = self.slab.take();
        }
        match slot {
            Some(slot) => {
                self.slab.bytes_mut(slot, data.len()).copy_from_slice(data);
                Data::Slot(slot, data.len() as u32)
            }
            None => Data::Heap(data.into()),
        }
    }

    /// Frees the place of a block that left the store.
    fn release(&mut self, data: Data) {
        if let Data::Slot(slot, _) = data {
            self.slab.give(slot);
        }
    }

    /// The bytes of a cached block.
    pub(super) fn data(&self, block: u64) -> Option<&[u8]> {
        Some(match &self.blocks.get(&block)?.data {
            Data::Slot(slot, len) => self.slab.bytes(*slot, *len as usize),
            Data::Heap(bytes) => bytes,
        })
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
        let bytes = match &mut b.data {
            Data::Slot(slot, len) => self.slab.bytes_mut(*slot, *len as usize),
            Data::Heap(bytes) => bytes,
        };
        bytes[within..within + data.len()].copy_from_slice(data);
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
        let data = self.place(data);
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

    /// The dirty blocks among `blocks`, lowest first.
    pub(super) fn dirty_in(&self, blocks: std::ops::RangeInclusive<u64>) -> impl Iterator<Item = u64> + '_ {
        self.dirty.range(blocks).copied()
    }

    /// The block ranges writes around the cache are changing below right now.
    pub(super) fn written_below_now(&self) -> &[std::ops::RangeInclusive<u64>] {
        &self.below
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
                self.release(b.data);
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
            self.release(b.data);
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
                self.release(b.data);
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
    fn blocks_live_in_the_slab_and_beyond_it_on_the_heap_until_they_leave() {
        let mut s = Store::new(8, 16);
        s.insert(1, &block(1), true);
        s.insert(2, &block(2), true);
        s.insert(3, &block(3), true);
        assert!(matches!(s.get(3).unwrap().data, Data::Heap(_)), "two slots only");
        assert_eq!((s.data(1), s.data(3)), (Some(&block(1)[..]), Some(&block(3)[..])));
        assert!(s.write(3, 2, &[9, 9]));
        assert_eq!(s.data(3).unwrap(), [3, 3, 9, 9, 3, 3, 3, 3]);
        s.discard(1);
        s.insert(4, &block(4), false);
        assert!(matches!(s.get(4).unwrap().data, Data::Slot(0, 8)), "the freed slot is reused");
        assert_eq!(s.data(4).unwrap(), block(4), "with the new data");
        // A short last block takes a slot too, holding only its bytes.
        s.discard(2);
        s.insert(20, &[1, 2, 3], false);
        assert_eq!(s.data(20).unwrap(), [1, 2, 3]);
        assert_eq!(s.bytes, 8 + 8 + 3);
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

    #[test]
    fn blocks_written_below_are_known_until_each_write_ends() {
        let mut s = Store::new(4096, 1 << 20);
        s.begin_write_below(0..=3);
        s.begin_write_below(2..=5);
        assert!(s.written_below(0) && s.written_below(5) && !s.written_below(6));
        s.end_write_below(0..=3);
        assert!(!s.written_below(0) && s.written_below(2), "the other write still runs");
        s.end_write_below(2..=5);
        assert!(!s.written_below(2));
    }
}
