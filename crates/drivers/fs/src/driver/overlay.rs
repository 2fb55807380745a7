//! An in-memory overlay over a block device: writes land in memory, reads see them over
//! the device's bytes, and nothing reaches the device. A read-only mount replays its journal
//! into one, so reads see the recovered volume while the disk stays as it was (what the
//! kernel's `ro` mount of a dirty ext4 does, and what `fsck` checks).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::device::{BlockDevice, DeviceIoError};

/// The overlay's unit: writes of whole chunks replace them, partial ones read, patch, keep.
const CHUNK: u64 = 512;

/// A device whose writes stay in memory.
#[derive(Debug)]
pub struct Overlay<D> {
    base: D,
    chunks: Mutex<BTreeMap<u64, Box<[u8]>>>,
}

impl<D: BlockDevice> Overlay<D> {
    /// An empty overlay over `base`.
    pub fn new(base: D) -> Overlay<D> {
        Overlay { base, chunks: Mutex::new(BTreeMap::new()) }
    }

    /// The device below.
    pub fn base(&self) -> &D {
        &self.base
    }

    /// Bytes held in memory.
    pub fn overlay_bytes(&self) -> u64 {
        self.lock().len() as u64 * CHUNK
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Box<[u8]>>> {
        self.chunks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn range_check(&self, op: &'static str, offset: u64, len: usize) -> Result<(), DeviceIoError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.base.size() => Ok(()),
            _ => Err(DeviceIoError {
                op,
                offset,
                len,
                reason: format!("past the end of a {}-byte device", self.size()),
            }),
        }
    }
}

impl<D: BlockDevice> BlockDevice for Overlay<D> {
    fn size(&self) -> u64 {
        self.base.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceIoError> {
        self.base.read_at(offset, buf)?;
        let chunks = self.lock();
        if chunks.is_empty() || buf.is_empty() {
            return Ok(());
        }
        let end = offset + buf.len() as u64;
        for (&index, data) in chunks.range(offset / CHUNK..end.div_ceil(CHUNK)) {
            let start = index * CHUNK;
            let from = start.max(offset);
            let to = (start + CHUNK).min(end);
            buf[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&data[(from - start) as usize..(to - start) as usize]);
        }
        Ok(())
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceIoError> {
        self.range_check("write", offset, buf.len())?;
        let end = offset + buf.len() as u64;
        let mut index = offset / CHUNK;
        while index * CHUNK < end {
            let start = index * CHUNK;
            let from = start.max(offset);
            let to = (start + CHUNK).min(end);
            let mut chunk = vec![0u8; CHUNK as usize].into_boxed_slice();
            if from != start || to != start + CHUNK {
                let len = CHUNK.min(self.size() - start) as usize;
                self.read_at(start, &mut chunk[..len])?;
            }
            chunk[(from - start) as usize..(to - start) as usize]
                .copy_from_slice(&buf[(from - offset) as usize..(to - offset) as usize]);
            self.lock().insert(index, chunk);
            index += 1;
        }
        Ok(())
    }

    /// Nothing reaches the device, so there is nothing to flush.
    fn flush(&self) -> Result<(), DeviceIoError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryDevice;

    #[test]
    fn writes_stay_in_memory_and_reads_see_them() {
        let base = MemoryDevice::from_image((0..4096u32).map(|i| i as u8).collect());
        let o = Overlay::new(&base);
        o.write_at(1000, &[0xAA; 100]).unwrap();
        o.write_at(2048, &[0xBB; 512]).unwrap();
        let mut buf = vec![0u8; 4096];
        o.read_at(0, &mut buf).unwrap();
        for (i, &b) in buf.iter().enumerate() {
            let expect = match i {
                1000..1100 => 0xAA,
                2048..2560 => 0xBB,
                _ => i as u8,
            };
            assert_eq!(b, expect, "byte {i}");
        }
        let mut part = [0u8; 10];
        o.read_at(1095, &mut part).unwrap();
        assert_eq!(
            part,
            [
                0xAA,
                0xAA,
                0xAA,
                0xAA,
                0xAA,
                1100u32 as u8,
                1101u32 as u8,
                1102u32 as u8,
                1103u32 as u8,
                1104u32 as u8
            ]
        );
        assert_eq!(base.image()[1000], 1000u32 as u8, "the device is untouched");
        assert!(o.write_at(4000, &[0; 200]).is_err());
        assert_eq!(o.overlay_bytes(), 3 * 512);
    }
}
