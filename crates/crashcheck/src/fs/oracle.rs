//! The file-system oracle: after a crash, the recovered tree must be the state after some
//! step between the last persistence point and the crash (metadata operations persist in
//! order: ordered journaling commits a prefix of them), with what every completed
//! persistence call covered, and no file may show bytes it never held.
//!
//! Names, kinds, link counts, sizes, symlink targets and attributes are metadata: they
//! must equal the state's. File content is data, written in place outside the journal:
//! each byte must be one the file held at that offset in its version after that step or a
//! later one up to the crash (zero where a version had no byte there), and from its version
//! after its last completed fsync, fdatasync or sync at the oldest.

use std::collections::HashMap;
use std::sync::Arc;

use fs::filesystem::{FileKind, Ino};

use super::history::{Bounds, History};
use super::model::{Id, Kind, ROOT, Tree};
use super::observe::Seen;

/// Why a recovered tree is not what the history allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What is wrong, in words.
    pub what: String,
}

fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::File { .. } => "a regular file",
        Kind::Dir(_) => "a directory",
        Kind::Symlink(_) => "a symbolic link",
    }
}

fn seen_kind(k: FileKind) -> &'static str {
    match k {
        FileKind::Regular => "a regular file",
        FileKind::Directory => "a directory",
        FileKind::Symlink => "a symbolic link",
        _ => "a special file",
    }
}

fn names(m: impl Iterator<Item = Vec<u8>>) -> String {
    let v: Vec<String> = m.map(|n| String::from_utf8_lossy(&n).into_owned()).collect();
    if v.is_empty() { "nothing".into() } else { v.join(", ") }
}

/// Matches `seen` against state `tree`: the metadata; returns the files to check the
/// content of (model inode, what was seen, path).
struct Matcher<'a> {
    tree: &'a Tree,
    by_id: HashMap<Id, Ino>,
    by_ino: HashMap<Ino, Id>,
    files: Vec<(Id, &'a Seen, String)>,
}

impl<'a> Matcher<'a> {
    fn node(&mut self, id: Id, seen: &'a Seen, path: &str) -> Result<(), String> {
        let node = &self.tree.nodes[&id];
        if *self.by_id.entry(id).or_insert(seen.ino) != seen.ino
            || *self.by_ino.entry(seen.ino).or_insert(id) != id
        {
            return Err(format!(
                "{path}: not the same inode as the other names the model gives it (or shares one it should not)"
            ));
        }
        let want = kind_name(&node.kind);
        if want != seen_kind(seen.kind) {
            return Err(format!("{path}: {} where the state has {want}", seen_kind(seen.kind)));
        }
        if node.nlink != seen.nlink {
            return Err(format!("{path}: link count {} where the state has {}", seen.nlink, node.nlink));
        }
        if node.xattrs != seen.xattrs {
            return Err(format!(
                "{path}: attributes {{{}}} where the state has {{{}}} (or other values)",
                names(seen.xattrs.keys().cloned()),
                names(node.xattrs.keys().cloned())
            ));
        }
        match &node.kind {
            Kind::File { data, .. } => {
                if data.len() as u64 != seen.size {
                    return Err(format!("{path}: size {} where the state has {}", seen.size, data.len()));
                }
                self.files.push((id, seen, path.to_string()));
            }
            Kind::Symlink(target) => {
                if *target != seen.target {
                    return Err(format!(
                        "{path}: points at `{}` where the state has `{}`",
                        String::from_utf8_lossy(&seen.target),
                        String::from_utf8_lossy(target)
                    ));
                }
            }
            Kind::Dir(entries) => {
                if entries.keys().ne(seen.entries.keys()) {
                    let extra = seen.entries.keys().filter(|n| !entries.contains_key(*n)).cloned();
                    let missing = entries.keys().filter(|n| !seen.entries.contains_key(*n)).cloned();
                    return Err(format!(
                        "{path}: holds {} it should not, lacks {}",
                        names(extra),
                        names(missing)
                    ));
                }
                for (name, &child) in entries {
                    let n = String::from_utf8_lossy(name);
                    let p = if path == "." { n.into_owned() } else { format!("{path}/{n}") };
                    self.node(child, &seen.entries[name], &p)?;
                }
            }
        }
        Ok(())
    }
}

