//! `crash`: the crash-simulation disk of DESIGN.md.
//!
//! It keeps a **durable image** (in memory, or in a file so that separate processes
//! share it) and a **volatile write cache**: every write since the last completed
//! flush, in order. Reads see the live data (durable + cached writes). A flush makes
//! the cache durable; a ForceUnitAccess write is durable when it completes. A crash
//! keeps what a real device could have kept — see [`CrashPlan`] — and then the disk is
//! gone: every later request fails with `STATUS_DEVICE_DOES_NOT_EXIST`.
//!
//! A file image is locked exclusively while the disk lives ([`crate::locking`]), so no
//! second disk or program writes it meanwhile; a crash releases the lock (the power is
//! off: the next "boot" may open the image).
//!
//! A crash can be ordered from outside the process: by a control file (its content
//! names the plan: `lose-all`, `keep-all`, `subset SEED`, `torn SEED`) or by SIGUSR1
//! (`lose-all`), for power-cut tests of applications.

mod image;
mod overlay;
mod plan;
mod trigger;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use irp::{Characteristics, DeviceBuilder, DeviceRef, Irp, Status};

pub use image::DurableImage;
pub use overlay::{Layer, OverlayImage, Sectors, Stacked};
pub use plan::{CrashPlan, UnflushedWrite};

use irp::block::{BlockDisk, BlockRequest, DiskDriver, DiskInfo};

/// Errors creating a crash disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrashDiskError {
    /// The image file could not be opened, created or sized.
    #[error("crash disk image {path}: {source}")]
    Image {
        /// The image path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Another opener holds the image file (see [`crate::locking`]).
    #[error(transparent)]
    Locked(#[from] crate::locking::LockError),
    /// A file image has no size and none was given.
    #[error("crash disk image {path} does not exist; give a size to create it")]
    NoSize {
        /// The image path.
        path: PathBuf,
    },
    /// The size is not a positive multiple of the sector size.
    #[error("crash disk size {size} is not a positive multiple of the {sector}-byte sector")]
    BadSize {
        /// The size.
        size: u64,
        /// The sector size.
        sector: u32,
    },
    /// The device could not be built.
    #[error(transparent)]
    Device(#[from] irp::DeviceError),
}

/// What reached the disk, in order, stamped with a clock shared with the workload
/// (for the crash checker, which rebuilds the disk's state at every point).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskEvent {
    /// A write (discards and zeroes are writes of zeroes).
    Write {
        /// Clock value when it reached the disk.
        stamp: u64,
        /// Byte offset.
        offset: u64,
        /// The data.
        data: Arc<[u8]>,
        /// ForceUnitAccess.
        fua: bool,
    },
    /// A flush that made the cache durable.
    Flush {
        /// Clock value when it completed at the disk.
        stamp: u64,
    },
}

struct Recorder {
    clock: Arc<AtomicU64>,
    events: Vec<DiskEvent>,
}

pub(crate) struct State {
    recorder: Option<Recorder>,
    durable: DurableImage,
    /// The live image: what reads see (the durable image and the cached writes).
    live: OverlayImage,
    /// Writes since the last flush, oldest first.
    cache: Vec<UnflushedWrite>,
    next_seq: u64,
    crashed: Option<CrashPlan>,
    flushes: u64,
}

/// The crash-simulation disk driver.
pub struct CrashDisk {
    info: DiskInfo,
    state: Mutex<State>,
    trigger: Option<trigger::Trigger>,
}

impl std::fmt::Debug for CrashDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrashDisk").field("info", &self.info).finish_non_exhaustive()
    }
}

/// Where the durable image lives and how a crash may be ordered.
#[derive(Clone, Debug, Default)]
pub struct CrashDiskOptions {
    /// Size in bytes (required for a memory image or a file that does not exist).
    pub size: Option<u64>,
    /// Sector size (default 4096).
    pub sector_size: Option<u32>,
    /// Keep the durable image in this file (shared between processes).
    pub path: Option<PathBuf>,
    /// Poll this file; when it appears, crash with the plan it names.
    pub control_file: Option<PathBuf>,
    /// Crash (lose-all) on SIGUSR1.
    pub on_sigusr1: bool,
    /// Lock the image file exclusively (default; [`crate::locking`]) until the disk is
    /// gone or crashed; [`Locking::Off`](crate::locking::Locking::Off) only when asked for.
    pub locking: crate::locking::Locking,
}

