//! `file`: a disk stored in a regular file or a block device, read and written with a
//! thread pool (`pread`/`pwrite`) or io_uring, buffered or with `O_DIRECT`.
//!
//! | request | system call |
//! |---|---|
//! | Read / Write | `pread` / `pwrite` of the IRP's MDL (zero-copy with `O_DIRECT`) |
//! | Write + ForceUnitAccess | `pwritev2(RWF_DSYNC)` (io_uring: the write with `RWF_DSYNC`) |
//! | FlushBuffers, Shutdown | `fdatasync` (io_uring: `Fsync` with `DATASYNC`) |
//! | FlushBuffers without device sync (`NO_SYNC`, `FILE_DATA_ONLY`) | `sync_file_range(WRITE)` of a small amount written since the last sync, not waited for |
//! | Discard | `fallocate(PUNCH_HOLE \| KEEP_SIZE)`; succeeds doing nothing where unsupported |
//! | WriteZeroes | `fallocate(ZERO_RANGE \| KEEP_SIZE)` (`PUNCH_HOLE` when it may unmap), else writes of zeroes; `fdatasync` after with ForceUnitAccess |
//! | DeviceControl `FSCTL_QUERY_ALLOCATED_RANGES` | `lseek(SEEK_DATA / SEEK_HOLE)` in the dispatching thread; a block device is all data |
//!
//! Dispatch hands most requests to the engine, whose thread completes them. Three kinds
//! run in the dispatching thread instead, sparing the hand-off and the wake-up back:
//! - a buffered read whose data is all in the page cache (`preadv2(RWF_NOWAIT)`, which
//!   never waits for I/O);
//! - a request whose sender waits for it anyway ([`Irp::caller_waits`],
//!   `IRP_SYNCHRONOUS_API`: the cache's flush, one-run write-back, read-fill and
//!   write-through);
//! - a buffered write of at most `inline` bytes (64 KiB) without ForceUnitAccess: a copy
//!   into the page cache (it may wait when the kernel throttles dirty pages).
//!
//! Completion routines of the drivers above run on the completing thread and must not
//! block on I/O to this disk.
//!
//! **Flushes.** There is no cache in this driver: a write has reached the kernel when it
//! completes, so `fdatasync` covers every write completed before the flush was sent. A
//! flush whose flags skip the device sync completes at once, having started the device
//! writes of a small amount written since the last sync (`unsynced.rs`). A failed `fdatasync` is
//! sticky (see `sticky.rs`): Linux marks the failed pages clean (and a device may drop
//! what its cache could not write), so every later flush and ForceUnitAccess write fails
//! with that error until the disk is reopened.
//!
//! **Alignment.** With `O_DIRECT`, reads, writes, discards and write-zeroes must be
//! sector-aligned in offset and length, and transfer buffers aligned to
//! [`irp::Device::alignment`]; other requests fail with `STATUS_INVALID_PARAMETER` (they
//! are refused, not bounced: NBD clients and file systems send aligned requests). A block
//! device needs aligned discards and write-zeroes even when buffered.
//!
//! **Size.** A given size creates the file or extends it (sparse); it must be a whole
//! number of sectors. Without one, an existing file's size rounds down to whole sectors.
//!
//! **Locking.** The image is locked before anything else touches it: exclusively when
//! opened for writing, shared when read-only ([`crate::locking`], QEMU's locks); another
//! holder makes opening fail with [`FileDiskError::Locked`].

mod allocated;
mod engine_pool;
mod engine_uring;
mod error;
mod geometry;
mod op;
mod open;
mod sys;
#[cfg(test)]
mod tests;
mod unsynced;

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use irp::{Characteristics, DeviceBuilder, DeviceRef, Irp, Mdl, Status};

use self::engine_pool::PoolEngine;
use self::engine_uring::UringEngine;
pub use self::error::FileDiskError;
use self::op::{Backing, Op, Request};
use crate::locking::Locking;
use crate::sticky::StickyError;
use irp::block::{AllocatedRange, Allocation, BlockDisk, BlockRequest, DiskDriver, DiskInfo};

