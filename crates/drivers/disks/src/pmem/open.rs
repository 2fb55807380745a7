//! Opening the file: create or extend it, work out the disk size, and map it with the
//! synchronisation mode asked for.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;

use super::map::{MapKind, Mapping, is_map_sync_unsupported};
use super::{PmemDiskOptions, PmemError, SECTOR_SIZE, SyncMode};
use crate::locking;

/// Opens (or creates) the file `options` name, locks it and maps the disk's bytes; the
/// file comes back too: it holds the lock.
pub(super) fn open(options: &PmemDiskOptions) -> Result<(Mapping, File), PmemError> {
    let path = &options.path;
    let sector = u64::from(SECTOR_SIZE);
    if let Some(size) = options.size
        && (size == 0 || size % sector != 0)
    {
        return Err(PmemError::SizeNotAligned { path: path.clone(), size, sector_size: SECTOR_SIZE });
    }
    let exists = match std::fs::metadata(path) {
        // Checked before opening too: a directory cannot even be opened for writing.
        Ok(meta) => check_kind(options, meta.file_type()).map(|()| true)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(source) => return Err(PmemError::Open { path: path.clone(), source }),
    };
    if !exists && options.size.is_none() {
        return Err(PmemError::Missing { path: path.clone() });
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(!exists)
        .open(path)
        .map_err(|source| PmemError::Open { path: path.clone(), source })?;
    // Before the size is read or changed: the image may be someone else's.
    locking::lock(&file, path, locking::Mode::Write, options.locking)?;
    let meta = file.metadata().map_err(|source| PmemError::Metadata { path: path.clone(), source })?;
    check_kind(options, meta.file_type())?;

    let len = meta.len();
    let size = match options.size {
        Some(size) => {
            if size > len {
                // Sparse: ftruncate allocates nothing.
                file.set_len(size).map_err(|source| PmemError::Extend {
                    path: path.clone(),
                    what: "extend",
                    size,
                    source,
                })?;
            }
            size
        }
        None => {
            let size = len - len % sector;
            if size == 0 {
                return Err(PmemError::Empty { path: path.clone(), len, sector_size: SECTOR_SIZE });
            }
            if size != len {
                tracing::warn!(
                    path = %path.display(), len, size,
                    "pmem file is not a whole number of sectors; the tail is not part of the disk"
                );
            }
            size
        }
    };
    if options.preallocate {
        preallocate(&file, size).map_err(|source| PmemError::Extend {
            path: path.clone(),
            what: "preallocate",
            size,
            source,
        })?;
    }
    let len = usize::try_from(size)
        .ok()
        .filter(|&l| l <= isize::MAX as usize)
        .ok_or_else(|| PmemError::TooLarge { path: path.clone(), size })?;
    Ok((map(&file, len, options)?, file))
}

/// Only regular files are disks here (device DAX and block devices are not supported yet).
fn check_kind(options: &PmemDiskOptions, kind: std::fs::FileType) -> Result<(), PmemError> {
    if kind.is_file() {
        return Ok(());
    }
    let kind = if kind.is_dir() {
        "directory"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_char_device() {
        "character device"
    } else {
        "special file"
    };
    Err(PmemError::NotAFile { path: options.path.clone(), kind })
}

/// Allocates the file's blocks up to `size` (`posix_fallocate`), so that a store into a
/// hole can never meet a full file system — which, through a mapping, is a `SIGBUS`.
fn preallocate(file: &File, size: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: `file` is borrowed, so its descriptor is open for the call; the call only
    // allocates blocks of the file.
    let r = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    if r != 0 { Err(io::Error::from_raw_os_error(r)) } else { Ok(()) }
}

/// Maps `len` bytes of `file` as `options.sync` asks: `auto` tries `MAP_SYNC` and falls
/// back to a plain shared mapping where the file system cannot do it.
fn map(file: &File, len: usize, options: &PmemDiskOptions) -> Result<Mapping, PmemError> {
    let path = &options.path;
    let map_err = |source| PmemError::Map { path: path.clone(), size: len as u64, source };
    match options.sync {
        SyncMode::Msync => Mapping::new(file, len, MapKind::Shared).map_err(map_err),
        SyncMode::MapSync => Mapping::new(file, len, MapKind::Sync).map_err(|source| {
            if is_map_sync_unsupported(&source) {
                PmemError::MapSyncUnsupported { path: path.clone(), source }
            } else {
                map_err(source)
            }
        }),
        SyncMode::Auto => match Mapping::new(file, len, MapKind::Sync) {
            Ok(mapping) => Ok(mapping),
            Err(e) if is_map_sync_unsupported(&e) => {
                tracing::debug!(
                    path = %path.display(), error = %e,
                    "MAP_SYNC refused (not DAX); mapping MAP_SHARED, flushes use msync"
                );
                Mapping::new(file, len, MapKind::Shared).map_err(map_err)
            }
            Err(e) => Err(map_err(e)),
        },
    }
}
