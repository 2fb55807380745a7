//! Helpers for the write-path tests: fresh volumes (our mkfs on memory), a fixed clock,
//! `e2fsck -fn` that must say nothing but its pass headers, images on disk for the kernel.

#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use fs::filesystem::Timestamp;
use fs::mkfs::{MkfsOptions, mkfs};
use fs::{BlockDevice, Filesystem, MemoryDevice, MountOptions};

#[path = "../shared/mod.rs"]
mod shared;
pub use shared::pattern;

static TICK: AtomicI64 = AtomicI64::new(0);

/// A clock that moves a millisecond and a bit per reading, from 2026-01-01.
pub fn test_clock() -> Timestamp {
    let t = TICK.fetch_add(1, Ordering::Relaxed);
    Timestamp { secs: 1_767_225_600 + t / 1000, nanos: ((t % 1000) * 1_000_017 % 1_000_000_000) as u32 }
}

/// Mount options for tests (the test clock).
pub fn opts() -> MountOptions {
    MountOptions { clock: test_clock, ..MountOptions::default() }
}

/// A freshly formatted in-memory volume of `size` bytes.
pub fn fresh_device(size: u64, seed: u64) -> Arc<MemoryDevice> {
    let dev = Arc::new(MemoryDevice::new(size));
    let mut o = MkfsOptions::from_seed(seed);
    o.time = 1_767_225_600;
    mkfs(&*dev, &o).expect("mkfs");
    dev
}

/// Mounts `dev` with the test options.
pub fn mount(dev: &Arc<MemoryDevice>) -> Filesystem {
    Filesystem::mount(Arc::clone(dev) as Arc<dyn BlockDevice>, opts()).expect("mount")
}

/// Whether `tool` is installed.
pub fn have(tool: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().any(|d| Path::new(d).join(tool).exists())
}

/// `e2fsck -fn` on an image file: None if e2fsck is missing, else (exit code, output).
pub fn e2fsck_file(path: &Path) -> Option<(i32, String)> {
    if !have("e2fsck") {
        return None;
    }
    let out = Command::new("e2fsck").arg("-fn").arg(path).output().expect("run e2fsck");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some((out.status.code().unwrap_or(-1), text))
}

/// Lines of e2fsck output beyond the pass headers and the summary.
pub fn complaints(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            let summary = l.contains(" files (") && l.contains(" blocks");
            !(l.starts_with("Pass ") || summary)
        })
        .collect()
}

/// Asserts `e2fsck -fn` exits 0 and says nothing on the image at `path`.
pub fn assert_fsck_file(path: &Path, what: &str) {
    let Some((code, out)) = e2fsck_file(path) else {
        eprintln!("SKIP e2fsck ({what}): e2fsck not installed");
        return;
    };
    let c = complaints(&out);
    assert!(code == 0 && c.is_empty(), "{what}: e2fsck -fn exit {code}:\n{out}");
}

/// Asserts `e2fsck -fn` is clean on an in-memory image.
pub fn assert_fsck(dev: &MemoryDevice, what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("img");
    std::fs::write(&path, dev.image()).expect("write image");
    assert_fsck_file(&path, what);
}

/// Reads a whole file through the file system.
pub fn read_all(fs: &Filesystem, ino: u32) -> Vec<u8> {
    let size = fs.getattr(ino).expect("getattr").size as usize;
    let mut buf = vec![0u8; size];
    let n = fs.read(ino, 0, &mut buf).expect("read");
    buf.truncate(n);
    buf
}

/// Every entry of a directory (through readdir, resumed with cookies), "." and ".." left out.
pub fn list(fs: &Filesystem, dir: u32) -> Vec<(Vec<u8>, u32)> {
    let mut out = Vec::new();
    let mut cookie = 0;
    loop {
        let batch = fs.readdir(dir, cookie).expect("readdir");
        let Some(last) = batch.last() else { break };
        cookie = last.cookie;
        out.extend(batch.into_iter().filter(|e| e.name != b"." && e.name != b"..").map(|e| (e.name, e.ino)));
    }
    out
}

/// A loop mount, unmounted on drop.
pub struct LoopMount {
    pub dir: std::path::PathBuf,
}

impl LoopMount {
    /// Mounts image `img` at `dir` (`-o loop`, plus `ro` if asked), or None with a SKIP line.
    pub fn new(img: &Path, dir: &Path, ro: bool, test: &str) -> Option<LoopMount> {
        if !have("mount") || Command::new("id").arg("-u").output().map(|o| o.stdout != b"0\n").unwrap_or(true)
        {
            eprintln!("SKIP {test}: no mount, or not root");
            return None;
        }
        std::fs::create_dir_all(dir).expect("mkdir mount point");
        let opt = if ro { "loop,ro" } else { "loop" };
        let out = Command::new("mount").args(["-t", "ext4", "-o", opt]).arg(img).arg(dir).output();
        match out {
            Ok(o) if o.status.success() => Some(LoopMount { dir: dir.to_path_buf() }),
            Ok(o) => {
                eprintln!(
                    "SKIP {test}: mount -o {opt} refused: {}",
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

    /// A path inside the mount.
    pub fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.join(rel)
    }

    /// Unmounts now (panics if that fails).
    pub fn unmount(self) {
        let st = Command::new("umount").arg(&self.dir).status().expect("umount");
        assert!(st.success(), "umount failed");
        std::mem::forget(self);
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.dir).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// An image file of `size` bytes formatted by our mkfs.
pub fn our_image(path: &Path, size: u64, seed: u64) {
    let f = std::fs::File::create(path).expect("create image");
    f.set_len(size).expect("size image");
    drop(f);
    let dev = fs::FileDevice::open(path).expect("open image");
    let mut o = MkfsOptions::from_seed(seed);
    o.time = 1_767_225_600;
    o.inode_ratio = 4096;
    mkfs(&dev, &o).expect("mkfs");
}

/// Mounts an image file through our file system.
pub fn mount_file(path: &Path) -> Filesystem {
    let dev = fs::FileDevice::open(path).expect("open image");
    Filesystem::mount(Arc::new(dev) as Arc<dyn BlockDevice>, opts()).expect("mount")
}

/// `getfattr -n name --only-values path`, or None without the tool or the attribute.
pub fn getfattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let out = Command::new("getfattr")
        .args(["--absolute-names", "--only-values", "-n", name])
        .arg(path)
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// Runs a command and panics unless it succeeds.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
