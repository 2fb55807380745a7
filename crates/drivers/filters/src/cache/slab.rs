//! The memory of the cache's blocks: one allocation of the cache's size, cut into slots
//! of one block each, with a list of free slots.
//!
//! Blocks kept in small heap allocations of their own fragment the allocator's heap
//! between the server's short-lived transfer buffers: measured with 128 NBD connections
//! over a 64 MiB cache, glibc held 354 MB for 132 MB in use. One large allocation is
//! mapped apart from the heap (its pages become resident as blocks first use them, and
//! stay within the cache size), and a freed slot is simply reused.

/// Slots of `block_size` bytes in one buffer.
#[derive(Debug)]
pub(super) struct Slab {
    memory: Vec<u8>,
    block_size: usize,
    /// Free slots, the lowest last (used first: resident pages grow from the start).
    free: Vec<u32>,
}

impl Slab {
    /// Room for `capacity / block_size` blocks (at most `u32::MAX`). The memory is
    /// zeroed lazily by the system; nothing is touched here.
    pub(super) fn new(block_size: usize, capacity: u64) -> Slab {
        let slots = (capacity / block_size.max(1) as u64).min(u64::from(u32::MAX)) as u32;
        Slab { memory: vec![0; slots as usize * block_size], block_size, free: (0..slots).rev().collect() }
    }

    /// A free slot, if any is left.
    pub(super) fn take(&mut self) -> Option<u32> {
        self.free.pop()
    }

    /// Gives `slot` back.
    pub(super) fn give(&mut self, slot: u32) {
        debug_assert!(!self.free.contains(&slot), "slot {slot} freed twice");
        self.free.push(slot);
    }

    /// The first `len` bytes of `slot`.
    pub(super) fn bytes(&self, slot: u32, len: usize) -> &[u8] {
        let start = slot as usize * self.block_size;
        &self.memory[start..start + len]
    }

    /// The first `len` bytes of `slot`, to write.
    pub(super) fn bytes_mut(&mut self, slot: u32, len: usize) -> &mut [u8] {
        let start = slot as usize * self.block_size;
        &mut self.memory[start..start + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_handed_out_lowest_first_and_reused() {
        let mut slab = Slab::new(4, 12);
        assert_eq!((slab.take(), slab.take(), slab.take(), slab.take()), (Some(0), Some(1), Some(2), None));
        slab.bytes_mut(1, 4).copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(slab.bytes(1, 3), [1, 2, 3]);
        assert_eq!(slab.bytes(0, 4), [0; 4], "neighbours untouched");
        slab.give(1);
        assert_eq!(slab.take(), Some(1));
    }
}
