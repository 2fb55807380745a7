//! Unwritten extents becoming written where data lands in them: the unwritten extent is cut
//! around the written range and the range is mapped again as written (merging with written
//! neighbours that continue it).

use super::find::Found;
use super::{NodeStore, Tree, max_len};
use crate::error::Result;
use crate::ondisk::extent::Extent;

impl<S: NodeStore> Tree<'_, S> {
    /// Marks every unwritten block in `from..to` written (same physical blocks).
    pub fn mark_written(&mut self, from: u64, to: u64) -> Result<()> {
        let mut pieces = Vec::new();
        let mut pos = from;
        while pos < to {
            match self.find(pos as u32)? {
                Found::Hole { next } => pos = next.max(pos + 1),
                Found::Mapped(e) => {
                    let end = e.end().min(to);
                    if e.unwritten {
                        let off = pos - u64::from(e.block);
                        pieces.push(Extent {
                            block: pos as u32,
                            len: (end - pos) as u16,
                            start: e.start + off,
                            unwritten: false,
                        });
                    }
                    pos = end;
                }
            }
        }
        for p in pieces {
            self.remove(u64::from(p.block), p.end(), false)?;
            debug_assert!(u32::from(p.len) <= max_len(false));
            self.insert(p)?;
        }
        Ok(())
    }
}
