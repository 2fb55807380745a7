//! The volume: `statfs` (`IRP_MJ_QUERY_VOLUME_INFORMATION`) and the sync control.
//!
//! The kernel sends no `syncfs` to a plain FUSE mount (only `fuseblk` and virtiofs mounts
//! get `FUSE_SYNCFS`), so `sync(1)` and `syncfs(2)` write back the kernel's page cache and
//! stop there. [`sync_mount`] (`irpstack sync MOUNTPOINT`) does that and then asks the front
//! end, by an `ioctl` on the mount's root directory ([`SYNC_IOCTL`]), to flush the volume:
//! `IRP_MJ_FLUSH_BUFFERS` on the volume handle — every file's data, a full journal commit,
//! and the device's flush.

use std::os::fd::AsRawFd;
use std::path::Path;

use fuser::Errno;
use irp::file::VolumeStat;

use crate::errno::{self, Op};
use crate::filesystem::IrpFs;

/// `_IOR('i', 0x51, u64)`: flush the volume; the answer is [`SYNC_MAGIC`], which tells an
/// irpstack mount from anything else that might know the number.
pub const SYNC_IOCTL: u32 = (2 << 30) | (8 << 16) | ((b'i' as u32) << 8) | 0x51;
/// What [`SYNC_IOCTL`] answers.
pub const SYNC_MAGIC: u64 = u64::from_le_bytes(*b"irpsync1");

impl IrpFs {
    /// `statfs`.
    pub(crate) fn volume_stat(&self) -> Result<VolumeStat, Errno> {
        self.volume_handle.query_volume_stat().map_err(errno::of)
    }

    /// The sync control: a flush of the volume.
    pub(crate) fn sync_volume(&self) -> Result<(), Errno> {
        if self.read_only {
            return Ok(());
        }
        self.volume_handle.flush_buffers().map_err(|s| errno::errno(s, Op::Sync))
    }
}

/// Why [`sync_mount`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The mount point could not be opened or synced.
    #[error("{path}: {source}")]
    Io {
        /// The mount point.
        path: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The directory is not the root of an irpstack mount.
    #[error("{path} is not an irpstack mount (no answer to the sync control)")]
    NotIrpstack {
        /// The path.
        path: String,
    },
    /// The volume's flush failed.
    #[error("{path}: flushing the volume failed: {source}")]
    Flush {
        /// The mount point.
        path: String,
        /// The error the flush answered.
        #[source]
        source: std::io::Error,
    },
}

/// Writes back the kernel's cached data of the mount at `path` (`syncfs`), then flushes the
/// volume through the front end's sync control: when it returns `Ok`, everything written
/// on the mount before the call is on stable storage.
pub fn sync_mount(path: &Path) -> Result<(), SyncError> {
    let shown = path.display().to_string();
    let io = |source| SyncError::Io { path: shown.clone(), source };
    let dir = std::fs::File::open(path).map_err(io)?;
    let fd = dir.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `dir`, alive for the call.
    if unsafe { libc::syncfs(fd) } != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    let mut answer: u64 = 0;
    // SAFETY: the request is `_IOR(.., u64)`: the kernel writes at most 8 bytes through the
    // pointer, which points to `answer`, a live u64.
    let rc = unsafe { libc::ioctl(fd, SYNC_IOCTL as _, &mut answer as *mut u64) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ENOTTY | libc::EINVAL | libc::ENOSYS) => SyncError::NotIrpstack { path: shown },
            _ => SyncError::Flush { path: shown, source: e },
        });
    }
    if answer != SYNC_MAGIC {
        return Err(SyncError::NotIrpstack { path: shown });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_control_is_a_read_of_eight_bytes() {
        // _IOC_DIR (bits 30-31) = _IOC_READ, _IOC_SIZE (bits 16-29) = 8, type 'i', nr 0x51.
        assert_eq!(SYNC_IOCTL >> 30, 2);
        assert_eq!((SYNC_IOCTL >> 16) & 0x3fff, 8);
        assert_eq!((SYNC_IOCTL >> 8) & 0xff, u32::from(b'i'));
        assert_eq!(SYNC_IOCTL & 0xff, 0x51);
    }

    #[test]
    fn a_plain_directory_is_not_an_irpstack_mount() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(sync_mount(dir.path()), Err(SyncError::NotIrpstack { .. })));
        assert!(matches!(sync_mount(&dir.path().join("missing")), Err(SyncError::Io { .. })));
    }
}