impl CrashDisk {
    /// A crash disk with `options`.
    pub fn new(options: &CrashDiskOptions) -> Result<Arc<CrashDisk>, CrashDiskError> {
        let sector = options.sector_size.unwrap_or(4096);
        let durable = match &options.path {
            Some(path) => DurableImage::open_file(path, options.size, sector, options.locking)?,
            None => {
                let size = options.size.ok_or(CrashDiskError::BadSize { size: 0, sector })?;
                DurableImage::memory(size, sector)?
            }
        };
        CrashDisk::from_durable(durable, options)
    }

    /// An in-memory crash disk whose durable image starts as `image` (to restart a
    /// stack over what survived a crash).
    pub fn with_image(image: Vec<u8>, sector_size: u32) -> Result<Arc<CrashDisk>, CrashDiskError> {
        CrashDisk::from_image(OverlayImage::over(Arc::from(image), sector_size)?)
    }

    /// An in-memory crash disk whose durable image starts as `image`, sharing its
    /// bytes: restarting a stack over a crash state (or crashing the recovery that
    /// runs there) costs the sectors the state changed, not the disk's size.
    pub fn from_image(image: OverlayImage) -> Result<Arc<CrashDisk>, CrashDiskError> {
        let options =
            CrashDiskOptions { sector_size: Some(image.sector_size() as u32), ..Default::default() };
        CrashDisk::from_durable(DurableImage::from_image(image), &options)
    }

    fn from_durable(
        durable: DurableImage,
        options: &CrashDiskOptions,
    ) -> Result<Arc<CrashDisk>, CrashDiskError> {
        let (size, sector) = (durable.len(), durable.image().sector_size() as u32);
        let live = durable.image().clone();
        let disk = Arc::new(CrashDisk {
            info: DiskInfo { size, sector_size: sector, volatile_cache: true, durable: true },
            state: Mutex::new(State {
                recorder: None,
                durable,
                live,
                cache: Vec::new(),
                next_seq: 0,
                crashed: None,
                flushes: 0,
            }),
            trigger: trigger::Trigger::new(options.control_file.clone(), options.on_sigusr1),
        });
        if let Some(t) = &disk.trigger {
            t.start(Arc::downgrade(&disk));
        }
        Ok(disk)
    }

    /// Builds the device called `name` at the bottom of a new stack.
    pub fn create(name: &str, disk: Arc<CrashDisk>) -> Result<DeviceRef, CrashDiskError> {
        Ok(DeviceBuilder::new(name)
            .sector_size(disk.info.sector_size)
            .characteristics(Characteristics::VOLATILE_CACHE | Characteristics::SHUTDOWN_NOTIFY)
            .build(DiskDriver::new(disk))?)
    }

