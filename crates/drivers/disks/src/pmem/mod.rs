//! `pmem`: a disk kept in a memory-mapped file — persistent memory when the file is on a DAX
//! file system, the page cache otherwise — read and written with CPU loads and stores, made
//! durable the way libpmem does it.
//!
//! | request | what happens |
//! |---|---|
//! | Read | copy from the mapping into the IRP's MDL, then `flush_io_buffers(mdl, FromDevice, Pio)` (the CPU did the transfer: NT's rule after a PIO read; nothing on x86-64) |
//! | Write | copy the MDL's bytes into the mapping, write the lines back (CLWB > CLFLUSHOPT > CLFLUSH, `pmem_flush`); with `MAP_SYNC` also drain (SFENCE) |
//! | Write + ForceUnitAccess | as Write, then drain, and without `MAP_SYNC` `msync(MS_SYNC)` its pages |
//! | Discard, WriteZeroes | zero the range in the mapping (pages already zero — holes — are left alone, so nothing is allocated), then as Write (+FUA) |
//! | FlushBuffers (device sync), Shutdown | drain; without `MAP_SYNC`, one `msync` over the span written since the last flush (none if nothing was) |
//! | FlushBuffers (no device sync) | drain |
//!
//! **Two mappings, as libpmem decides between `pmem_persist` and `pmem_msync`.** With
//! `MAP_SHARED_VALIDATE | MAP_SYNC` (a DAX file system) the kernel makes the file's metadata
//! durable before a page can be written through the mapping, so data is persistent once its
//! cache lines are written back and drained. Every write is then drained before it
//! completes and the disk has no volatile cache ([`DiskInfo::volatile_cache`] is false).
//! (Draining in the flush alone would not do: SFENCE orders only the write-backs of the
//! thread that executes it, and a flush may run on another thread than the writes.) On
//! any other file (ext4 or XFS without DAX, tmpfs) `mmap` refuses `MAP_SYNC` (`EOPNOTSUPP`)
//! and the file is mapped `MAP_SHARED`: stores land in the page cache, and only `msync`
//! makes them durable, so the disk reports a volatile cache (`Characteristics::VOLATILE_CACHE`)
//! and a flush `msync`s what was written. `sync=auto` (the default) tries `MAP_SYNC` and
//! falls back; [`PmemDisk::is_map_sync`] says which one it got.
//!
//! **Why not `KeFlushIoBuffers` itself.** [`irp::cpu_cache::flush_io_buffers`] with
//! [`irp::cpu_cache::Transfer::Persistent`] writes back and drains the lines of *one MDL* — exactly
//! what this driver must do to the persistent memory a write stored into. But here the
//! persistent memory is the mapping, not the IRP's buffer: the MDL is the DRAM source of the
//! copy, and an [`irp::Mdl`] owns its memory, so none can describe the mapping. The driver
//! therefore does the same work on the destination range itself — [`irp::cpu_cache::flush_range`]
//! with [`irp::cpu_cache::persistence_method`] (what [`irp::cpu_cache::write_back`] does, but through
//! a raw pointer: see `map.rs` on why no slice of the mapping is ever made) followed by
//! [`irp::cpu_cache::drain`] — which is `flush_io_buffers(…, Transfer::Persistent)` for memory
//! without an MDL, i.e. `pmem_persist`. Flushing the source MDL would write back the wrong
//! lines.
//!
//! **Concurrency.** Requests run in the dispatch routine on the caller's thread and take no
//! lock: reads and writes of different ranges proceed in parallel. Written chunks are
//! recorded in a lock-free bitmap (`dirty.rs`); flushes serialise among themselves on a
//! mutex, so a flush never completes while another one is still `msync`ing a write the
//! later flush covers.
//!
//! **Errors.** A failed `msync` is sticky (`sticky.rs`): every later flush and
//! ForceUnitAccess write fails with it until the disk is reopened.
//!
//! **Hazards of any mapped file.** A store into a hole of a sparse file on a full file
//! system, or any access after the file was truncated behind the disk's back, raises
//! `SIGBUS`. Create the file with `preallocate` to rule out the first.
//!
//! **Drop order.** Dropping the disk drains and (without `MAP_SYNC`) `msync`s the whole
//! mapping, logging a failure; then the fields drop and the mapping is unmapped. The file
//! descriptor stays open as long as the disk: it holds the image lock, exclusive
//! ([`crate::locking`]; `locking=off` takes none).

