//! The inodes the kernel knows: FUSE node ids ↔ the volume's inode numbers, the kernel's
//! lookup count of each (every `lookup`, `create`, `mkdir`... reply counts one, `forget`
//! gives them back), and where each directory is.
//!
//! FUSE's root is node 1, ext4's root inode 2 (inode 1 is ext4's bad-blocks inode, which no
//! directory names): node 1 is inode 2 and every other node id is its inode number, so the
//! mapping needs no table and `stat` shows the inode numbers the kernel's ext4 shows.
//!
//! The file system opens by name from the root (an open carries a path) or by inode number
//! (`FILE_OPEN_BY_FILE_ID`). Files are opened by number; a request naming an entry of a
//! directory (`lookup`, `create`, `unlink`, `rename`...) needs the directory's path, which the
//! table keeps for every directory the kernel holds: its parent and its name, as learned from
//! the replies that handed it out and kept current by `rename` and `rmdir`. A directory has
//! one name (no hard links), so its path is unique. A removed directory keeps its node until
//! the kernel forgets it, without a path: requests in it answer `ENOENT`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use fuser::INodeNo;

/// ext4's root directory inode.
pub const ROOT_INO: u64 = 2;

/// The FUSE node id of inode `ino`.
pub fn node_of(ino: u64) -> INodeNo {
    if ino == ROOT_INO { INodeNo::ROOT } else { INodeNo(ino) }
}

/// The inode number of FUSE node `node`, or `None` for node 2 (inode 1, which is never
/// handed out) and node 0.
pub fn ino_of(node: INodeNo) -> Option<u64> {
    match node.0 {
        1 => Some(ROOT_INO),
        0 | 2 => None,
        n => Some(n),
    }
}

/// Where a directory is: its parent and its name there, or nowhere (removed).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// In directory `parent` under `name`.
    In { parent: u64, name: Vec<u8> },
    /// Removed (rmdir, or replaced by a rename) while the kernel still holds it.
    Removed,
}

#[derive(Debug)]
struct Node {
    lookups: u64,
    /// Directories only.
    place: Option<Place>,
}

#[derive(Debug, Default)]
struct Table {
    nodes: HashMap<u64, Node>,
    /// (parent, name) → directory inode, for the directories in `nodes`.
    by_name: HashMap<(u64, Vec<u8>), u64>,
}

/// Why a directory's path is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The directory was removed.
    Removed,
    /// The table does not know it (the kernel never had it from this session).
    Unknown,
    /// A name on the way is not UTF-8 (paths of the I/O manager are strings).
    NotUtf8,
}

/// The node table.
#[derive(Debug, Default)]
pub struct Nodes {
    table: Mutex<Table>,
}

impl Nodes {
    /// An empty table (the root needs no entry).
    pub fn new() -> Nodes {
        Nodes::default()
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the table, locked (its fields borrowed apart).
    fn with<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        f(&mut self.lock())
    }

    /// The kernel was handed inode `ino`, found as `name` in directory `parent` (one more
    /// lookup). A directory's place is recorded.
    pub fn looked_up(&self, ino: u64, is_dir: bool, parent: u64, name: &[u8]) {
        self.with(|t| {
            let place = is_dir.then(|| Place::In { parent, name: name.to_vec() });
            let node = t.nodes.entry(ino).or_insert(Node { lookups: 0, place: None });
            node.lookups += 1;
            if let Some(place) = place {
                let old = node.place.replace(place);
                if let Some(Place::In { parent, name }) = old {
                    t.by_name.remove(&(parent, name));
                }
                t.by_name.insert((parent, name.to_vec()), ino);
            }
        })
    }

    /// The kernel gave back `n` lookups of `ino`; the node goes with its last.
    pub fn forget(&self, ino: u64, n: u64) {
        self.with(|t| {
            let Some(node) = t.nodes.get_mut(&ino) else { return };
            node.lookups = node.lookups.saturating_sub(n);
            if node.lookups == 0
                && let Some(node) = t.nodes.remove(&ino)
                && let Some(Place::In { parent, name }) = node.place
                && t.by_name.get(&(parent, name.clone())) == Some(&ino)
            {
                t.by_name.remove(&(parent, name));
            }
        })
    }

    /// How many lookups of `ino` the kernel holds.
    pub fn lookups(&self, ino: u64) -> u64 {
        self.lock().nodes.get(&ino).map_or(0, |n| n.lookups)
    }

    /// Inodes the kernel holds.
    pub fn len(&self) -> usize {
        self.lock().nodes.len()
    }

    /// Whether the kernel holds none.
    pub fn is_empty(&self) -> bool {
        self.lock().nodes.is_empty()
    }