    /// What the disk reports.
    pub fn info(&self) -> DiskInfo {
        self.info
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the durable image (what survives losing every cached write).
    pub fn durable_image(&self) -> Vec<u8> {
        self.state().durable.read_all()
    }

    /// The durable image as an overlay (shares its bytes with the disk).
    pub fn durable_overlay(&self) -> OverlayImage {
        self.state().durable.image().clone()
    }

    /// A copy of the live image (what reads see now).
    pub fn live_image(&self) -> Vec<u8> {
        self.state().live.to_vec()
    }

    /// The writes in the volatile cache, oldest first.
    pub fn unflushed(&self) -> Vec<UnflushedWrite> {
        self.state().cache.clone()
    }

    /// Starts recording every write and flush that reaches the disk, stamped from
    /// `clock` (which the caller also uses to stamp what it does).
    pub fn start_recording(&self, clock: Arc<AtomicU64>) {
        self.state().recorder = Some(Recorder { clock, events: Vec::new() });
    }

    /// Takes the events recorded so far.
    pub fn take_events(&self) -> Vec<DiskEvent> {
        self.state().recorder.as_mut().map(|r| std::mem::take(&mut r.events)).unwrap_or_default()
    }

    /// How many flushes reached the disk.
    pub fn flush_count(&self) -> u64 {
        self.state().flushes
    }

    /// Whether the disk crashed (and with which plan).
    pub fn crashed(&self) -> Option<CrashPlan> {
        self.state().crashed.clone()
    }

    /// Cuts the power: applies `plan` to the durable image (what a real device with a
    /// volatile cache may have kept), writes it to the image file, and fails every
    /// later request. Returns a copy of the surviving image. A second crash does
    /// nothing.
    pub fn crash(&self, plan: &CrashPlan) -> std::io::Result<Vec<u8>> {
        Ok(self.crash_image(plan)?.to_vec())
    }

    /// [`CrashDisk::crash`], returning the surviving image as an overlay (no copy).
    pub fn crash_image(&self, plan: &CrashPlan) -> std::io::Result<OverlayImage> {
        let mut s = self.state();
        if s.crashed.is_none() {
            let cache = std::mem::take(&mut s.cache);
            let kept = plan.layer(s.durable.image(), &cache);
            s.durable.apply(&kept)?;
            s.durable.sync()?;
            s.live = s.durable.image().clone();
            // The power is off: the image is free for whoever "boots" from it next.
            s.durable.unlock();
            s.crashed = Some(plan.clone());
            tracing::warn!(plan = %plan, lost_or_kept = cache.len(), "crash disk: power cut");
        }
        Ok(s.durable.image().clone())
    }

    fn serve(&self, mut irp: Irp) -> Status {
        let request = match BlockRequest::decode(&irp, &self.info) {
            Ok(r) => r,
            Err(status) => return irp.complete(status),
        };
        let mut s = self.state();
        if s.crashed.is_some() {
            return irp.complete(Status::DEVICE_DOES_NOT_EXIST);
        }
        let (offset, length) = request.range();
        let n = length as usize;
        match request {
            BlockRequest::Read { .. } => {
                let Some(buf) = irp.mdl_mut().and_then(irp::Mdl::bytes_mut) else {
                    return irp.complete(Status::INVALID_PARAMETER);
                };
                s.live.read(offset, &mut buf[..n]);
                drop(s);
                return irp.complete_with(Status::SUCCESS, length);
            }
            BlockRequest::Write { fua, .. } => {
                let Some(mdl) = irp.mdl() else { return irp.complete(Status::INVALID_PARAMETER) };
                let data: Arc<[u8]> = Arc::from(&mdl.bytes()[..n]);
                if let Err(e) = s.write(offset, data, fua) {
                    return irp.complete(Status::from_io_error(&e));
                }
            }
            BlockRequest::Discard { .. } | BlockRequest::WriteZeroes { .. } => {
                let fua = matches!(request, BlockRequest::WriteZeroes { fua: true, .. });
                let zeros: Arc<[u8]> = vec![0u8; n].into();
                if let Err(e) = s.write(offset, zeros, fua) {
                    return irp.complete(Status::from_io_error(&e));
                }
            }
        }
        drop(s);
        let info = if matches!(request, BlockRequest::Write { .. }) { length } else { 0 };
        irp.complete_with(Status::SUCCESS, info)
    }

    fn flush(&self, irp: Irp, syncs_device: bool) -> Status {
        let mut s = self.state();
        if s.crashed.is_some() {
            return irp.complete(Status::DEVICE_DOES_NOT_EXIST);
        }
        // FileDataOnly / NoSync ask for no device cache sync.
        let result = if syncs_device { s.flush() } else { Ok(()) };
        drop(s);
        match result {
            Ok(()) => irp.complete(Status::SUCCESS),
            Err(e) => irp.complete(Status::from_io_error(&e)),
        }
    }
}

impl State {
    fn write(&mut self, offset: u64, data: Arc<[u8]>, fua: bool) -> std::io::Result<()> {
        self.live.write(offset, &data);
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(r) = &mut self.recorder {
            let stamp = r.clock.fetch_add(1, Ordering::SeqCst);
            r.events.push(DiskEvent::Write { stamp, offset, data: Arc::clone(&data), fua });
        }
        if fua {
            // Durable at completion: written through to the durable image. It also
            // stays in the cache so that a flush or a crash that applies older cached
            // writes in order re-applies it after them.
            self.durable.write(offset, &data)?;
        }
        self.cache.push(UnflushedWrite { seq, offset, data, fua });
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // In order, FUA writes included, so that an older cached write never lands on
        // top of newer FUA data.
        for w in &self.cache {
            self.durable.write(w.offset, &w.data)?;
        }
        self.cache.clear();
        self.durable.sync()?;
        self.flushes += 1;
        if let Some(r) = &mut self.recorder {
            let stamp = r.clock.fetch_add(1, Ordering::SeqCst);
            r.events.push(DiskEvent::Flush { stamp });
        }
        Ok(())
    }
}

impl BlockDisk for CrashDisk {
    fn disk_info(&self) -> DiskInfo {
        self.info
    }
    fn serve(&self, irp: Irp) -> Status {
        CrashDisk::serve(self, irp)
    }
    fn flush(&self, irp: Irp, syncs_device: bool) -> Status {
        CrashDisk::flush(self, irp, syncs_device)
    }
}

#[cfg(test)]
mod tests;
