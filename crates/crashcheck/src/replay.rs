//! Rebuilds the crash disk's state (durable image + volatile cache) after every event
//! it recorded, exactly as the disk keeps it.

use disks::crash::{DiskEvent, UnflushedWrite};

/// The disk's state at one point.
#[derive(Clone, Debug)]
pub struct DiskState {
    /// What survives losing the cache.
    pub durable: Vec<u8>,
    /// Writes since the last flush, oldest first.
    pub cache: Vec<UnflushedWrite>,
}

impl DiskState {
    /// A zeroed disk of `size` bytes.
    pub fn new(size: usize) -> DiskState {
        DiskState { durable: vec![0; size], cache: Vec::new() }
    }

    /// Applies one event as the crash disk does; `changed(offset, len)` is called for
    /// every byte range of the durable image it rewrote.
    pub fn apply(&mut self, event: &DiskEvent, seq: u64, mut changed: impl FnMut(usize, usize)) {
        match event {
            DiskEvent::Write { offset, data, fua, .. } => {
                if *fua {
                    let o = *offset as usize;
                    self.durable[o..o + data.len()].copy_from_slice(data);
                    changed(o, data.len());
                }
                self.cache.push(UnflushedWrite { seq, offset: *offset, data: data.clone(), fua: *fua });
            }
            DiskEvent::Flush { .. } => {
                for w in self.cache.drain(..) {
                    let o = w.offset as usize;
                    self.durable[o..o + w.data.len()].copy_from_slice(&w.data);
                    changed(o, w.data.len());
                }
            }
        }
    }
}

/// The clock value of an event.
pub fn stamp(event: &DiskEvent) -> u64 {
    match event {
        DiskEvent::Write { stamp, .. } | DiskEvent::Flush { stamp } => *stamp,
    }
}