    /// The path of directory `ino` from the root ("" for the root).
    pub fn dir_path(&self, ino: u64) -> Result<String, PathError> {
        let t = self.lock();
        let mut names: Vec<&[u8]> = Vec::new();
        let mut at = ino;
        while at != ROOT_INO {
            let place = t.nodes.get(&at).and_then(|n| n.place.as_ref()).ok_or(PathError::Unknown)?;
            match place {
                Place::Removed => return Err(PathError::Removed),
                Place::In { parent, name } => {
                    names.push(name);
                    at = *parent;
                }
            }
            if names.len() > 4096 {
                return Err(PathError::Unknown); // a loop: the table is wrong, resolve afresh
            }
        }
        let mut path = String::new();
        for name in names.iter().rev() {
            path.push('/');
            path.push_str(std::str::from_utf8(name).map_err(|_| PathError::NotUtf8)?);
        }
        Ok(path)
    }

    /// Records the place of directory `ino`, found out other than by a lookup (no count).
    pub fn place_dir(&self, ino: u64, parent: u64, name: &[u8]) {
        self.with(|t| {
            if let Some(node) = t.nodes.get_mut(&ino) {
                node.place = Some(Place::In { parent, name: name.to_vec() });
                t.by_name.insert((parent, name.to_vec()), ino);
            }
        })
    }

    /// Directory `name` in `parent` was removed.
    pub fn removed(&self, parent: u64, name: &[u8]) {
        self.with(|t| {
            if let Some(ino) = t.by_name.remove(&(parent, name.to_vec()))
                && let Some(node) = t.nodes.get_mut(&ino)
            {
                node.place = Some(Place::Removed);
            }
        })
    }

    /// `from_parent/from_name` (inode `ino`) was renamed to `to_parent/to_name`, replacing
    /// what was there.
    pub fn renamed(&self, ino: u64, from: (u64, &[u8]), to: (u64, &[u8])) {
        self.removed(to.0, to.1);
        self.with(|t| {
            if t.by_name.get(&(from.0, from.1.to_vec())) == Some(&ino) {
                t.by_name.remove(&(from.0, from.1.to_vec()));
            }
            if let Some(node) = t.nodes.get_mut(&ino)
                && node.place.is_some()
            {
                node.place = Some(Place::In { parent: to.0, name: to.1.to_vec() });
                t.by_name.insert((to.0, to.1.to_vec()), ino);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_inode_numbers_but_the_root() {
        assert_eq!(node_of(2), INodeNo::ROOT);
        assert_eq!(node_of(12), INodeNo(12));
        assert_eq!(ino_of(INodeNo::ROOT), Some(2));
        assert_eq!(ino_of(INodeNo(12)), Some(12));
        assert_eq!(ino_of(INodeNo(2)), None);
        assert_eq!(ino_of(INodeNo(0)), None);
    }

    #[test]
    fn lookups_count_and_forget_drops_the_node_with_the_last() {
        let n = Nodes::new();
        n.looked_up(12, false, ROOT_INO, b"f");
        n.looked_up(12, false, ROOT_INO, b"g");
        assert_eq!(n.lookups(12), 2);
        n.forget(12, 1);
        assert_eq!(n.lookups(12), 1);
        n.forget(12, 1);
        assert!(n.is_empty());
        n.forget(99, 3); // unknown: nothing
    }

    #[test]
    fn directory_paths_follow_renames_and_removals() {
        let n = Nodes::new();
        n.looked_up(20, true, ROOT_INO, b"a");
        n.looked_up(21, true, 20, b"b");
        n.looked_up(30, false, 21, b"file");
        assert_eq!(n.dir_path(ROOT_INO).unwrap(), "");
        assert_eq!(n.dir_path(21).unwrap(), "/a/b");
        assert_eq!(n.dir_path(30), Err(PathError::Unknown)); // a file has no path here
        n.looked_up(22, true, ROOT_INO, b"c");
        n.renamed(21, (20, b"b"), (22, b"d"));
        assert_eq!(n.dir_path(21).unwrap(), "/c/d");
        // A rename over a directory removes the one replaced.
        n.looked_up(23, true, ROOT_INO, b"e");
        n.renamed(20, (ROOT_INO, b"a"), (ROOT_INO, b"e"));
        assert_eq!(n.dir_path(20).unwrap(), "/e");
        assert_eq!(n.dir_path(23), Err(PathError::Removed));
        n.removed(22, b"d");
        assert_eq!(n.dir_path(21), Err(PathError::Removed));
        // The name can be used again: the new directory has the path, the old one not.
        n.looked_up(24, true, 22, b"d");
        assert_eq!(n.dir_path(24).unwrap(), "/c/d");
        assert_eq!(n.dir_path(21), Err(PathError::Removed));
        n.forget(21, 1);
        assert_eq!(n.dir_path(24).unwrap(), "/c/d");
        n.looked_up(25, true, ROOT_INO, &[0xff]);
        assert_eq!(n.dir_path(25), Err(PathError::NotUtf8));
    }
}
