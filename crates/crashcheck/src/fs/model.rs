//! The model the oracle compares with: the tree of files, directories and symbolic links
//! as each step leaves it, and what each step changed (for what a later persistence call
//! covers).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fs::errno;

use super::workload::{Op, Persist};

/// A model inode's identity (stable across renames; never reused).
pub type Id = u32;

/// The root directory.
pub const ROOT: Id = 0;

/// Model block size, for what allocation a write or a truncation changes.
const BLOCK: u64 = 4096;

/// What a model inode is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file: its bytes, and which blocks are allocated (`true`: written;
    /// `false`: preallocated, reading as zeroes).
    File {
        /// The content (its length is the size).
        data: Arc<Vec<u8>>,
        /// Allocated blocks.
        blocks: BTreeMap<u64, bool>,
    },
    /// A directory: name to inode.
    Dir(BTreeMap<Vec<u8>, Id>),
    /// A symbolic link and its target.
    Symlink(Vec<u8>),
}

/// A model inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// What it is.
    pub kind: Kind,
    /// Its extended attributes.
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Its link count (a directory: 2 plus its subdirectories).
    pub nlink: u32,
}

/// A file's content and allocation, to change.
type FileMut<'a> = (&'a mut Arc<Vec<u8>>, &'a mut BTreeMap<u64, bool>);

/// The whole tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    /// Every inode in use.
    pub nodes: BTreeMap<Id, Node>,
    next: Id,
}

/// What a step changed: every inode it touched, and those whose change matters to
/// reading their data back (fdatasync's business).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// Inodes changed in any way (their names included).
    pub touched: BTreeSet<Id>,
    /// Inodes whose size, allocation or existence changed.
    pub data: BTreeSet<Id>,
}

/// The bytes a write of step `tag` puts at file offset `off`: never zero, and different
/// for different steps, so that the oracle can tell whose bytes a file shows.
pub fn data_byte(tag: u32, off: u64) -> u8 {
    let mut z = (u64::from(tag) << 40 ^ off).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) % 255) as u8 + 1
}

/// The bytes of a write of step `tag`: `len` of them at `off`.
pub fn data(tag: u32, off: u64, len: u64) -> Vec<u8> {
    (off..off + len).map(|o| data_byte(tag, o)).collect()
}

fn dir() -> Node {
    Node { kind: Kind::Dir(BTreeMap::new()), xattrs: BTreeMap::new(), nlink: 2 }
}

fn split(path: &str) -> Vec<&[u8]> {
    if path == "." { Vec::new() } else { path.split('/').map(str::as_bytes).collect() }
}

impl Tree {
    /// A freshly made volume: the root and `lost+found`.
    pub fn new() -> Tree {
        let mut t = Tree { nodes: BTreeMap::new(), next: 1 };
        t.nodes.insert(ROOT, dir());
        let lpf = t.add(dir());
        t.entries_mut(ROOT).insert(b"lost+found".to_vec(), lpf);
        t.node_mut(ROOT).nlink += 1;
        t
    }

    fn add(&mut self, node: Node) -> Id {
        let id = self.next;
        self.next += 1;
        self.nodes.insert(id, node);
        id
    }

    fn node_mut(&mut self, id: Id) -> &mut Node {
        self.nodes.get_mut(&id).expect("model inodes named by an entry exist")
    }

    fn entries_mut(&mut self, id: Id) -> &mut BTreeMap<Vec<u8>, Id> {
        match &mut self.node_mut(id).kind {
            Kind::Dir(e) => e,
            _ => unreachable!("only directories have entries"),
        }
    }

    /// The directory's entries (None: not a directory).
    pub fn entries(&self, id: Id) -> Option<&BTreeMap<Vec<u8>, Id>> {
        match &self.nodes.get(&id)?.kind {
            Kind::Dir(e) => Some(e),
            _ => None,
        }
    }

    /// The inode `path` names (the last component is not followed if it is a link).
    pub fn resolve(&self, path: &str) -> Result<Id, i32> {
        let mut at = ROOT;
        for name in split(path) {
            let entries = self.entries(at).ok_or(errno::ENOTDIR)?;
            at = *entries.get(name).ok_or(errno::ENOENT)?;
        }
        Ok(at)
    }

