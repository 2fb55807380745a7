//! What the driver tests share: kernel-made images (mkfs.ext4, a loop mount that is always
//! unmounted), the driver mounted over them through a read-only file disk, and the kernel's
//! own view of the tree (lstat, contents, `ls -a`) to compare with.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use disks::file::{FileDisk, FileDiskOptions};
use fs::driver::{FsDriver, MountError, MountOptions};
use irp::{DeviceRef, IoManager};

#[path = "../shared/mod.rs"]
mod shared;
pub use shared::{Mounted, have, pattern};

/// Runs a command, panicking with its output unless it succeeds; returns stdout.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A scratch image in its own directory (removed on drop).
pub struct Image {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

/// `mkfs.ext4 -q -F <args> img <size>` with a fixed UUID and hash seed, or `Err(reason)`.
pub fn mkfs_ext4(size: &str, args: &[&str]) -> Result<Image, String> {
    if !have("mkfs.ext4") {
        return Err("mkfs.ext4 is not installed".into());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fs.img");
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-U", "c0ffee00-1234-4321-8765-0123456789ab"])
        .args(["-E", "hash_seed=c0ffee00-1234-4321-8765-0123456789ab,lazy_itable_init=0"])
        .args(args)
        .arg(&path)
        .arg(size));
    Ok(Image { dir, path })
}

impl Image {
    /// Loop-mounts the image with `noatime` (reading the tree to record it must not change
    /// it), or `Err(reason)` when this machine cannot (not root, no loop devices).
    pub fn mount(&self) -> Result<Mounted, String> {
        if !have("mount") {
            return Err("mount is not installed".into());
        }
        let mnt = self.dir.path().join("mnt");
        std::fs::create_dir_all(&mnt).expect("mkdir mnt");
        let out = Command::new("mount")
            .args(["-t", "ext4", "-o", "loop,noatime"])
            .arg(&self.path)
            .arg(&mnt)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -o loop refused: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Mounted { mnt })
    }

    /// `e2fsck -fn` on the image: its exit code and output.
    pub fn e2fsck(&self) -> (i32, String) {
        let out = Command::new("e2fsck").arg("-fn").arg(&self.path).output().expect("e2fsck runs");
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }
}

/// The stack `fs / file(path=img,read-only=true)`, registered as "vol".
pub fn mount_driver(img: &Path) -> Result<(IoManager, DeviceRef), MountError> {
    let mut o = FileDiskOptions::new(img);
    o.read_only = true;
    let disk = FileDisk::create("file1", o).expect("the image opens");
    let top = FsDriver::attach("fs0", &disk, MountOptions::default())?;
    let io = IoManager::new();
    io.register("vol", &top).expect("register");
    Ok((io, top))
}

/// What the kernel says about one path (`lstat`, and what it holds).
#[derive(Debug, Clone)]
pub struct KernelView {
    pub meta: std::fs::Metadata,
    /// A regular file's bytes.
    pub data: Option<Vec<u8>>,
    /// A symbolic link's target.
    pub target: Option<Vec<u8>>,
    /// A directory's `ls -a` names, sorted.
    pub ls: Option<Vec<Vec<u8>>>,
}

/// The kernel's view of every path under `root` ("" for the root itself), through the mount.
pub fn kernel_tree(root: &Path) -> BTreeMap<String, KernelView> {
    let mut out = BTreeMap::new();
    let mut todo = vec![String::new()];
    while let Some(rel) = todo.pop() {
        let p = if rel.is_empty() { root.to_path_buf() } else { root.join(&rel) };
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let ft = meta.file_type();
        let mut view = KernelView { meta: meta.clone(), data: None, target: None, ls: None };
        if ft.is_file() {
            view.data = Some(std::fs::read(&p).unwrap());
        } else if ft.is_symlink() {
            use std::os::unix::ffi::OsStrExt;
            view.target = Some(std::fs::read_link(&p).unwrap().as_os_str().as_bytes().to_vec());
        } else if ft.is_dir() {
            let listing = run(Command::new("ls").arg("-a").arg("-1").arg(&p).env("LC_ALL", "C"));
            let mut names: Vec<Vec<u8>> =
                listing.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect();
            names.sort();
            for n in &names {
                if n != b"." && n != b".." {
                    let name = String::from_utf8(n.clone()).expect("test names are UTF-8");
                    todo.push(if rel.is_empty() { name } else { format!("{rel}/{name}") });
                }
            }
            view.ls = Some(names);
        }
        out.insert(rel, view);
    }
    out
}

/// `meta`'s (mode, nlink, uid, gid, size, blocks, ino) — the stat fields compared exactly.
pub fn stat_fields(meta: &std::fs::Metadata) -> (u32, u64, u32, u32, u64, u64, u64) {
    (meta.mode(), meta.nlink(), meta.uid(), meta.gid(), meta.size(), meta.blocks(), meta.ino())
}
