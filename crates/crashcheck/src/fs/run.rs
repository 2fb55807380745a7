//! Running a workload on the real file system: `fs::Filesystem` over `LowerDevice` over
//! the stack under test, whose bottom is a recording crash disk; every step stamped on the
//! clock the disk stamps its events with.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use disks::crash::{CrashDisk, DiskEvent, OverlayImage};
use fs::filesystem::{FileKind, Ino, RenameMode, XattrMode};
use fs::lower_device::LowerDevice;
use fs::{BlockDevice, Filesystem, FsError, MountOptions, ROOT, errno};
use irp::{Characteristics, DeviceBuilder, DeviceRef, Verifier, VerifierMode};

use super::history::StepRun;
use super::model;
use super::workload::{Op, Persist, Step};
use crate::StackBuilder;

/// The errno of a failed call.
fn e(err: FsError) -> i32 {
    err.errno()
}

/// The inode `path` names.
pub fn lookup(fs: &Filesystem, path: &str) -> Result<Ino, i32> {
    let mut at = ROOT;
    if path != "." {
        for name in path.split('/') {
            at = fs.lookup(at, name.as_bytes()).map_err(e)?.ino;
        }
    }
    Ok(at)
}

fn parent<'p>(fs: &Filesystem, path: &'p str) -> Result<(Ino, &'p [u8]), i32> {
    match path.rsplit_once('/') {
        Some((dir, name)) => Ok((lookup(fs, dir)?, name.as_bytes())),
        None if path == "." => Err(errno::EINVAL),
        None => Ok((ROOT, path.as_bytes())),
    }
}

fn write(fs: &Filesystem, ino: Ino, off: u64, tag: u32, len: u64) -> Result<(), i32> {
    let n = fs.write(ino, off, &model::data(tag, off, len)).map_err(e)?;
    if n as u64 == len { Ok(()) } else { Err(errno::ENOSPC) }
}

/// Runs one step (data tagged `tag`).
pub fn exec(fs: &Filesystem, step: &Step, tag: u32) -> Result<(), i32> {
    let (uid, gid) = (0, 0);
    match step {
        Step::Op(op) => match op {
            Op::Create(p) => {
                let (d, n) = parent(fs, p)?;
                fs.create(d, n, 0o644, uid, gid).map(drop).map_err(e)
            }
            Op::Mkdir(p) => {
                let (d, n) = parent(fs, p)?;
                fs.mkdir(d, n, 0o755, uid, gid).map(drop).map_err(e)
            }
            Op::Symlink(p, target) => {
                let (d, n) = parent(fs, p)?;
                fs.symlink(d, n, target.as_bytes(), uid, gid).map(drop).map_err(e)
            }
            Op::Write(p, off, len) | Op::Overwrite(p, off, len) => write(fs, lookup(fs, p)?, *off, tag, *len),
            Op::Append(p, len) => {
                let ino = lookup(fs, p)?;
                let a = fs.getattr(ino).map_err(e)?;
                match a.kind {
                    FileKind::Directory => return Err(errno::EISDIR),
                    FileKind::Regular => {}
                    _ => return Err(errno::EINVAL),
                }
                if *len == 0 { Ok(()) } else { write(fs, ino, a.size, tag, *len) }
            }
            Op::Truncate(p, size) => fs.truncate(lookup(fs, p)?, *size).map_err(e),
            Op::Fallocate(p, off, len, keep) => fs.fallocate(lookup(fs, p)?, *off, *len, *keep).map_err(e),
            Op::Link(from, to) => {
                let ino = lookup(fs, from)?;
                let (d, n) = parent(fs, to)?;
                fs.link(ino, d, n).map(drop).map_err(e)
            }
            Op::Unlink(p) => {
                let (d, n) = parent(fs, p)?;
                fs.unlink(d, n).map_err(e)
            }
            Op::Rename(from, to) => {
                let (sd, sn) = parent(fs, from)?;
                let (dd, dn) = parent(fs, to)?;
                fs.rename(sd, sn, dd, dn, RenameMode::Replace).map_err(e)
            }
            Op::SetXattr(p, name, len) => fs
                .setxattr(lookup(fs, p)?, name.as_bytes(), &model::data(tag, 0, *len), XattrMode::Set)
                .map_err(e),
            Op::RemoveXattr(p, name) => fs.removexattr(lookup(fs, p)?, name.as_bytes()).map_err(e),
        },
        Step::Persist(p) => match p {
            Persist::Fsync(path) => fs.fsync(lookup(fs, path)?, false).map_err(e),
            Persist::Fdatasync(path) => fs.fsync(lookup(fs, path)?, true).map_err(e),
            Persist::FsyncDir(path) => {
                let ino = lookup(fs, path)?;
                if fs.getattr(ino).map_err(e)?.kind != FileKind::Directory {
                    return Err(errno::ENOTDIR);
                }
                fs.fsync(ino, false).map_err(e)
            }
            Persist::Sync => fs.sync().map_err(e),
        },
    }
}

/// A crash disk (a fresh in-memory one whose durable image is `image`) as the bottom
/// device of a stack, and that device.
pub fn crash_device(image: OverlayImage, name: &str) -> Result<(Arc<CrashDisk>, DeviceRef), String> {
    let sector = disks::crash::Sectors::sector_size(&image) as u32;
    let disk = CrashDisk::from_image(image).map_err(|e| format!("crash disk: {e}"))?;
    let device = DeviceBuilder::new(name)
        .sector_size(sector)
        .verifier(Verifier::new(VerifierMode::Record))
        .characteristics(Characteristics::VOLATILE_CACHE)
        .build(irp::block::DiskDriver::new(Arc::clone(&disk)))
        .map_err(|e| format!("crash disk device: {e}"))?;
    Ok((disk, device))
}

/// The file system's view of `device`.
pub fn block_device(device: &DeviceRef) -> Result<Arc<dyn BlockDevice>, String> {
    Ok(Arc::new(LowerDevice::new(device).map_err(|e| format!("size of {}: {e}", device.name()))?))
}

/// What reached the disk while a workload ran, and when each step ran.
#[derive(Debug)]
pub struct Recorded {
    /// The disk's events, stamped.
    pub events: Vec<DiskEvent>,
    /// Per step.
    pub runs: Vec<StepRun>,
}

/// Mounts the volume `image` holds through `build(crash disk)`, runs `steps`, and takes
/// what reached the disk; the power goes right after the last step (no unmount).
pub fn record(
    image: OverlayImage,
    steps: &[Step],
    opts: &MountOptions,
    build: &StackBuilder<'_>,
) -> Result<Recorded, String> {
    let (disk, bottom) = crash_device(image, "crash")?;
    let clock = Arc::new(AtomicU64::new(1));
    disk.start_recording(Arc::clone(&clock));
    let top = build(&bottom).map_err(|e| format!("the stack under test: {e}"))?;
    let fs = Filesystem::mount(block_device(&top)?, opts.clone()).map_err(|e| format!("mount: {e}"))?;
    let mut runs = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let invoked = clock.fetch_add(1, Ordering::SeqCst);
        let result = exec(&fs, step, i as u32 + 1);
        let completed = clock.fetch_add(1, Ordering::SeqCst);
        runs.push(StepRun { invoked, completed, error: result.err() });
    }
    let events = disk.take_events();
    drop(fs);
    Ok(Recorded { events, runs })
}
