//! The `file(...)` layer: a regular file or block device.

use disks::file::{Engine, FileDisk, FileDiskOptions};
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError};

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
        super::LOCKING,
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
    if let Some(size) = size
        && i64::try_from(size).is_err()
    {
        return Err(p.invalid("size", "must be at most 8E (a file offset is signed 64-bit)"));
    }
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
    o.locking = super::locking(p)?;
    FileDisk::create(ctx.device_name(), o).map_err(|e| SpecError::build_failed(layer, e))
}
