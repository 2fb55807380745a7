//! The [`Broken::DataAfterCommit`](crate::breakage::Broken::DataAfterCommit) variant's
//! device: file data written through it is held in memory (reads see it) until
//! [`HeldData::release`], which the transaction calls after its commit block is durable.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::device::{BlockDevice, DeviceIoError};

/// The unit held: the device's sector (every request the on-disk code makes is a multiple).
const SECTOR: u64 = 512;

/// File data held back from the device below, by sector.
pub(crate) struct HeldData {
    below: Arc<dyn BlockDevice>,
    held: Mutex<BTreeMap<u64, Vec<u8>>>,
}

impl std::fmt::Debug for HeldData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldData").field("sectors", &self.held().len()).finish_non_exhaustive()
    }
}

impl HeldData {
    pub(crate) fn new(below: Arc<dyn BlockDevice>) -> HeldData {
        HeldData { below, held: Mutex::new(BTreeMap::new()) }
    }

    fn held(&self) -> MutexGuard<'_, BTreeMap<u64, Vec<u8>>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes everything held to the device below (no flush).
    pub(crate) fn release(&self) -> Result<(), DeviceIoError> {
        let held = std::mem::take(&mut *self.held());
        for (sector, data) in held {
            self.below.write_at(sector * SECTOR, &data)?;
        }
        Ok(())
    }

    fn aligned(op: &'static str, offset: u64, len: usize) -> Result<(), DeviceIoError> {
        if offset.is_multiple_of(SECTOR) && (len as u64).is_multiple_of(SECTOR) {
            return Ok(());
        }
        Err(DeviceIoError { op, offset, len, reason: "not a whole number of 512-byte sectors".into() })
    }
}

impl BlockDevice for HeldData {
    fn size(&self) -> u64 {
        self.below.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceIoError> {
        Self::aligned("read", offset, buf.len())?;
        self.below.read_at(offset, buf)?;
        let first = offset / SECTOR;
        for (&s, data) in self.held().range(first..first + buf.len() as u64 / SECTOR) {
            let at = ((s - first) * SECTOR) as usize;
            buf[at..at + SECTOR as usize].copy_from_slice(data);
        }
        Ok(())
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceIoError> {
        Self::aligned("write", offset, buf.len())?;
        let mut held = self.held();
        for (i, chunk) in buf.chunks(SECTOR as usize).enumerate() {
            held.insert(offset / SECTOR + i as u64, chunk.to_vec());
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), DeviceIoError> {
        self.below.flush()
    }
}