/// How a `file` disk does its I/O.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Engine {
    /// Worker threads making blocking `pread`/`pwrite`/`fdatasync` calls.
    #[default]
    Pool,
    /// One io_uring, submitted to and reaped by one thread, with batched submission.
    Uring,
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Engine, String> {
        match s {
            "pool" | "threads" | "sync" => Ok(Engine::Pool),
            "uring" | "io_uring" | "io-uring" => Ok(Engine::Uring),
            _ => Err(format!("unknown file disk engine {s:?} (expected \"pool\" or \"uring\")")),
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Pool => "pool",
            Engine::Uring => "uring",
        })
    }
}

/// How to open a `file` disk. Start from [`FileDiskOptions::new`] and set fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDiskOptions {
    /// The regular file or block device.
    pub path: PathBuf,
    /// Create the file, or extend it (sparse), to this size; a whole number of sectors.
    /// Without it the file must exist and its size is used. A block device must be at
    /// least this large; the disk is its first `size` bytes.
    pub size: Option<u64>,
    /// Open with `O_DIRECT`: no page cache, aligned requests only.
    pub direct: bool,
    /// The I/O engine.
    pub engine: Engine,
    /// Worker threads of the pool engine (default 4).
    pub threads: usize,
    /// Ring entries of the io_uring engine: requests in flight at once (default 128).
    pub queue_depth: u32,
    /// Open read-only: writes fail with `STATUS_MEDIA_WRITE_PROTECTED`.
    pub read_only: bool,
    /// Buffered (not `O_DIRECT`) writes without ForceUnitAccess of at most this many
    /// bytes are copied into the page cache in the dispatching thread, which is cheaper
    /// than handing them to the engine and being woken back (default 64 KiB; 0: never).
    pub inline_writes: u64,
    /// Lock the image (default): exclusively when writable, shared when read-only, with
    /// QEMU's locks ([`crate::locking`]); [`Locking::Off`] only when asked for by name.
    pub locking: Locking,
}

impl FileDiskOptions {
    /// Defaults for `path`: existing file, buffered, pool engine with 4 threads, queue
    /// depth 128, read-write.
    pub fn new(path: impl Into<PathBuf>) -> FileDiskOptions {
        FileDiskOptions {
            path: path.into(),
            size: None,
            direct: false,
            engine: Engine::Pool,
            threads: 4,
            queue_depth: 128,
            read_only: false,
            inline_writes: 64 * 1024,
            locking: Locking::On,
        }
    }
}

#[derive(Debug)]
enum Engines {
    Pool(PoolEngine),
    Uring(UringEngine),
}

/// The `file` disk driver (a bottom device).
#[derive(Debug)]
pub struct FileDisk {
    info: DiskInfo,
    path: PathBuf,
    engine_kind: Engine,
    direct: bool,
    read_only: bool,
    block_device: bool,
    alignment: usize,
    backing: Arc<Backing>,
    engine: Engines,
    /// Buffered writes up to this many bytes are made in the dispatching thread.
    inline_writes: u64,
    /// What was written since the last sync (for NoSync flushes).
    unsynced: unsynced::Unsynced,
}

impl FileDisk {
    /// Opens the medium and starts the engine; `name` names its threads.
    pub fn open(name: &str, options: &FileDiskOptions) -> Result<FileDisk, FileDiskError> {
        let opened = open::open(options)?;
        let backing = Arc::new(Backing { file: opened.file, sticky: StickyError::new() });
        let path = options.path.clone();
        let engine = match options.engine {
            Engine::Pool => PoolEngine::start(Arc::clone(&backing), options.threads, name)
                .map(Engines::Pool)
                .map_err(|source| FileDiskError::Threads { path: path.clone(), source })?,
            Engine::Uring => UringEngine::start(Arc::clone(&backing), options.queue_depth, name)
                .map(Engines::Uring)
                .map_err(|e| match e {
                    engine_uring::StartError::Ring(source) => {
                        FileDiskError::UringUnavailable { path: path.clone(), source }
                    }
                    engine_uring::StartError::Other(source) => {
                        FileDiskError::Threads { path: path.clone(), source }
                    }
                })?,
        };
        let info = DiskInfo {
            size: opened.size,
            sector_size: opened.sector_size,
            volatile_cache: true,
            durable: true,
        };
        tracing::debug!(
            name, path = %path.display(), size = info.size, sector_size = info.sector_size,
            direct = options.direct, engine = %options.engine, "file disk opened"
        );
        Ok(FileDisk {
            info,
            path,
            engine_kind: options.engine,
            direct: options.direct,
            read_only: options.read_only,
            block_device: opened.block_device,
            alignment: opened.alignment,
            backing,
            engine,
            inline_writes: options.inline_writes,
            unsynced: unsynced::Unsynced::default(),
        })
    }

