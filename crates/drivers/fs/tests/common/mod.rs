//! Helpers for tests against the real tools: images made by mkfs.ext4, populated by
//! debugfs or through a kernel loop mount (always unmounted by a guard), and a bounded
//! walk of a whole volume through our read path.

#![allow(dead_code)] // each test binary uses a different part

pub mod reencode;
pub mod sample;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use fs::MemoryDevice;
use fs::ondisk::dirent::FileType;
use fs::ondisk::inode::ROOT_INO;
use fs::volume::{Result, Volume};

#[path = "../shared/mod.rs"]
mod shared;
pub use shared::{Mounted, have, pattern};

/// Runs a command, panicking with its output if it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scratch image file in its own temporary directory.
pub struct Image {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

/// `mkfs.ext4 -q -F <args> img <size>`, or None (with a SKIP line) without mkfs.ext4.
pub fn mkfs(test: &str, size: &str, args: &[&str]) -> Option<Image> {
    if !have("mkfs.ext4") {
        eprintln!("SKIP {test}: mkfs.ext4 not installed");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fs.img");
    run(Command::new("mkfs.ext4").arg("-q").arg("-F").args(args).arg(&path).arg(size));
    Some(Image { dir, path })
}

impl Image {
    /// `debugfs -w -R <cmd>` on the image (panics on failure).
    pub fn debugfs_w(&self, cmd: &str) -> String {
        run(Command::new("debugfs").arg("-w").arg("-R").arg(cmd).arg(&self.path))
    }

    /// `debugfs -R <cmd>` (read-only).
    pub fn debugfs(&self, cmd: &str) -> String {
        run(Command::new("debugfs").arg("-R").arg(cmd).arg(&self.path))
    }

    /// The image in memory.
    pub fn device(&self) -> MemoryDevice {
        MemoryDevice::from_image(std::fs::read(&self.path).expect("read image"))
    }

    /// `e2fsck -fn`: panics unless clean.
    pub fn fsck_clean(&self) {
        if have("e2fsck") {
            run(Command::new("e2fsck").arg("-fn").arg(&self.path));
        }
    }

    /// Loop-mounts the image, or None (with a SKIP line) if that is refused.
    pub fn mount(&self, test: &str) -> Option<Mounted> {
        let mnt = self.dir.path().join("mnt");
        std::fs::create_dir_all(&mnt).expect("mkdir mnt");
        let out = Command::new("mount").arg("-o").arg("loop").arg(&self.path).arg(&mnt).output();
        match out {
            Ok(o) if o.status.success() => Some(Mounted { mnt }),
            Ok(o) => {
                eprintln!(
                    "SKIP {test}: mount -o loop refused: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIP {test}: cannot run mount: {e}");
                None
            }
        }
    }
}

/// What the walk found at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A regular file: its data (at most the walk's byte limit of it).
    File(Vec<u8>),
    /// A directory: its entry names ("." and ".." left out).
    Dir(BTreeSet<Vec<u8>>),
    /// A symbolic link's target.
    Symlink(Vec<u8>),
    /// Anything else, by type.
    Other(FileType),
}

/// One walked inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walked {
    pub ino: u32,
    pub node: Node,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Walks the whole tree from the root through `vol`: every directory listed, every file
/// read (up to `file_limit` bytes), every symlink read, every xattr listed. Directories
/// are entered once each (hostile images may have cycles). Paths are "/"-joined.
pub fn walk<D: fs::BlockDevice>(vol: &Volume<D>, file_limit: u64) -> Result<BTreeMap<Vec<u8>, Walked>> {
    let mut out = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![(b"/".to_vec(), ROOT_INO)];
    while let Some((path, ino)) = stack.pop() {
        let inode = vol.read_inode(ino)?;
        let xattrs = vol.xattrs(ino, &inode)?;
        let node = if inode.is_dir() {
            if !seen.insert(ino) {
                continue;
            }
            let mut names = BTreeSet::new();
            for e in vol.read_dir(ino)? {
                if e.name == b"." || e.name == b".." {
                    continue;
                }
                let mut child = path.clone();
                if child != b"/" {
                    child.push(b'/');
                }
                child.extend_from_slice(&e.name);
                stack.push((child, e.inode));
                names.insert(e.name);
            }
            Node::Dir(names)
        } else if inode.is_regular() {
            let len = inode.size.min(file_limit) as usize;
            let mut data = vec![0u8; len];
            let n = vol.read_at(ino, &inode, 0, &mut data)?;
            data.truncate(n);
            Node::File(data)
        } else if inode.is_symlink() {
            Node::Symlink(vol.read_link_inode(ino, &inode)?)
        } else {
            Node::Other(FileType::from_mode(inode.mode))
        };
        out.insert(path, Walked { ino, node, xattrs });
    }
    Ok(out)
}

/// Writes `data` to a host file (for debugfs `write`).
pub fn host_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write host file");
    p
}
