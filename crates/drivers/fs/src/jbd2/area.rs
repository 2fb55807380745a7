//! Where the journal lives: journal block numbers `0..len` mapped to device byte offsets
//! (the journal inode's blocks, which the ext4 layer resolves from its extent tree).

use super::error::Jbd2Error;
use crate::device::BlockDevice;

/// A run of journal blocks that is contiguous on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    /// First journal block of the run.
    logical: u64,
    /// Device block (in units of the block size) of that journal block.
    physical: u64,
    /// Blocks in the run.
    len: u64,
}

/// The journal's blocks on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalArea {
    block_size: usize,
    runs: Vec<Run>,
    len: u64,
}

impl JournalArea {
    /// A journal of `blocks` blocks starting at device block `first_block` (mkfs.ext4
    /// allocates the journal inode contiguously).
    pub fn contiguous(block_size: usize, first_block: u64, blocks: u64) -> JournalArea {
        JournalArea {
            block_size,
            runs: vec![Run { logical: 0, physical: first_block, len: blocks }],
            len: blocks,
        }
    }

    /// A journal made of extents `(first device block, length)` in journal-block order.
    pub fn from_extents(block_size: usize, extents: &[(u64, u64)]) -> Result<JournalArea, Jbd2Error> {
        if block_size == 0 || !block_size.is_power_of_two() {
            return Err(Jbd2Error::Area(format!("block size {block_size} is not a power of two")));
        }
        let mut runs = Vec::with_capacity(extents.len());
        let mut logical = 0u64;
        for &(physical, len) in extents {
            if len == 0 {
                continue;
            }
            if physical.checked_add(len).and_then(|e| e.checked_mul(block_size as u64)).is_none() {
                return Err(Jbd2Error::Area(format!("extent at block {physical} of {len} blocks overflows")));
            }
            runs.push(Run { logical, physical, len });
            logical = logical
                .checked_add(len)
                .ok_or_else(|| Jbd2Error::Area("journal length overflows".to_string()))?;
        }
        Ok(JournalArea { block_size, runs, len: logical })
    }

    /// The journal (= file system) block size.
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// Number of journal blocks.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the area has no blocks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Device byte offset of journal block `jblock`.
    pub fn offset(&self, jblock: u64) -> Result<u64, Jbd2Error> {
        let i = self.runs.partition_point(|r| r.logical + r.len <= jblock);
        match self.runs.get(i) {
            Some(r) if r.logical <= jblock => {
                Ok((r.physical + (jblock - r.logical)) * self.block_size as u64)
            }
            _ => {
                Err(Jbd2Error::Area(format!("journal block {jblock} is past the end ({} blocks)", self.len)))
            }
        }
    }

    /// Reads journal block `jblock` into `buf` (one block long).
    pub fn read(&self, dev: &dyn BlockDevice, jblock: u64, buf: &mut [u8]) -> Result<(), Jbd2Error> {
        Ok(dev.read_at(self.offset(jblock)?, buf)?)
    }

    /// Writes `buf` (one block, or the 1024-byte superblock at block 0) to journal block `jblock`.
    pub fn write(&self, dev: &dyn BlockDevice, jblock: u64, buf: &[u8]) -> Result<(), Jbd2Error> {
        Ok(dev.write_at(self.offset(jblock)?, buf)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_blocks_through_extents() {
        let a = JournalArea::from_extents(1024, &[(100, 2), (0, 0), (500, 3)]).unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a.offset(0).unwrap(), 100 * 1024);
        assert_eq!(a.offset(1).unwrap(), 101 * 1024);
        assert_eq!(a.offset(2).unwrap(), 500 * 1024);
        assert_eq!(a.offset(4).unwrap(), 502 * 1024);
        assert!(a.offset(5).is_err());
        assert_eq!(JournalArea::contiguous(4096, 10, 4).offset(3).unwrap(), 13 * 4096);
        assert!(JournalArea::from_extents(1000, &[(1, 1)]).is_err());
        assert!(JournalArea::from_extents(4096, &[(u64::MAX - 1, 2)]).is_err());
    }
}