    /// Opens the medium and creates the device (bottom of a new stack) called `name`.
    pub fn create(name: &str, options: FileDiskOptions) -> Result<DeviceRef, FileDiskError> {
        let disk = FileDisk::open(name, &options)?;
        let mut characteristics = Characteristics::VOLATILE_CACHE | Characteristics::SHUTDOWN_NOTIFY;
        if disk.read_only {
            characteristics = characteristics | Characteristics::READ_ONLY;
        }
        DeviceBuilder::new(name)
            .sector_size(disk.info.sector_size)
            .alignment(disk.alignment)
            .characteristics(characteristics)
            .build(DiskDriver::new(disk))
            .map_err(|source| FileDiskError::Device { path: options.path, source })
    }

    /// What the disk reports.
    pub fn info(&self) -> DiskInfo {
        self.info
    }

    /// The file or block device.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The engine doing the I/O.
    pub fn engine(&self) -> Engine {
        self.engine_kind
    }

    /// Whether the medium is open with `O_DIRECT`.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Whether the medium is a block device.
    pub fn is_block_device(&self) -> bool {
        self.block_device
    }

    /// The error every flush fails with since an `fdatasync` failed, if one did.
    pub fn sticky_error(&self) -> Option<Status> {
        self.backing.sticky.get()
    }

    /// Runs `op` in this thread when the sender waits for it or it is a small buffered
    /// write (see the module docs); else marks `irp` pending and hands it to the engine.
    fn start(&self, mut irp: Irp, op: Op) -> Status {
        let small_buffered_write =
            !self.direct && matches!(op, Op::Write { len, fua: false, .. } if len <= self.inline_writes);
        if irp.caller_waits() || small_buffered_write {
            // The sender is blocked until this completes: the system calls run in its
            // thread (blocking, as the pool's workers make them, whatever the engine),
            // sparing a hand-off and the wake-up back.
            return engine_pool::run(&self.backing, Request::new(irp, op));
        }
        irp.mark_pending();
        let request = Request::new(irp, op);
        match &self.engine {
            Engines::Pool(pool) => pool.submit(request),
            Engines::Uring(uring) => uring.submit(request),
        }
        Status::PENDING
    }

    fn serve(&self, mut irp: Irp) -> Status {
        let request = match BlockRequest::decode(&irp, &self.info) {
            Ok(r) => r,
            Err(status) => return irp.complete(status),
        };
        if self.read_only && !matches!(request, BlockRequest::Read { .. }) {
            return irp.complete(Status::MEDIA_WRITE_PROTECTED);
        }
        if let Err(status) = self.check_alignment(&irp, &request) {
            return irp.complete(status);
        }
        let fua = matches!(
            request,
            BlockRequest::Write { fua: true, .. } | BlockRequest::WriteZeroes { fua: true, .. }
        );
        if fua && let Some(stuck) = self.backing.sticky.get() {
            return irp.complete(stuck);
        }
        let op = match request {
            BlockRequest::Read { offset, length } => {
                if irp.mdl_mut().and_then(Mdl::bytes_mut).is_none() {
                    // The MDL shares its memory with a live partial MDL or source.
                    return irp.complete(Status::INVALID_PARAMETER);
                }
                Op::Read { offset, len: length as u64 }
            }
            BlockRequest::Write { offset, length, fua } => {
                self.unsynced.wrote(offset, length as u64);
                Op::Write { offset, len: length as u64, fua }
            }
            BlockRequest::Discard { offset, length } => Op::Discard { offset, len: length },
            BlockRequest::WriteZeroes { offset, length, may_unmap, fua } => {
                Op::WriteZeroes { offset, len: length, unmap: may_unmap, fua }
            }
        };
        let (_, length) = request.range();
        if length == 0 {
            return irp.complete_with(Status::SUCCESS, 0);
        }
        if let Op::Read { offset, len } = op
            && !self.direct
            && self.try_read_cached(&mut irp, offset, len)
        {
            return irp.complete_with(Status::SUCCESS, len);
        }
        self.start(irp, op)
    }

