//! Block allocation: the first free run at or after a goal block, in the goal's group first,
//! then in the following groups; frees deferred to the commit.

use super::{Alloc, bits};
use crate::error::Result;
use crate::txn::Txn;

impl Alloc {
    /// Allocates up to `want` contiguous blocks (at least one), as close after `goal` as
    /// possible; returns the first block and how many. Fails with `NoSpace` when no block is
    /// free.
    pub fn alloc_blocks(&mut self, txn: &mut Txn, goal: u64, want: u32) -> Result<(u64, u32)> {
        let want = want.max(1);
        let geo = self.geo;
        if self.free_blocks == 0 {
            return Err(Self::no_space("blocks"));
        }
        let goal = goal.clamp(geo.first_data_block, geo.blocks_count - 1);
        let g0 = geo.group_of_block(goal);
        for i in 0..=geo.groups {
            let g = (g0 + i) % geo.groups;
            if self.groups[g as usize].free_blocks_count == 0 {
                continue;
            }
            let gstart = geo.group_start(g);
            let glen = geo.group_len(g) as usize;
            let from = if i == 0 { (goal - gstart) as usize } else { 0 };
            let bitmap = self.block_bitmap(txn, g)?;
            let map = txn.read(bitmap)?;
            let found = bits::find_zero(&map, from, glen)
                .or_else(|| if from > 0 { bits::find_zero(&map, 0, from) } else { None });
            let Some(bit) = found else {
                tracing::warn!(group = g, "descriptor counts free blocks the bitmap does not have");
                continue;
            };
            let run = bits::zero_run(&map, bit, glen, want as usize) as u32;
            drop(map);
            txn.modify(bitmap, |m| {
                for b in bit..bit + run as usize {
                    bits::set(m, b);
                }
            })?;
            let gd = self.group_mut(g);
            gd.free_blocks_count = gd.free_blocks_count.saturating_sub(run);
            self.free_blocks = self.free_blocks.saturating_sub(u64::from(run));
            return Ok((gstart + bit as u64, run));
        }
        Err(Self::no_space("blocks"))
    }

    /// Frees `len` blocks from `start` when the running transaction commits.
    pub fn release_blocks(&mut self, start: u64, len: u64) {
        if len == 0 {
            return;
        }
        let n = self.frees.len();
        let mergeable = self.undo.as_ref().is_none_or(|u| u.frees_len < n);
        if let Some(last) = self.frees.last_mut()
            && last.0 + last.1 == start
            && mergeable
        {
            last.1 += len;
            return;
        }
        self.frees.push((start, len));
    }
}
