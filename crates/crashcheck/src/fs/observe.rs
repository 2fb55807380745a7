//! What a recovered volume holds, read through the file system: every name from the root
//! down, with each inode's kind, link count, size, content, target and attributes.

use std::collections::BTreeMap;

use fs::Filesystem;
use fs::filesystem::{FileKind, Ino, ROOT};

/// One name's inode, and below a directory, its entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its inode number.
    pub ino: Ino,
    /// Its kind.
    pub kind: FileKind,
    /// Its link count.
    pub nlink: u32,
    /// Its size.
    pub size: u64,
    /// A regular file's bytes.
    pub data: Vec<u8>,
    /// A symbolic link's target.
    pub target: Vec<u8>,
    /// Extended attributes.
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// A directory's entries (`.` and `..` left out).
    pub entries: BTreeMap<Vec<u8>, Seen>,
}

/// Files larger than this are not read whole (the checker's workloads write far less).
const MAX_READ: u64 = 64 << 20;

/// Reads the whole tree; an error names the path that could not be read.
pub fn observe(fs: &Filesystem) -> Result<Seen, String> {
    let mut depth = 0;
    seen(fs, ROOT, ".", &mut depth)
}

fn seen(fs: &Filesystem, ino: Ino, path: &str, depth: &mut usize) -> Result<Seen, String> {
    let fail = |what: &str, e: fs::FsError| format!("{path}: {what}: {e}");
    let a = fs.getattr(ino).map_err(|e| fail("getattr", e))?;
    let mut s = Seen {
        ino,
        kind: a.kind,
        nlink: a.nlink,
        size: a.size,
        data: Vec::new(),
        target: Vec::new(),
        xattrs: BTreeMap::new(),
        entries: BTreeMap::new(),
    };
    for name in fs.listxattr(ino).map_err(|e| fail("listxattr", e))? {
        let value = fs.getxattr(ino, &name).map_err(|e| fail("getxattr", e))?;
        s.xattrs.insert(name, value);
    }
    match a.kind {
        FileKind::Regular => {
            if a.size > MAX_READ {
                return Err(format!("{path}: {} bytes, more than any workload writes", a.size));
            }
            let mut buf = vec![0; a.size as usize];
            let mut done = 0;
            while done < buf.len() {
                let n = fs.read(ino, done as u64, &mut buf[done..]).map_err(|e| fail("read", e))?;
                if n == 0 {
                    return Err(format!("{path}: read ends at {done} of {} bytes", a.size));
                }
                done += n;
            }
            s.data = buf;
        }
        FileKind::Symlink => s.target = fs.readlink(ino).map_err(|e| fail("readlink", e))?,
        FileKind::Directory => {
            *depth += 1;
            if *depth > 64 {
                return Err(format!("{path}: directories nested over 64 deep (a loop?)"));
            }
            let mut cookie = 0;
            loop {
                let batch = fs.readdir(ino, cookie).map_err(|e| fail("readdir", e))?;
                let Some(last) = batch.last() else { break };
                cookie = last.cookie;
                for entry in batch {
                    if entry.name == b"." || entry.name == b".." {
                        continue;
                    }
                    let name = String::from_utf8_lossy(&entry.name).into_owned();
                    let child = if path == "." { name } else { format!("{path}/{name}") };
                    let c = seen(fs, entry.ino, &child, depth)?;
                    if s.entries.insert(entry.name, c).is_some() {
                        return Err(format!("{child}: listed twice"));
                    }
                }
            }
            *depth -= 1;
        }
        _ => {}
    }
    Ok(s)
}