    /// A buffered read the page cache holds whole is served in the caller's thread
    /// (`preadv2` with `RWF_NOWAIT`, which never waits for I/O): no hand-off to the
    /// engine. Returns false, having read nothing of use, when any of it is not cached.
    fn try_read_cached(&self, irp: &mut Irp, offset: u64, len: u64) -> bool {
        let Some(buf) = irp.mdl_mut().and_then(Mdl::bytes_mut) else { return false };
        let Some(buf) = buf.get_mut(..len as usize) else { return false };
        // SAFETY: `buf` is the MDL of the IRP this thread owns, borrowed mutably for the
        // call; `backing` keeps the descriptor open.
        let n =
            unsafe { sys::read_nowait(self.backing.file.as_raw_fd(), buf.as_mut_ptr(), buf.len(), offset) };
        n == len as i64
    }

    /// `O_DIRECT` needs sector-aligned ranges and aligned buffers; a block device needs
    /// sector-aligned discards and write-zeroes (`fallocate` on it refuses others).
    fn check_alignment(&self, irp: &Irp, request: &BlockRequest) -> Result<(), Status> {
        let transfer = matches!(request, BlockRequest::Read { .. } | BlockRequest::Write { .. });
        if !self.direct && (transfer || !self.block_device) {
            return Ok(());
        }
        let sector = u64::from(self.info.sector_size);
        let (offset, length) = request.range();
        if offset % sector != 0 || length % sector != 0 {
            return Err(Status::INVALID_PARAMETER);
        }
        if transfer && irp.mdl().is_some_and(|m| m.virtual_address().addr() % self.alignment != 0) {
            return Err(Status::INVALID_PARAMETER);
        }
        Ok(())
    }

    /// A flush (or shutdown) of a disk that can be written.
    fn sync(&self, irp: Irp, syncs_device: bool) -> Status {
        if self.read_only {
            return irp.complete(Status::SUCCESS);
        }
        if let Some(stuck) = self.backing.sticky.get() {
            return irp.complete(stuck);
        }
        if !syncs_device {
            // Nothing is cached above the kernel; the caller asked for no device sync.
            // The device writes of what was written since the last sync start now, so
            // the next full flush has less to wait for (see `unsynced.rs`).
            if !self.direct
                && let Some((offset, len)) = self.unsynced.span_to_start()
            {
                let started = sys::start_writeback(self.backing.file.as_raw_fd(), offset, len);
                if started < 0 {
                    tracing::debug!(
                        errno = -started,
                        "file disk: cannot start the writeback of a NoSync flush"
                    );
                }
            }
            return irp.complete(Status::SUCCESS);
        }
        self.unsynced.syncing();
        self.start(irp, Op::Sync)
    }
}

impl BlockDisk for FileDisk {
    fn disk_info(&self) -> DiskInfo {
        self.info
    }
    fn serve(&self, irp: Irp) -> Status {
        FileDisk::serve(self, irp)
    }
    /// `fdatasync`, unless the flags skip the device sync; fails with the sticky error
    /// once an `fdatasync` failed.
    fn flush(&self, irp: Irp, syncs_device: bool) -> Status {
        FileDisk::sync(self, irp, syncs_device)
    }
    /// The file's data as `lseek(SEEK_DATA / SEEK_HOLE)` finds it; a block device is all
    /// data (it has no holes to tell).
    fn allocated_ranges(&self, query: AllocatedRange, max_ranges: usize) -> Result<Allocation, Status> {
        if self.block_device {
            return Ok(Allocation::everything(query));
        }
        let ranges = allocated::data_ranges(self.backing.file.as_fd(), query, max_ranges)?;
        Ok(Allocation::from_ranges(query, ranges))
    }
}
