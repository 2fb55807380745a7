//! Who claims which blocks: runs of blocks with their owner (metadata or an inode), checked
//! for overlaps (a block claimed twice) and turned into the set of blocks in use that the
//! bitmaps must equal.

use super::problem::{Area, Problems};

/// Who claims a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// File-system metadata: superblock and descriptor copies, bitmaps, inode tables.
    Metadata(&'static str, u32),
    /// An inode's data, extent-tree, indirect or xattr block.
    Inode(u32),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Metadata(what, group) => write!(f, "the {what} of group {group}"),
            Owner::Inode(ino) => write!(f, "inode {ino}"),
        }
    }
}

/// A run of blocks and its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First block.
    pub start: u64,
    /// Blocks.
    pub len: u64,
    /// Who claims it.
    pub owner: Owner,
}

/// Every claim on the volume's blocks.
#[derive(Debug, Default)]
pub struct Claims {
    runs: Vec<Run>,
}

impl Claims {
    /// Records a claim.
    pub fn claim(&mut self, start: u64, len: u64, owner: Owner) {
        if len > 0 {
            self.runs.push(Run { start, len, owner });
        }
    }

    /// The metadata runs claimed so far, `(start, len)`.
    pub fn metadata_runs(&self) -> Vec<(u64, u64)> {
        self.runs
            .iter()
            .filter(|r| matches!(r.owner, Owner::Metadata(..)))
            .map(|r| (r.start, r.len))
            .collect()
    }

    /// Reports every block claimed by two owners (once per pair of overlapping runs), and
    /// returns the set of blocks in use, one bit per block of a `blocks`-block volume.
    pub fn resolve(mut self, blocks: u64, problems: &mut Problems) -> Vec<u64> {
        self.runs.sort_by_key(|r| (r.start, r.len));
        let mut used = vec![0u64; blocks.div_ceil(64) as usize];
        // The run reaching furthest so far: a run starting before its end overlaps it.
        let mut reach: Option<Run> = None;
        for r in &self.runs {
            let end = r.start.saturating_add(r.len);
            if let Some(prev) = reach {
                let prev_end = prev.start + prev.len;
                if r.start < prev_end && prev.owner != r.owner {
                    let shared_end = end.min(prev_end);
                    problems.error(
                        Area::DuplicateBlock,
                        format!(
                            "blocks {}..{} ({} of them) are claimed by {} and by {}",
                            r.start,
                            shared_end,
                            shared_end - r.start,
                            prev.owner,
                            r.owner
                        ),
                    );
                }
                if end > prev_end {
                    reach = Some(*r);
                }
            } else {
                reach = Some(*r);
            }
            for b in r.start..end.min(blocks) {
                used[(b / 64) as usize] |= 1 << (b % 64);
            }
        }
        used
    }
}

/// Whether block `b` is in the set.
pub fn is_used(used: &[u64], b: u64) -> bool {
    used.get((b / 64) as usize).is_some_and(|w| w & (1 << (b % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_are_reported_with_both_owners() {
        let mut c = Claims::default();
        c.claim(0, 10, Owner::Metadata("inode table", 0));
        c.claim(20, 5, Owner::Inode(12));
        c.claim(22, 1, Owner::Inode(13));
        c.claim(30, 2, Owner::Inode(14));
        let mut p = Problems::default();
        let used = c.resolve(64, &mut p);
        let (list, _) = p.finish();
        assert_eq!(list.len(), 1);
        assert!(
            list[0].detail.contains("blocks 22..23")
                && list[0].detail.contains("inode 12")
                && list[0].detail.contains("inode 13")
        );
        assert!(
            is_used(&used, 9)
                && !is_used(&used, 10)
                && is_used(&used, 24)
                && is_used(&used, 31)
                && !is_used(&used, 32)
        );
    }
}