mod dirty;
mod error;
mod map;
mod open;
/// The errno of a failed `msync`, as the sticky error records it.
fn errno_of(result: std::io::Result<()>) -> Result<(), i32> {
    result.map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use irp::cpu_cache::drain;
use irp::cpu_cache::{Direction, Transfer, flush_io_buffers};
use irp::{Characteristics, DeviceBuilder, DeviceRef, Irp, Mdl, Status};

use self::dirty::DirtyChunks;
pub use self::error::PmemError;
use self::map::{MapKind, Mapping};
use crate::locking::Locking;
use crate::sticky::StickyError;
use irp::block::{BlockDisk, BlockRequest, DiskDriver, DiskInfo};

/// The logical sector size of a `pmem` disk.
pub const SECTOR_SIZE: u32 = 512;

/// How a `pmem` disk makes writes durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SyncMode {
    /// `MAP_SYNC` where the file system allows it, else `msync`.
    #[default]
    Auto,
    /// Always a plain `MAP_SHARED` mapping and `msync` (`pmem_msync`).
    Msync,
    /// `MAP_SYNC` or fail to open: cache write-back and drain only (`pmem_persist`).
    MapSync,
}

impl std::str::FromStr for SyncMode {
    type Err = String;
    fn from_str(s: &str) -> Result<SyncMode, String> {
        match s {
            "auto" => Ok(SyncMode::Auto),
            "msync" => Ok(SyncMode::Msync),
            "map-sync" | "map_sync" => Ok(SyncMode::MapSync),
            _ => Err(format!("unknown pmem sync mode {s:?} (expected auto, msync or map-sync)")),
        }
    }
}

impl std::fmt::Display for SyncMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SyncMode::Auto => "auto",
            SyncMode::Msync => "msync",
            SyncMode::MapSync => "map-sync",
        })
    }
}

/// How to open a `pmem` disk. Start from [`PmemDiskOptions::new`] and set fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PmemDiskOptions {
    /// The file.
    pub path: PathBuf,
    /// Create the file, or extend it (sparse), to this size, a whole number of sectors; the
    /// disk is the first `size` bytes of a larger file. Without it the file must exist and
    /// its size, rounded down to whole sectors, is used.
    pub size: Option<u64>,
    /// How writes are made durable.
    pub sync: SyncMode,
    /// Allocate every block of the file (`posix_fallocate`) so that no store can meet a full
    /// file system (a `SIGBUS` through a mapping).
    pub preallocate: bool,
    /// Lock the image exclusively (default; [`crate::locking`]); [`Locking::Off`] only
    /// when asked for by name.
    pub locking: Locking,
}

impl PmemDiskOptions {
    /// Defaults for `path`: an existing file, `sync=auto`, sparse.
    pub fn new(path: impl Into<PathBuf>) -> PmemDiskOptions {
        PmemDiskOptions {
            path: path.into(),
            size: None,
            sync: SyncMode::Auto,
            preallocate: false,
            locking: Locking::On,
        }
    }
}

/// The `pmem` disk driver (a bottom device).
#[derive(Debug)]
pub struct PmemDisk {
    info: DiskInfo,
    path: PathBuf,
    /// Chunks written since they were last `msync`ed (unused with `MAP_SYNC`).
    dirty: DirtyChunks,
    /// Held by a flush while it takes dirty chunks and `msync`s them.
    flushing: Mutex<()>,
    sticky: StickyError,
    /// The open image: holds its lock until the disk is gone.
    _image: std::fs::File,
    /// Dropped last, after `Drop::drop` synced it: unmaps.
    mapping: Mapping,
}