/// The content versions of file `id` in states `from..=to` (consecutive duplicates once).
fn versions(history: &History, id: Id, from: usize, to: usize) -> Vec<Arc<Vec<u8>>> {
    let mut out: Vec<Arc<Vec<u8>>> = Vec::new();
    for s in &history.states[from..=to] {
        if let Some(Kind::File { data, .. }) = s.nodes.get(&id).map(|n| &n.kind)
            && !out.last().is_some_and(|l| Arc::ptr_eq(l, data) || l == data)
        {
            out.push(Arc::clone(data));
        }
    }
    out
}

/// Checks every byte of a file against the versions it may come from.
fn content(path: &str, seen: &[u8], versions: &[Arc<Vec<u8>>], from: usize) -> Result<(), String> {
    if versions.iter().any(|v| v.as_slice() == seen) {
        return Ok(());
    }
    for (i, &b) in seen.iter().enumerate() {
        let ok = versions.iter().any(|v| v.get(i).copied().unwrap_or(0) == b);
        if !ok {
            let held: Vec<String> =
                versions.iter().map(|v| format!("{:#04x}", v.get(i).copied().unwrap_or(0))).collect();
            return Err(format!(
                "{path}: byte {i} is {b:#04x}, which the file never held there since step {from} \
                 (it held {})",
                held.join(" or ")
            ));
        }
    }
    Ok(())
}

/// Whether `seen` is state `k` (metadata exactly, content within what `bounds` allow).
fn matches(history: &History, bounds: &Bounds, k: usize, seen: &Seen) -> Result<(), String> {
    let tree = &history.states[k];
    let mut m = Matcher { tree, by_id: HashMap::new(), by_ino: HashMap::new(), files: Vec::new() };
    m.node(ROOT, seen, ".")?;
    for (id, s, path) in std::mem::take(&mut m.files) {
        let from = bounds.oldest_data(id, k);
        let v = versions(history, id, from, bounds.highest.max(from));
        content(&path, &s.data, &v, from)?;
    }
    Ok(())
}

/// Checks a recovered tree against the history, for a crash whose bounds are `bounds`.
pub fn check(history: &History, bounds: &Bounds, seen: &Seen) -> Result<(), Verdict> {
    let mut misses = Vec::new();
    for k in bounds.lowest..=bounds.highest {
        match matches(history, bounds, k, seen) {
            Ok(()) => return Ok(()),
            Err(why) => misses.push((k, why)),
        }
    }
    let step = |k: usize| if k == 0 { "the starting tree".to_string() } else { format!("step {k}") };
    // The oldest and the newest state allowed, the newest first.
    misses.dedup_by(|b, a| a.1 == b.1);
    let shown: Vec<String> = misses
        .iter()
        .rev()
        .enumerate()
        .filter(|(i, _)| *i == 0 || *i + 1 == misses.len())
        .map(|(_, (k, why))| format!("vs {}: {why}", step(*k)))
        .collect();
    let mut what = format!(
        "the recovered tree is none of the states after {} .. {} ({})",
        step(bounds.lowest),
        step(bounds.highest),
        shown.join("; ")
    );
    if let Some(p) = bounds.covered_by {
        what += &format!("; step {p} `{}` had completed", history.steps[p - 1]);
        // Is it an older state: a persistence call's promise lost?
        let older = (0..bounds.lowest).rev().find(|&j| {
            let loose = Bounds { lowest: j, data_all: 0, data: Default::default(), ..bounds.clone() };
            matches(history, &loose, j, seen).is_ok()
        });
        if let Some(j) = older {
            what += &format!(", but the tree is {} (what it covered was lost)", step(j));
        }
    }
    Err(Verdict { what })
}
