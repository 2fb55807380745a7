//! Factories of the disks with state on the host: `crash` (and `file`).

use irp::DeviceRef;

use super::registry::{BuildContext, DriverFactory, LayerKind, ParamDoc, ParamKind};
use super::{LayerSpec, SpecError};
use crate::disk::crash::{CrashDisk, CrashDiskOptions};
use crate::disk::file::{Engine, FileDisk, FileDiskOptions};

/// `crash(size=256M,sector=4K,path=x.img,control=FILE,sigusr1=true)`: the
/// crash-simulation disk ([`CrashDisk`]).
pub const CRASH: DriverFactory = DriverFactory {
    name: "crash",
    summary: "crash-simulation disk: a durable image plus a volatile write cache that a crash may lose, keep in part, or tear",
    params: &[
        ParamDoc {
            key: "size",
            kind: ParamKind::Size,
            default: None,
            help: "disk size (required unless `path` exists)",
        },
        ParamDoc {
            key: "sector",
            kind: ParamKind::Size,
            default: Some("4K"),
            help: "sector size (tearing happens at sector boundaries)",
        },
        ParamDoc {
            key: "path",
            kind: ParamKind::Path,
            default: None,
            help: "keep the durable image in this file (shared between processes); memory otherwise",
        },
        ParamDoc {
            key: "control",
            kind: ParamKind::Path,
            default: None,
            help: "crash when this file appears; its text names the plan: lose-all | keep-all | subset SEED | torn SEED",
        },
        ParamDoc {
            key: "sigusr1",
            kind: ParamKind::Bool,
            default: Some("false"),
            help: "crash (lose-all) on SIGUSR1",
        },
    ],
    kind: LayerKind::Bottom,
    build: build_crash,
};

/// The crash disk options a `crash(...)` layer asks for (also used by `crash-test`,
/// which builds the crash disk itself to record it).
pub fn crash_options(layer: &mut LayerSpec, ctx: &BuildContext) -> Result<CrashDiskOptions, SpecError> {
    let p = &mut layer.params;
    let sector = p.get_size("sector")?.unwrap_or(4096);
    let sector = match u32::try_from(sector) {
        Ok(s) if s.is_power_of_two() && (512..=65536).contains(&s) => s,
        _ => return Err(p.invalid("sector", "must be a power of two from 512 to 64K")),
    };
    let path = p.get_str("path").map(|s| ctx.resolve_path(s));
    let size = p.get_size("size")?.or(if path.is_none() { ctx.default_size() } else { None });
    if path.is_none() && size.is_none() {
        return Err(p.missing("size"));
    }
    let control_file = p.get_str("control").map(|s| ctx.resolve_path(s));
    let on_sigusr1 = p.get_bool("sigusr1")?.unwrap_or(false);
    Ok(CrashDiskOptions { size, sector_size: Some(sector), path, control_file, on_sigusr1 })
}

fn build_crash(
    layer: &mut LayerSpec,
    _: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let options = crash_options(layer, ctx)?;
    let disk = CrashDisk::new(&options).map_err(|e| SpecError::build_failed(layer, e))?;
    CrashDisk::create(ctx.device_name(), disk).map_err(|e| SpecError::build_failed(layer, e))
}

/// `file(path=disk.img,size=1G,direct=true,engine=uring)`: a regular file or block
/// device ([`FileDisk`]).
pub const FILE: DriverFactory = DriverFactory {
    name: "file",
    summary: "a regular file or block device: buffered or O_DIRECT, thread-pool or io_uring engine; flush = fdatasync",
    params: &[
        ParamDoc {
            key: "path",
            kind: ParamKind::Path,
            default: None,
            help: "the file or block device (required)",
        },
        ParamDoc {
            key: "size",
            kind: ParamKind::Size,
            default: None,
            help: "create or extend (sparse) to this size; default: the existing size, or the build's default size for a new file",
        },
        ParamDoc {
            key: "direct",
            kind: ParamKind::Bool,
            default: Some("false"),
            help: "O_DIRECT: no page cache; requests must be sector-aligned",
        },
        ParamDoc {
            key: "engine",
            kind: ParamKind::Enum(&["pool", "uring"]),
            default: Some("pool"),
            help: "pool: threads doing pread/pwrite; uring: io_uring with batched submission",
        },
        ParamDoc { key: "threads", kind: ParamKind::U64, default: Some("4"), help: "pool engine threads" },
        ParamDoc {
            key: "queue-depth",
            kind: ParamKind::U64,
            default: Some("128"),
            help: "io_uring entries (requests in flight)",
        },
        ParamDoc {
            key: "read-only",
            kind: ParamKind::Bool,
            default: Some("false"),
            help: "refuse writes (flushes succeed at once)",
        },
        ParamDoc {
            key: "inline",
            kind: ParamKind::Size,
            default: Some("64K"),
            help: "buffered writes up to this size are made in the sender's thread, not handed to the engine (0: never)",
        },
    ],
    kind: LayerKind::Bottom,
    build: build_file,
};

fn build_file(
    layer: &mut LayerSpec,
    _: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let p = &mut layer.params;
    let (path, size) = ctx.image(p)?;
    let mut o = FileDiskOptions::new(path);
    o.size = size;
    o.direct = p.get_bool("direct")?.unwrap_or(false);
    o.engine = match p.get_enum("engine", &["pool", "uring"])? {
        Some("uring") => Engine::Uring,
        _ => Engine::Pool,
    };
    if let Some(threads) = p.get_u64("threads")? {
        o.threads = usize::try_from(threads)
            .ok()
            .filter(|&t| (1..=256).contains(&t))
            .ok_or_else(|| p.invalid("threads", "must be 1 to 256"))?;
    }
    if let Some(depth) = p.get_u64("queue-depth")? {
        o.queue_depth = u32::try_from(depth)
            .ok()
            .filter(|&d| (1..=4096).contains(&d))
            .ok_or_else(|| p.invalid("queue-depth", "must be 1 to 4096"))?;
    }
    o.read_only = p.get_bool("read-only")?.unwrap_or(false);
    if let Some(inline) = p.get_size("inline")? {
        o.inline_writes = inline;
    }
    FileDisk::create(ctx.device_name(), o).map_err(|e| SpecError::build_failed(layer, e))
}
