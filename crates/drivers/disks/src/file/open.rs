//! Opening the medium: the file or block device, its size and its sector size.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

use super::{FileDiskError, FileDiskOptions, geometry};
use crate::locking;

/// The sector size of a regular file opened without `O_DIRECT` (and the least one with).
const FILE_SECTOR_SIZE: u32 = 512;
/// The largest ring io_uring accepts (`IORING_MAX_ENTRIES`).
const MAX_QUEUE_DEPTH: u32 = 32768;

/// An open medium and what it looks like.
#[derive(Debug)]
pub(super) struct Opened {
    pub(super) file: File,
    pub(super) block_device: bool,
    /// The disk size: a whole number of sectors.
    pub(super) size: u64,
    pub(super) sector_size: u32,
    /// The buffer alignment direct I/O needs (1 without `O_DIRECT`).
    pub(super) alignment: usize,
}

fn invalid(options: &FileDiskOptions, problem: String) -> FileDiskError {
    FileDiskError::InvalidOption { path: options.path.clone(), problem }
}

/// Checks the options that do not need the medium.
pub(super) fn check_options(options: &FileDiskOptions) -> Result<(), FileDiskError> {
    if options.threads == 0 {
        return Err(invalid(options, "threads must be at least 1".into()));
    }
    if options.queue_depth == 0 || options.queue_depth > MAX_QUEUE_DEPTH {
        let depth = options.queue_depth;
        return Err(invalid(options, format!("queue_depth {depth} is not in 1..={MAX_QUEUE_DEPTH}")));
    }
    if options.size == Some(0) {
        return Err(invalid(options, "size must not be 0".into()));
    }
    Ok(())
}

/// Opens (or creates) the medium `options` describe.
pub(super) fn open(options: &FileDiskOptions) -> Result<Opened, FileDiskError> {
    check_options(options)?;
    let path = &options.path;
    let exists = match std::fs::metadata(path) {
        Ok(_) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(source) => return Err(FileDiskError::Open { path: path.clone(), source }),
    };
    if !exists && (options.size.is_none() || options.read_only) {
        return Err(FileDiskError::Missing { path: path.clone() });
    }
    let mut open = OpenOptions::new();
    open.read(true).write(!options.read_only).create(!exists);
    if options.direct {
        open.custom_flags(libc::O_DIRECT);
    }
    let file = open.open(path).map_err(|source| {
        if options.direct && source.raw_os_error() == Some(libc::EINVAL) {
            FileDiskError::DirectUnsupported { path: path.clone(), source }
        } else {
            FileDiskError::Open { path: path.clone(), source }
        }
    })?;
    // Before anything is read or changed (the size): the image may be someone else's.
    let mode = if options.read_only { locking::Mode::Read } else { locking::Mode::Write };
    locking::lock(&file, path, mode, options.locking)?;
    let query = |what, source| FileDiskError::Query { path: path.clone(), what, source };
    let meta = file.metadata().map_err(|e| query("metadata", e))?;
    let kind = meta.file_type();
    let block_device = kind.is_block_device();
    if !block_device && !kind.is_file() {
        let kind = if kind.is_dir() {
            "directory"
        } else if kind.is_char_device() {
            "character device"
        } else if kind.is_fifo() {
            "FIFO"
        } else if kind.is_socket() {
            "socket"
        } else {
            "special file"
        };
        return Err(FileDiskError::NotADisk { path: path.clone(), kind });
    }

    let (sector_size, mut alignment) = if block_device {
        let sector = geometry::block_device_sector_size(file.as_fd()).map_err(|e| query("sector size", e))?;
        (sector.max(FILE_SECTOR_SIZE), sector as usize)
    } else {
        (FILE_SECTOR_SIZE, FILE_SECTOR_SIZE as usize)
    };
    let mut sector_size = sector_size;
    if options.direct {
        if let Some((mem, offset)) = geometry::dio_alignment(file.as_fd()) {
            sector_size = sector_size.max(offset);
            alignment = alignment.max(mem as usize);
        }
        alignment = alignment.max(sector_size as usize);
    } else {
        alignment = 1;
    }
    if !sector_size.is_power_of_two() {
        return Err(query("sector size", io::Error::other(format!("{sector_size} is not a power of two"))));
    }
    let sector = u64::from(sector_size);
    if let Some(size) = options.size
        && size % sector != 0
    {
        return Err(FileDiskError::SizeNotAligned { path: path.clone(), size, sector_size });
    }

    let available = if block_device {
        geometry::block_device_size(file.as_fd()).map_err(|e| query("size", e))?
    } else {
        meta.len()
    };
    let size = match options.size {
        Some(size) if size <= available => size,
        Some(size) if block_device || options.read_only => {
            let why = if block_device { "it is a block device" } else { "the disk is read-only" };
            return Err(FileDiskError::TooSmall { path: path.clone(), size, available, why });
        }
        Some(size) => {
            // Sparse: ftruncate allocates nothing.
            file.set_len(size).map_err(|source| FileDiskError::Extend {
                path: path.clone(),
                size,
                source,
            })?;
            size
        }
        None => {
            let size = available - available % sector;
            if size != available {
                tracing::warn!(
                    path = %path.display(),
                    available,
                    size,
                    "disk file is not a whole number of sectors; the tail is not part of the disk"
                );
            }
            if size == 0 {
                let why = "give a size to extend it";
                return Err(FileDiskError::TooSmall { path: path.clone(), size: sector, available, why });
            }
            size
        }
    };
    Ok(Opened { file, block_device, size, sector_size, alignment })
}
