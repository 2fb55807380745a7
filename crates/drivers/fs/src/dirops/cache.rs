//! The directory indexes kept in memory, bounded by their total number of names; an
//! operation that fails drops the indexes it touched (they are rebuilt from the blocks).

use std::collections::{HashMap, HashSet};

use super::index::DirIndex;

/// Indexes by directory inode.
#[derive(Debug)]
pub(crate) struct DirCache {
    map: HashMap<u32, DirIndex>,
    touched: Option<HashSet<u32>>,
    limit: usize,
}

impl DirCache {
    /// A cache holding up to `limit` names in all.
    pub fn new(limit: usize) -> DirCache {
        DirCache { map: HashMap::new(), touched: None, limit: limit.max(1024) }
    }

    /// The index of `dir`, if built.
    pub fn get(&self, dir: u32) -> Option<&DirIndex> {
        self.map.get(&dir)
    }

    /// The index of `dir` for changing (an operation in progress records it).
    pub fn get_mut(&mut self, dir: u32) -> Option<&mut DirIndex> {
        if let Some(t) = &mut self.touched {
            t.insert(dir);
        }
        self.map.get_mut(&dir)
    }

    /// Adds a freshly built index, dropping others if the cache is over its bound.
    pub fn insert(&mut self, dir: u32, index: DirIndex) {
        let total: usize = self.map.values().map(DirIndex::len).sum::<usize>() + index.len();
        if total > self.limit {
            let keep: HashSet<u32> = self.touched.clone().unwrap_or_default();
            self.map.retain(|d, _| keep.contains(d));
        }
        if let Some(t) = &mut self.touched {
            t.insert(dir);
        }
        self.map.insert(dir, index);
    }

    /// Forgets `dir` (deleted, or its blocks changed behind the index).
    pub fn remove(&mut self, dir: u32) {
        self.map.remove(&dir);
    }

    /// Starts recording an operation.
    pub fn begin_op(&mut self) {
        self.touched = Some(HashSet::new());
    }

    /// The operation succeeded.
    pub fn end_op(&mut self) {
        self.touched = None;
    }

    /// The operation failed: its directories' indexes may not match the blocks any more.
    pub fn rollback_op(&mut self) {
        for d in self.touched.take().unwrap_or_default() {
            self.map.remove(&d);
        }
    }
}