impl PmemDisk {
    /// Opens (or creates) the file and maps it.
    pub fn open(options: &PmemDiskOptions) -> Result<PmemDisk, PmemError> {
        let (mapping, image) = open::open(options)?;
        let size = mapping.len() as u64;
        let map_sync = mapping.kind() == MapKind::Sync;
        let info = DiskInfo { size, sector_size: SECTOR_SIZE, volatile_cache: !map_sync, durable: true };
        let dirty = DirtyChunks::new(size, irp::page_size());
        tracing::debug!(
            path = %options.path.display(), size, map_sync, dirty_chunk = dirty.chunk_size(),
            "pmem disk opened"
        );
        Ok(PmemDisk {
            info,
            path: options.path.clone(),
            dirty,
            flushing: Mutex::new(()),
            sticky: StickyError::new(),
            _image: image,
            mapping,
        })
    }

    /// Opens the file and creates the device (bottom of a new stack) called `name`.
    pub fn create(name: &str, options: PmemDiskOptions) -> Result<DeviceRef, PmemError> {
        let disk = PmemDisk::open(&options)?;
        let mut characteristics = Characteristics::SHUTDOWN_NOTIFY;
        if disk.info.volatile_cache {
            characteristics = characteristics | Characteristics::VOLATILE_CACHE;
        }
        DeviceBuilder::new(name)
            .sector_size(SECTOR_SIZE)
            .characteristics(characteristics)
            .build(DiskDriver::new(disk))
            .map_err(|source| PmemError::Device { path: options.path, source })
    }

