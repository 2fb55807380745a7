//! The metadata buffer cache: block images by block number, each clean (the same as its home
//! location), dirty (changed by the running transaction) or logged (committed to the journal
//! but not yet written home by a checkpoint). Only clean images may be dropped; the others
//! are the only up-to-date copy outside the journal.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Where a cached image stands with respect to its home location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Same as the home block.
    Clean,
    /// Changed in the running transaction.
    Dirty,
    /// Committed, not yet checkpointed: home is stale.
    Logged,
}

/// One cached block.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The image (shared copy-on-write with undo records and readers).
    pub data: Arc<Vec<u8>>,
    /// Its state.
    pub state: State,
}

/// The cache proper.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    map: HashMap<u64, Entry>,
    dirty: HashSet<u64>,
    logged: HashSet<u64>,
    /// Entries kept before clean ones are dropped.
    limit: usize,
}

impl Cache {
    /// An empty cache holding up to `limit` blocks (more while they are dirty or logged).
    pub fn new(limit: usize) -> Cache {
        Cache { limit: limit.max(16), ..Cache::default() }
    }

    /// The cached entry of `block`.
    pub fn get(&self, block: u64) -> Option<&Entry> {
        self.map.get(&block)
    }

    /// Replaces (or with None removes) the entry of `block`, keeping the state sets right.
    pub fn set(&mut self, block: u64, entry: Option<Entry>) {
        self.dirty.remove(&block);
        self.logged.remove(&block);
        match entry {
            Some(e) => {
                match e.state {
                    State::Dirty => {
                        self.dirty.insert(block);
                    }
                    State::Logged => {
                        self.logged.insert(block);
                    }
                    State::Clean => {}
                }
                self.map.insert(block, e);
            }
            None => {
                self.map.remove(&block);
            }
        }
    }

    /// Mutable access to a cached image (state unchanged: callers set it).
    pub fn get_mut(&mut self, block: u64) -> Option<&mut Entry> {
        self.map.get_mut(&block)
    }

    /// Blocks changed by the running transaction, in block order.
    pub fn dirty_blocks(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.dirty.iter().copied().collect();
        v.sort_unstable();
        v
    }

    /// Number of dirty blocks.
    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    /// Dirty plus logged: the blocks that cannot be dropped.
    pub fn pinned(&self) -> usize {
        self.dirty.len() + self.logged.len()
    }

    /// The running transaction committed: its dirty blocks are now logged.
    pub fn committed(&mut self) {
        for b in std::mem::take(&mut self.dirty) {
            if let Some(e) = self.map.get_mut(&b) {
                e.state = State::Logged;
            }
            self.logged.insert(b);
        }
    }

    /// A checkpoint wrote every logged block home.
    pub fn checkpointed(&mut self) {
        for b in std::mem::take(&mut self.logged) {
            if let Some(e) = self.map.get_mut(&b) {
                e.state = State::Clean;
            }
        }
    }

    /// Drops clean entries while there are more than the limit (down to three quarters of it).
    pub fn trim(&mut self) {
        if self.map.len() <= self.limit {
            return;
        }
        let target = self.limit * 3 / 4;
        let mut excess = self.map.len().saturating_sub(target);
        self.map.retain(|_, e| {
            if excess > 0 && e.state == State::Clean {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }

    /// Number of cached blocks.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: State) -> Option<Entry> {
        Some(Entry { data: Arc::new(vec![0; 8]), state })
    }

    #[test]
    fn states_move_from_dirty_to_logged_to_clean_and_only_clean_ones_are_dropped() {
        let mut c = Cache::new(16);
        for b in 0..40 {
            c.set(b, entry(State::Clean));
        }
        c.set(100, entry(State::Dirty));
        c.set(101, entry(State::Logged));
        assert_eq!((c.dirty_len(), c.pinned()), (1, 2));
        c.trim();
        assert!(c.len() <= 16 && c.get(100).is_some() && c.get(101).is_some());
        c.committed();
        assert_eq!((c.dirty_len(), c.pinned()), (0, 2));
        assert_eq!(c.get(100).unwrap().state, State::Logged);
        c.checkpointed();
        assert_eq!(c.pinned(), 0);
        assert_eq!(c.get(101).unwrap().state, State::Clean);
    }
}
