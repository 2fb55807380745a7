//! `e2fsck -fn`, the field's own checker, on an image: an independent oracle for a sample
//! of recovered volumes and for every failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use disks::crash::{OverlayImage, Sectors};

/// What e2fsck said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct E2fsckVerdict {
    /// Its exit code (0: clean; 4: errors left uncorrected; 8: could not check).
    pub code: i32,
    /// The lines beyond its pass headers and summary.
    pub complaints: Vec<String>,
}

impl E2fsckVerdict {
    /// Exit 0 and nothing to say.
    pub fn is_clean(&self) -> bool {
        self.code == 0 && self.complaints.is_empty()
    }
}

impl std::fmt::Display for E2fsckVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.code)?;
        for line in self.complaints.iter().take(6) {
            write!(f, "; {line}")?;
        }
        if self.complaints.len() > 6 {
            write!(f, "; ... ({} lines in all)", self.complaints.len())?;
        }
        Ok(())
    }
}

/// Where e2fsck is, if it is installed.
pub fn find() -> Option<PathBuf> {
    let dirs =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    dirs.into_iter()
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("e2fsck"))
        .find(|p| p.is_file())
}

/// What e2fsck -n says of a volume whose superblock still says `needs_recovery`: one our
/// replay recovered keeps the flag (with an empty journal) until it is mounted and unmounted
/// (a failing state may be given to e2fsck so). e2fsck goes on and checks everything.
const SKIPPING_RECOVERY: &str =
    "Warning: skipping journal recovery because doing a read-only filesystem check.";

/// Runs `e2fsck -fn` on the image file `path`.
pub fn check_file(e2fsck: &Path, path: &Path) -> Result<E2fsckVerdict, String> {
    let out = Command::new(e2fsck)
        .arg("-fn")
        .arg(path)
        .output()
        .map_err(|e| format!("running {}: {e}", e2fsck.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let complaints = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !(l.starts_with("Pass ") || (l.contains(" files (") && l.contains(" blocks"))))
        .filter(|l| *l != SKIPPING_RECOVERY)
        .map(str::to_string)
        .collect();
    Ok(E2fsckVerdict { code: out.status.code().unwrap_or(-1), complaints })
}

/// Writes `image` to `path`.
pub fn write_image(image: &OverlayImage, path: &Path) -> Result<(), String> {
    std::fs::write(path, image.to_vec()).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Runs `e2fsck -fn` on `image` (through a temporary file, removed after).
pub fn check_image(e2fsck: &Path, image: &OverlayImage) -> Result<E2fsckVerdict, String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "irpstack-crash-fs-{}-{}.img",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_image(image, &path).and_then(|()| check_file(e2fsck, &path));
    let _ = std::fs::remove_file(&path);
    result
}
