//! Rebuilds the crash disk's state (durable image + volatile cache) after every event
//! it recorded, exactly as the disk keeps it.

use disks::crash::{DiskEvent, OverlayImage, UnflushedWrite};

/// The disk's state at one point.
#[derive(Clone, Debug)]
pub struct DiskState {
    /// What survives losing the cache: the disk's first image and the sectors changed
    /// since (sharing the recorded writes' data).
    pub durable: OverlayImage,
    /// Writes since the last flush, oldest first.
    pub cache: Vec<UnflushedWrite>,
}

impl DiskState {
    /// A disk that starts as `image` with an empty cache: zeroes for the checker's
    /// own workload, or a crash state whose recovery is being crashed in turn.
    pub fn new(image: OverlayImage) -> DiskState {
        DiskState { durable: image, cache: Vec::new() }
    }

    /// Applies one event as the crash disk does; `changed(offset, len)` is called for
    /// every byte range of the durable image it rewrote.
    pub fn apply(&mut self, event: &DiskEvent, seq: u64, mut changed: impl FnMut(u64, usize)) {
        match event {
            DiskEvent::Write { offset, data, fua, .. } => {
                if *fua {
                    self.durable.write(*offset, data);
                    changed(*offset, data.len());
                }
                self.cache.push(UnflushedWrite { seq, offset: *offset, data: data.clone(), fua: *fua });
            }
            DiskEvent::Flush { .. } => {
                for w in self.cache.drain(..) {
                    self.durable.write(w.offset, &w.data);
                    changed(w.offset, w.data.len());
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
