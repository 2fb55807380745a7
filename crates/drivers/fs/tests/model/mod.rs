//! An in-memory model of a file tree with the semantics the file system promises (POSIX
//! names, hard links, symlinks, xattrs, sparse files), and a walk that compares a mounted
//! file system with it.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use fs::filesystem::{FileKind, RenameMode};
use fs::{Filesystem, ROOT, errno};

/// One inode of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file's bytes.
    File(Vec<u8>),
    /// A directory: names and its parent.
    Dir { entries: BTreeMap<Vec<u8>, u32>, parent: u32 },
    /// A symlink's target.
    Link(Vec<u8>),
}

/// An inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MInode {
    pub kind: Kind,
    pub nlink: u32,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// The model: inodes by the numbers the file system gave them.
#[derive(Debug, Clone)]
pub struct Model {
    pub inodes: BTreeMap<u32, MInode>,
    pub open: BTreeMap<u32, u32>,
}

pub type R = Result<(), i32>;

impl Model {
    /// The tree mkfs makes: root and lost+found.
    pub fn new(lpf: u32) -> Model {
        let mut inodes = BTreeMap::new();
        let root_entries = BTreeMap::from([(b"lost+found".to_vec(), lpf)]);
        inodes.insert(
            ROOT,
            MInode {
                kind: Kind::Dir { entries: root_entries, parent: ROOT },
                nlink: 3,
                xattrs: BTreeMap::new(),
            },
        );
        inodes.insert(
            lpf,
            MInode {
                kind: Kind::Dir { entries: BTreeMap::new(), parent: ROOT },
                nlink: 2,
                xattrs: BTreeMap::new(),
            },
        );
        Model { inodes, open: BTreeMap::new() }
    }

    /// Directories reachable, in inode order.
    pub fn dirs(&self) -> Vec<u32> {
        self.reachable().into_iter().filter(|i| matches!(self.inodes[i].kind, Kind::Dir { .. })).collect()
    }

    /// Regular files reachable or open.
    pub fn files(&self) -> Vec<u32> {
        self.inodes.iter().filter(|(_, n)| matches!(n.kind, Kind::File(_))).map(|(&i, _)| i).collect()
    }