    /// What the disk reports.
    pub fn info(&self) -> DiskInfo {
        self.info
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is mapped with `MAP_SYNC` (cache write-back and drain make data
    /// durable) rather than plain `MAP_SHARED` (`msync` does).
    pub fn is_map_sync(&self) -> bool {
        self.mapping.kind() == MapKind::Sync
    }

    /// The error every flush fails with since an `msync` failed, if one did.
    pub fn sticky_error(&self) -> Option<Status> {
        self.sticky.get()
    }

    fn serve(&self, mut irp: Irp) -> Status {
        let request = match BlockRequest::decode(&irp, &self.info) {
            Ok(r) => r,
            Err(status) => return irp.complete(status),
        };
        let (offset, length) = request.range();
        if length == 0 {
            return irp.complete_with(Status::SUCCESS, 0);
        }
        // `decode` checked the range against the size, which is the mapping's length.
        let (offset, len) = (offset as usize, length as usize);
        let fua = matches!(
            request,
            BlockRequest::Write { fua: true, .. } | BlockRequest::WriteZeroes { fua: true, .. }
        );
        if fua && let Some(stuck) = self.sticky.get() {
            return irp.complete(stuck);
        }
        let result = match request {
            BlockRequest::Read { .. } => {
                let Some(buf) = irp.mdl_mut().and_then(Mdl::bytes_mut) else {
                    // The MDL shares its memory with a live partial MDL or source.
                    return irp.complete(Status::INVALID_PARAMETER);
                };
                self.mapping.read(offset, &mut buf[..len]);
                if let Some(mdl) = irp.mdl() {
                    flush_io_buffers(mdl, Direction::FromDevice, Transfer::Pio);
                }
                return irp.complete_with(Status::SUCCESS, length);
            }
            BlockRequest::Write { .. } => {
                let Some(mdl) = irp.mdl() else { return irp.complete(Status::INVALID_PARAMETER) };
                self.mapping.write(offset, &mdl.bytes()[..len]);
                self.stored(offset, len);
                self.settle(offset, len, fua)
            }
            BlockRequest::Discard { .. } | BlockRequest::WriteZeroes { .. } => {
                self.zero_range(offset, len);
                self.settle(offset, len, fua)
            }
        };
        let information = if matches!(request, BlockRequest::Write { .. }) { length } else { 0 };
        match result {
            Ok(()) => irp.complete_with(Status::SUCCESS, information),
            Err(status) => irp.complete(status),
        }
    }

    /// Data was stored at `offset..offset + len`: write its lines back and, without
    /// `MAP_SYNC`, remember its chunks for the next flush's `msync`.
    fn stored(&self, offset: usize, len: usize) {
        self.mapping.write_back(offset, len);
        if !self.is_map_sync() {
            self.dirty.mark(offset as u64, len as u64);
        }
    }

    /// What a store must do before it completes: with `MAP_SYNC`, drain (every write is
    /// persistent at completion: no volatile cache); without, nothing — unless it asked for
    /// ForceUnitAccess, then drain and `msync` its pages.
    fn settle(&self, offset: usize, len: usize, fua: bool) -> Result<(), Status> {
        if self.is_map_sync() {
            drain();
            return Ok(());
        }
        if !fua {
            return Ok(());
        }
        drain();
        self.sticky.sync_result(errno_of(self.mapping.msync(offset, len)), "msync")
    }

    /// Zeroes `offset..offset + len` page by page, leaving pages that already read as zero
    /// alone (a hole stays a hole), and writes back what it changed.
    fn zero_range(&self, offset: usize, len: usize) {
        let page = irp::page_size();
        let end = offset + len;
        let mut at = offset;
        while at < end {
            let n = (page - at % page).min(end - at);
            if !self.mapping.is_zero(at, n) {
                self.mapping.zero(at, n);
                self.stored(at, n);
            }
            at += n;
        }
    }

    /// A flush or shutdown: drain, and with `syncs_device` and without `MAP_SYNC`, `msync`
    /// the span of the chunks written since the last flush (see `dirty.rs` on why one
    /// span rather than each run).
    fn sync(&self, irp: Irp, syncs_device: bool) -> Status {
        if let Some(stuck) = self.sticky.get() {
            return irp.complete(stuck);
        }
        drain();
        if !syncs_device || self.is_map_sync() {
            return irp.complete(Status::SUCCESS);
        }
        let status = {
            let _flushing = self.flushing.lock().unwrap_or_else(PoisonError::into_inner);
            let result = match self.dirty.take_span() {
                None => Ok(()),
                Some((offset, len)) => self.mapping.msync(offset as usize, len as usize).inspect_err(|_| {
                    // Kept dirty, though the error sticks and no later flush can succeed.
                    self.dirty.mark(offset, len);
                }),
            };
            match self.sticky.sync_result(errno_of(result), "msync") {
                Ok(()) => Status::SUCCESS,
                Err(status) => status,
            }
        };
        irp.complete(status)
    }
}

impl Drop for PmemDisk {
    /// Makes everything written durable before the mapping is unmapped (see the module
    /// documentation on drop order); a failure can only be logged.
    fn drop(&mut self) {
        drain();
        if self.is_map_sync() || !self.dirty.any() {
            return;
        }
        if let Err(error) = self.mapping.msync(0, self.mapping.len()) {
            tracing::error!(path = %self.path.display(), %error, "final msync of a pmem disk failed");
        }
    }
}

impl BlockDisk for PmemDisk {
    fn disk_info(&self) -> DiskInfo {
        self.info
    }
    fn serve(&self, irp: Irp) -> Status {
        PmemDisk::serve(self, irp)
    }
    /// Drain; with a device sync and without `MAP_SYNC`, `msync` what was written. Fails
    /// with the sticky error once an `msync` failed.
    fn flush(&self, irp: Irp, syncs_device: bool) -> Status {
        PmemDisk::sync(self, irp, syncs_device)
    }
}