    /// The directory holding `path`'s last component, and that component.
    pub fn parent<'p>(&self, path: &'p str) -> Result<(Id, &'p [u8]), i32> {
        let names = split(path);
        let Some((last, dirs)) = names.split_last() else { return Err(errno::EINVAL) };
        let mut at = ROOT;
        for name in dirs {
            let entries = self.entries(at).ok_or(errno::ENOTDIR)?;
            at = *entries.get(*name).ok_or(errno::ENOENT)?;
        }
        if self.entries(at).is_none() {
            return Err(errno::ENOTDIR);
        }
        Ok((at, last))
    }

    fn file_mut(&mut self, id: Id) -> Result<FileMut<'_>, i32> {
        match &mut self.node_mut(id).kind {
            Kind::File { data, blocks } => Ok((data, blocks)),
            Kind::Dir(_) => Err(errno::EISDIR),
            Kind::Symlink(_) => Err(errno::EINVAL),
        }
    }

    fn new_entry(&mut self, path: &str, node: Node) -> Result<(Id, Id), i32> {
        let (dir, name) = self.parent(path)?;
        if self.entries(dir).is_some_and(|e| e.contains_key(name)) {
            return Err(errno::EEXIST);
        }
        let is_dir = matches!(node.kind, Kind::Dir(_));
        let id = self.add(node);
        self.entries_mut(dir).insert(name.to_vec(), id);
        if is_dir {
            self.node_mut(dir).nlink += 1;
        }
        Ok((id, dir))
    }

    fn write(&mut self, id: Id, off: u64, bytes: &[u8]) -> Result<bool, i32> {
        let (content, blocks) = self.file_mut(id)?;
        let end = off + bytes.len() as u64;
        let grew = end > content.len() as u64;
        let d = Arc::make_mut(content);
        if grew {
            d.resize(end as usize, 0);
        }
        d[off as usize..end as usize].copy_from_slice(bytes);
        let mut allocated = false;
        for b in off / BLOCK..end.div_ceil(BLOCK) {
            allocated |= blocks.insert(b, true) != Some(true);
        }
        Ok(grew || allocated)
    }

    fn unlink_id(&mut self, dir: Id, name: &[u8]) -> Id {
        let id = self.entries_mut(dir).remove(name).expect("the entry exists");
        let node = self.node_mut(id);
        if matches!(node.kind, Kind::Dir(_)) {
            self.nodes.remove(&id);
            self.node_mut(dir).nlink -= 1;
        } else {
            node.nlink -= 1;
            if node.nlink == 0 {
                self.nodes.remove(&id);
            }
        }
        id
    }

    /// Whether `inner` is `outer` or lies below it.
    fn within(&self, outer: Id, inner: Id) -> bool {
        if outer == inner {
            return true;
        }
        self.entries(outer).is_some_and(|e| e.values().any(|&c| self.within(c, inner)))
    }

    /// Applies `op` of step `tag`; returns what it changed, or the errno it fails with
    /// (and then it changed nothing).
    pub fn apply(&mut self, op: &Op, tag: u32) -> Result<Effect, i32> {
        let mut fx = Effect::default();
        let both = |fx: &mut Effect, id: Id| {
            fx.touched.insert(id);
            fx.data.insert(id);
        };
        match op {
            Op::Create(p) => {
                let file = Kind::File { data: Arc::new(Vec::new()), blocks: BTreeMap::new() };
                let (id, dir) = self.new_entry(p, Node { kind: file, xattrs: BTreeMap::new(), nlink: 1 })?;
                both(&mut fx, id);
                both(&mut fx, dir);
            }
            Op::Mkdir(p) => {
                let (id, d) = self.new_entry(p, dir())?;
                both(&mut fx, id);
                both(&mut fx, d);
            }
            Op::Symlink(p, target) => {
                let link = Node {
                    kind: Kind::Symlink(target.as_bytes().to_vec()),
                    xattrs: BTreeMap::new(),
                    nlink: 1,
                };
                let (id, d) = self.new_entry(p, link)?;
                both(&mut fx, id);
                both(&mut fx, d);
            }
            Op::Write(p, off, len) | Op::Overwrite(p, off, len) => {
                let id = self.resolve(p)?;
                let relevant = self.write(id, *off, &data(tag, *off, *len))?;
                fx.touched.insert(id);
                if relevant {
                    fx.data.insert(id);
                }
            }
            Op::Append(p, len) => {
                let id = self.resolve(p)?;
                let off = self.file_mut(id)?.0.len() as u64;
                if *len > 0 {
                    self.write(id, off, &data(tag, off, *len))?;
                    fx.data.insert(id);
                }
                fx.touched.insert(id);
            }
            Op::Truncate(p, size) => {
                let id = self.resolve(p)?;
                let (content, blocks) = self.file_mut(id)?;
                Arc::make_mut(content).resize(*size as usize, 0);
                blocks.retain(|&b, _| b < size.div_ceil(BLOCK));
                both(&mut fx, id);
            }
            Op::Fallocate(p, off, len, keep) => {
                let id = self.resolve(p)?;
                let (content, blocks) = self.file_mut(id)?;
                for b in off / BLOCK..(off + len).div_ceil(BLOCK) {
                    blocks.entry(b).or_insert(false);
                }
                if !keep && off + len > content.len() as u64 {
                    Arc::make_mut(content).resize((off + len) as usize, 0);
                }
                both(&mut fx, id);
            }
            Op::Link(from, to) => {
                let id = self.resolve(from)?;
                if matches!(self.nodes[&id].kind, Kind::Dir(_)) {
                    return Err(errno::EPERM);
                }
                let (dir, name) = self.parent(to)?;
                if self.entries(dir).is_some_and(|e| e.contains_key(name)) {
                    return Err(errno::EEXIST);
                }
                self.entries_mut(dir).insert(name.to_vec(), id);
                self.node_mut(id).nlink += 1;
                fx.touched.insert(id);
                both(&mut fx, dir);
            }
            Op::Unlink(p) => {
                let (dir, name) = self.parent(p)?;
                let id = *self.entries(dir).and_then(|e| e.get(name)).ok_or(errno::ENOENT)?;
                if matches!(self.nodes[&id].kind, Kind::Dir(_)) {
                    return Err(errno::EISDIR);
                }
                self.unlink_id(dir, name);
                both(&mut fx, id);
                both(&mut fx, dir);
            }
            Op::Rename(from, to) => fx = self.rename(from, to)?,
            Op::SetXattr(p, name, len) => {
                let id = self.resolve(p)?;
                let value = data(tag, 0, *len);
                self.node_mut(id).xattrs.insert(name.as_bytes().to_vec(), value);
                fx.touched.insert(id);
            }
            Op::RemoveXattr(p, name) => {
                let id = self.resolve(p)?;
                self.node_mut(id).xattrs.remove(name.as_bytes()).ok_or(errno::ENODATA)?;
                fx.touched.insert(id);
            }
        }
        Ok(fx)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<Effect, i32> {
        let (sdir, sname) = self.parent(from)?;
        let id = *self.entries(sdir).and_then(|e| e.get(sname)).ok_or(errno::ENOENT)?;
        let (ddir, dname) = self.parent(to)?;
        let is_dir = matches!(self.nodes[&id].kind, Kind::Dir(_));
        if is_dir && self.within(id, ddir) {
            return Err(errno::EINVAL);
        }
        let mut fx = Effect::default();
        for d in [sdir, ddir] {
            fx.touched.insert(d);
            fx.data.insert(d);
        }
        fx.touched.insert(id);
        if let Some(&victim) = self.entries(ddir).and_then(|e| e.get(dname)) {
            if victim == id {
                return Ok(Effect::default());
            }
            match (&self.nodes[&victim].kind, is_dir) {
                (Kind::Dir(e), true) if !e.is_empty() => return Err(errno::ENOTEMPTY),
                (Kind::Dir(_), false) => return Err(errno::EISDIR),
                (_, true) if !matches!(self.nodes[&victim].kind, Kind::Dir(_)) => return Err(errno::ENOTDIR),
                _ => {}
            }
            self.unlink_id(ddir, dname);
            fx.touched.insert(victim);
            fx.data.insert(victim);
        }
        self.entries_mut(sdir).remove(sname);
        self.entries_mut(ddir).insert(dname.to_vec(), id);
        if is_dir && sdir != ddir {
            self.node_mut(sdir).nlink -= 1;
            self.node_mut(ddir).nlink += 1;
        }
        Ok(fx)
    }

    /// Checks that a persistence call can run (its path names what it needs); returns
    /// the inode it covers (None for `sync`).
    pub fn persist_target(&self, p: &Persist) -> Result<Option<Id>, i32> {
        match p {
            Persist::Fsync(path) | Persist::Fdatasync(path) => self.resolve(path).map(Some),
            Persist::FsyncDir(path) => {
                let id = self.resolve(path)?;
                if self.entries(id).is_none() {
                    return Err(errno::ENOTDIR);
                }
                Ok(Some(id))
            }
            Persist::Sync => Ok(None),
        }
    }
}

impl Default for Tree {
    fn default() -> Tree {
        Tree::new()
    }
}

#[cfg(test)]
mod tests;