    /// Every inode reachable from the root.
    pub fn reachable(&self) -> BTreeSet<u32> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![ROOT];
        while let Some(i) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            if let Kind::Dir { entries, .. } = &self.inodes[&i].kind {
                stack.extend(entries.values().copied());
            }
        }
        seen
    }

    pub fn entries(&self, dir: u32) -> &BTreeMap<Vec<u8>, u32> {
        match &self.inodes[&dir].kind {
            Kind::Dir { entries, .. } => entries,
            _ => panic!("not a dir"),
        }
    }

    fn entries_mut(&mut self, dir: u32) -> &mut BTreeMap<Vec<u8>, u32> {
        match &mut self.inodes.get_mut(&dir).unwrap().kind {
            Kind::Dir { entries, .. } => entries,
            _ => panic!("not a dir"),
        }
    }

    fn is_dir(&self, ino: u32) -> bool {
        matches!(self.inodes[&ino].kind, Kind::Dir { .. })
    }

    fn parent(&self, dir: u32) -> u32 {
        match &self.inodes[&dir].kind {
            Kind::Dir { parent, .. } => *parent,
            _ => panic!("not a dir"),
        }
    }

    /// Whether `anc` is `dir` or above it.
    fn is_ancestor(&self, anc: u32, mut dir: u32) -> bool {
        loop {
            if dir == anc {
                return true;
            }
            if dir == ROOT {
                return false;
            }
            dir = self.parent(dir);
        }
    }

    /// Adds a new inode named `name` in `dir` (the file system chose its number).
    pub fn add(&mut self, dir: u32, name: &[u8], ino: u32, kind: Kind) {
        let is_dir = matches!(kind, Kind::Dir { .. });
        self.inodes.insert(ino, MInode { kind, nlink: if is_dir { 2 } else { 1 }, xattrs: BTreeMap::new() });
        self.entries_mut(dir).insert(name.to_vec(), ino);
        if is_dir {
            self.inodes.get_mut(&dir).unwrap().nlink += 1;
        }
    }

    /// What creating `name` in `dir` should fail with, if anything.
    pub fn create_check(&self, dir: u32, name: &[u8]) -> R {
        if self.entries(dir).contains_key(name) { Err(errno::EEXIST) } else { Ok(()) }
    }

    fn drop_link(&mut self, ino: u32) {
        let n = self.inodes.get_mut(&ino).unwrap();
        if matches!(n.kind, Kind::Dir { .. }) {
            n.nlink = 0;
        } else {
            n.nlink -= 1;
        }
        if n.nlink == 0 && !self.open.contains_key(&ino) {
            self.inodes.remove(&ino);
        }
    }

    pub fn link(&mut self, ino: u32, dir: u32, name: &[u8]) -> R {
        if self.is_dir(ino) {
            return Err(errno::EPERM);
        }
        self.create_check(dir, name)?;
        self.entries_mut(dir).insert(name.to_vec(), ino);
        self.inodes.get_mut(&ino).unwrap().nlink += 1;
        Ok(())
    }

    pub fn unlink(&mut self, dir: u32, name: &[u8]) -> R {
        let Some(&ino) = self.entries(dir).get(name) else { return Err(errno::ENOENT) };
        if self.is_dir(ino) {
            return Err(errno::EISDIR);
        }
        self.entries_mut(dir).remove(name);
        self.drop_link(ino);
        Ok(())
    }

    pub fn rmdir(&mut self, dir: u32, name: &[u8]) -> R {
        let Some(&ino) = self.entries(dir).get(name) else { return Err(errno::ENOENT) };
        if !self.is_dir(ino) {
            return Err(errno::ENOTDIR);
        }
        if !self.entries(ino).is_empty() {
            return Err(errno::ENOTEMPTY);
        }
        self.entries_mut(dir).remove(name);
        self.inodes.get_mut(&dir).unwrap().nlink -= 1;
        self.drop_link(ino);
        Ok(())
    }

    fn set_parent(&mut self, dir: u32, p: u32) {
        if let Kind::Dir { parent, .. } = &mut self.inodes.get_mut(&dir).unwrap().kind {
            *parent = p;
        }
    }

    /// Rename, with the checks in the order the file system makes them.
    pub fn rename(&mut self, sd: u32, sn: &[u8], dd: u32, dn: &[u8], how: RenameMode) -> R {
        let Some(&src) = self.entries(sd).get(sn) else { return Err(errno::ENOENT) };
        let dst = self.entries(dd).get(dn).copied();
        if how == RenameMode::NoReplace && dst.is_some() {
            return Err(errno::EEXIST);
        }
        if dst == Some(src) {
            return Ok(());
        }
        let moves = sd != dd;
        let src_dir = self.is_dir(src);
        if src_dir && moves && self.is_ancestor(src, dd) {
            return Err(errno::EINVAL);
        }
        match (how, dst) {
            (RenameMode::NoReplace, Some(_)) => Err(errno::EEXIST),
            (RenameMode::Exchange, None) => Err(errno::ENOENT),
            (RenameMode::Exchange, Some(d)) => {
                let dst_dir = self.is_dir(d);
                if dst_dir && moves && self.is_ancestor(d, sd) {
                    return Err(errno::EINVAL);
                }
                self.entries_mut(sd).insert(sn.to_vec(), d);
                self.entries_mut(dd).insert(dn.to_vec(), src);
                if moves {
                    if src_dir {
                        self.set_parent(src, dd);
                        self.inodes.get_mut(&sd).unwrap().nlink -= 1;
                        self.inodes.get_mut(&dd).unwrap().nlink += 1;
                    }
                    if dst_dir {
                        self.set_parent(d, sd);
                        self.inodes.get_mut(&dd).unwrap().nlink -= 1;
                        self.inodes.get_mut(&sd).unwrap().nlink += 1;
                    }
                }
                Ok(())
            }
            (_, Some(d)) => {
                let dst_dir = self.is_dir(d);
                if src_dir && !dst_dir {
                    return Err(errno::ENOTDIR);
                }
                if !src_dir && dst_dir {
                    return Err(errno::EISDIR);
                }
                if dst_dir && !self.entries(d).is_empty() {
                    return Err(errno::ENOTEMPTY);
                }
                self.entries_mut(dd).insert(dn.to_vec(), src);
                self.entries_mut(sd).remove(sn);
                if dst_dir {
                    self.inodes.get_mut(&dd).unwrap().nlink -= 1;
                }
                if src_dir && moves {
                    self.set_parent(src, dd);
                    self.inodes.get_mut(&sd).unwrap().nlink -= 1;
                    self.inodes.get_mut(&dd).unwrap().nlink += 1;
                }
                self.drop_link(d);
                Ok(())
            }
            (_, None) => {
                self.entries_mut(dd).insert(dn.to_vec(), src);
                self.entries_mut(sd).remove(sn);
                if src_dir && moves {
                    self.set_parent(src, dd);
                    self.inodes.get_mut(&sd).unwrap().nlink -= 1;
                    self.inodes.get_mut(&dd).unwrap().nlink += 1;
                }
                Ok(())
            }
        }
    }

    pub fn file_mut(&mut self, ino: u32) -> &mut Vec<u8> {
        match &mut self.inodes.get_mut(&ino).unwrap().kind {
            Kind::File(d) => d,
            _ => panic!("not a file"),
        }
    }

    /// All open files closed (unmount or crash): unlinked ones go.
    pub fn close_all(&mut self) {
        self.open.clear();
        self.inodes.retain(|_, n| n.nlink > 0);
    }

    pub fn release(&mut self, ino: u32) {
        if let Some(n) = self.open.get_mut(&ino) {
            *n -= 1;
            if *n == 0 {
                self.open.remove(&ino);
                if self.inodes[&ino].nlink == 0 {
                    self.inodes.remove(&ino);
                }
            }
        }
    }
}

