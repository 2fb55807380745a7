//! What every fs test-support module shares (included by `#[path]`): whether a tool is
//! there, deterministic bytes, and a kernel mount that unmounts itself.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Whether `tool` runs (`tool -V` or `--version` does not matter: found on PATH).
pub fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

/// Deterministic test data: `len` bytes seeded by `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A loop mount, unmounted (and its loop device detached) on drop.
pub struct Mounted {
    pub mnt: PathBuf,
}

impl Mounted {
    /// A path inside the mount.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    /// Unmounts now, panicking on failure (drop only tries).
    pub fn unmount(self) {
        let status = Command::new("umount").arg(&self.mnt).status().expect("umount runs");
        assert!(status.success(), "umount {} failed: {status}", self.mnt.display());
        std::mem::forget(self);
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.mnt).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
    }
}
