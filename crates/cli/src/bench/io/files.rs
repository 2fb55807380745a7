//! Files and buffers the I/O benchmarks use: a scratch directory, `O_DIRECT` files,
//! patterned page-aligned buffers and a seeded random number generator.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use irp::IoBuffer;

/// Seed of the random offsets and patterns.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// A page-aligned buffer (fit for `O_DIRECT`) holding a non-zero pattern.
pub(crate) fn pattern_buffer(len: usize, seed: u64) -> anyhow::Result<IoBuffer> {
    let mut buf = IoBuffer::new(len).map_err(|e| anyhow!("cannot allocate a {len}-byte buffer: {e}"))?;
    let mut rng = XorShift::new(seed.wrapping_add(1));
    for chunk in buf.as_mut_slice().chunks_mut(8) {
        let bytes = rng.next().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    Ok(buf)
}

/// Writes all of `path` once, 1 MiB at a time with `O_DIRECT`, and syncs it.
pub(super) fn fill_image(path: &Path, size: u64) -> anyhow::Result<()> {
    let file = open_direct(path)?;
    let buf = pattern_buffer(1 << 20, 0)?;
    let mut offset = 0;
    while offset < size {
        let n = (size - offset).min(1 << 20) as usize;
        file.write_all_at(&buf.as_slice()[..n], offset)
            .with_context(|| format!("cannot fill {} at {offset}", path.display()))?;
        offset += n as u64;
    }
    file.sync_data().with_context(|| format!("cannot sync {}", path.display()))
}

/// `O_DIRECT` from the Linux uapi headers (the CLI does not depend on `libc`): most
/// architectures use asm-generic's value; these four define their own.
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
const O_DIRECT: i32 = 0o200_000;
#[cfg(any(target_arch = "powerpc", target_arch = "powerpc64"))]
const O_DIRECT: i32 = 0o400_000;
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const O_DIRECT: i32 = 0o100_000;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const O_DIRECT: i32 = 0x10_0000;
#[cfg(not(any(
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
const O_DIRECT: i32 = 0o40_000;

/// Opens an existing file for writing with `O_DIRECT`.
pub(crate) fn open_direct(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(O_DIRECT)
        .open(path)
        .with_context(|| format!("cannot open {} with O_DIRECT", path.display()))
}

/// xorshift64: fast, seeded, good enough to spread offsets.
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator for `stream` (never the all-zero state xorshift cannot leave).
    pub(crate) fn new(stream: u64) -> XorShift {
        XorShift((SEED ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93)) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// A fresh directory for a benchmark's files, removed with everything in it when dropped.
#[derive(Debug)]
pub(crate) struct BenchDir(PathBuf);

impl BenchDir {
    /// A new directory under `parent`, or under `./target` if it exists, else the system's
    /// temporary directory.
    pub(crate) fn create(parent: Option<&Path>) -> anyhow::Result<BenchDir> {
        let parent = match parent {
            Some(parent) => parent.to_owned(),
            None => match std::env::current_dir().map(|d| d.join("target")) {
                Ok(target) if target.is_dir() => target,
                _ => std::env::temp_dir(),
            },
        };
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let path = parent.join(format!("irpstack-bench-{}-{nanos:x}-{attempt}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(BenchDir(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot create a bench directory in {}", parent.display()));
                }
            }
        }
        bail!("cannot create a bench directory in {}: names taken", parent.display())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!("cannot remove the bench directory {}: {e}", self.0.display());
        }
    }
}
