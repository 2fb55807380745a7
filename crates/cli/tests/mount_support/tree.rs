//! A tree as a program sees it through a file system: every path's kind, mode bits, owner,
//! size, links, device number, contents, link target, entries and xattrs.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What one path holds, as seen through a mount or on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub kind: u32,
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: Option<u64>,
    pub nlink: Option<u64>,
    pub rdev: u64,
    pub data: Option<Vec<u8>>,
    pub target: Option<Vec<u8>>,
    pub names: Option<BTreeSet<Vec<u8>>>,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

pub fn xattrs_of(p: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut names = vec![0u8; 65536];
    // SAFETY: `c` is a NUL-terminated path; the buffer has the length passed.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    assert!(n >= 0, "llistxattr {}: {}", p.display(), std::io::Error::last_os_error());
    names.truncate(n as usize);
    let mut out = BTreeMap::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cname = CString::new(name).unwrap();
        let mut value = vec![0u8; 65536];
        // SAFETY: both strings are NUL-terminated; the buffer has the length passed.
        let len =
            unsafe { libc::lgetxattr(c.as_ptr(), cname.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        assert!(len >= 0, "lgetxattr {} {:?}: {}", p.display(), cname, std::io::Error::last_os_error());
        value.truncate(len as usize);
        out.insert(name.to_vec(), value);
    }
    out
}

/// A file's bytes, or for one over 1 MiB its length and a digest of them (read a piece at a
/// time: a large sparse file is not held in memory).
fn contents(p: &Path, len: u64) -> Vec<u8> {
    use std::hash::Hasher;
    use std::io::Read;
    if len <= 1 << 20 {
        return std::fs::read(p).unwrap();
    }
    let mut f = std::fs::File::open(p).unwrap();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.write(&buf[..n]);
        total += n as u64;
    }
    let mut out = b"digest:".to_vec();
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&h.finish().to_le_bytes());
    out
}

/// Every path under `root` ("" is the root), read through the file system.
pub fn tree(root: &Path, sizes_of_dirs: bool) -> BTreeMap<String, View> {
    let mut out = BTreeMap::new();
    let mut todo = vec![String::new()];
    while let Some(rel) = todo.pop() {
        let p = if rel.is_empty() { root.to_owned() } else { root.join(&rel) };
        let m = std::fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let mut v = View {
            kind: m.mode() & 0o170000,
            perm: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            size: (!ft.is_dir() || sizes_of_dirs).then_some(m.size()),
            nlink: (!ft.is_dir() || sizes_of_dirs).then_some(m.nlink()),
            rdev: m.rdev(),
            data: None,
            target: None,
            names: None,
            xattrs: xattrs_of(&p),
        };
        if ft.is_file() {
            v.data = Some(contents(&p, m.len()));
        } else if ft.is_symlink() {
            v.target = Some(std::fs::read_link(&p).unwrap().as_os_str().as_bytes().to_vec());
        } else if ft.is_dir() {
            let mut names = BTreeSet::new();
            for e in std::fs::read_dir(&p).unwrap() {
                let name = e.unwrap().file_name();
                let s = name.to_str().expect("test names are UTF-8").to_owned();
                todo.push(if rel.is_empty() { s } else { format!("{rel}/{s}") });
                names.insert(name.as_bytes().to_vec());
            }
            v.names = Some(names);
        }
        out.insert(rel, v);
    }
    out
}

/// The differences between two trees (paths missing on either side, and for paths in
/// both the fields that differ), empty when they are the same.
pub fn differences(a: &BTreeMap<String, View>, b: &BTreeMap<String, View>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, va) in a {
        let Some(vb) = b.get(path) else {
            out.push(format!("{path:?}: only in the first"));
            continue;
        };
        let mut fields = Vec::new();
        let mut field = |name: &str, differs: bool, shown: String| {
            if differs {
                fields.push(format!("{name} {shown}"));
            }
        };
        field("kind", va.kind != vb.kind, format!("{:o} != {:o}", va.kind, vb.kind));
        field("perm", va.perm != vb.perm, format!("{:o} != {:o}", va.perm, vb.perm));
        field(
            "owner",
            (va.uid, va.gid) != (vb.uid, vb.gid),
            format!("{}:{} != {}:{}", va.uid, va.gid, vb.uid, vb.gid),
        );
        field("size", va.size != vb.size, format!("{:?} != {:?}", va.size, vb.size));
        field("nlink", va.nlink != vb.nlink, format!("{:?} != {:?}", va.nlink, vb.nlink));
        field("rdev", va.rdev != vb.rdev, format!("{} != {}", va.rdev, vb.rdev));
        field("contents", va.data != vb.data, String::new());
        field("target", va.target != vb.target, format!("{:?} != {:?}", va.target, vb.target));
        if let (Some(na), Some(nb)) = (&va.names, &vb.names) {
            let only_a: Vec<String> =
                na.difference(nb).map(|n| String::from_utf8_lossy(n).into_owned()).collect();
            let only_b: Vec<String> =
                nb.difference(na).map(|n| String::from_utf8_lossy(n).into_owned()).collect();
            field(
                "entries",
                na != nb,
                format!("only in the first {only_a:?}, only in the second {only_b:?}"),
            );
        }
        let names = |x: &BTreeMap<Vec<u8>, Vec<u8>>| {
            x.keys().map(|k| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>()
        };
        field(
            "xattrs",
            va.xattrs != vb.xattrs,
            format!("{:?} != {:?}", names(&va.xattrs), names(&vb.xattrs)),
        );
        if !fields.is_empty() {
            out.push(format!("{path:?}: {}", fields.join("; ")));
        }
    }
    out.extend(b.keys().filter(|p| !a.contains_key(*p)).map(|p| format!("{p:?}: only in the second")));
    out
}