/// Compares the whole tree under the root with the model.
pub fn compare(fs: &Filesystem, m: &Model) {
    let mut stack = vec![(ROOT, b"/".to_vec())];
    let mut seen = BTreeSet::new();
    while let Some((ino, path)) = stack.pop() {
        if !seen.insert(ino) {
            continue;
        }
        let p = String::from_utf8_lossy(&path).into_owned();
        let mi = m.inodes.get(&ino).unwrap_or_else(|| panic!("{p}: inode {ino} not in the model"));
        let a = fs.getattr(ino).unwrap_or_else(|e| panic!("{p}: getattr: {e}"));
        assert_eq!(a.nlink, mi.nlink, "{p}: link count");
        let mut names: Vec<Vec<u8>> = fs.listxattr(ino).unwrap();
        names.sort();
        let want: Vec<Vec<u8>> = mi.xattrs.keys().cloned().collect();
        assert_eq!(names, want, "{p}: xattr names");
        for (k, v) in &mi.xattrs {
            assert_eq!(&fs.getxattr(ino, k).unwrap(), v, "{p}: xattr {}", String::from_utf8_lossy(k));
        }
        match &mi.kind {
            Kind::File(data) => {
                assert_eq!(a.kind, FileKind::Regular, "{p}");
                assert_eq!(a.size, data.len() as u64, "{p}: size");
                let mut buf = vec![0u8; data.len() + 10];
                let n = fs.read(ino, 0, &mut buf).unwrap();
                assert_eq!(n, data.len(), "{p}: read length");
                assert!(buf[..n] == data[..], "{p}: contents differ");
            }
            Kind::Link(t) => {
                assert_eq!(a.kind, FileKind::Symlink, "{p}");
                assert_eq!(&fs.readlink(ino).unwrap(), t, "{p}: target");
            }
            Kind::Dir { entries, parent } => {
                assert_eq!(a.kind, FileKind::Directory, "{p}");
                let mut got = BTreeMap::new();
                let mut cookie = 0;
                loop {
                    let batch = fs.readdir(ino, cookie).unwrap();
                    let Some(last) = batch.last() else { break };
                    cookie = last.cookie;
                    for e in batch {
                        if e.name == b"." {
                            assert_eq!(e.ino, ino, "{p}: .");
                        } else if e.name == b".." {
                            assert_eq!(e.ino, *parent, "{p}: ..");
                        } else {
                            assert!(got.insert(e.name, e.ino).is_none(), "{p}: a name listed twice");
                        }
                    }
                }
                assert_eq!(&got, entries, "{p}: entries");
                for (name, &child) in entries {
                    assert_eq!(fs.lookup(ino, name).unwrap().ino, child, "{p}: lookup");
                    let mut cp = path.clone();
                    if cp != b"/" {
                        cp.push(b'/');
                    }
                    cp.extend_from_slice(name);
                    stack.push((child, cp));
                }
            }
        }
    }
    assert_eq!(seen, m.reachable(), "reachable inodes");
}
