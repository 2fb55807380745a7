//! The `cache(...)` layer: the write-back cache.

use std::time::Duration;

use filters::cache::{Cache, CacheMode, CacheOptions};
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError};

const CACHE_MODES: &[&str] = &["writeback", "writethrough", "unsafe"];

/// `cache(size=256M,mode=writeback,...)`: the write-back cache ([`Cache`]).
pub const CACHE: DriverFactory = DriverFactory {
    name: "cache",
    summary: "a write-back cache: writes complete when cached; flush writes them down and syncs the disk",
    params: &[
        ParamDoc { key: "size", kind: ParamKind::Size, default: Some("256M"), help: "bound on cached bytes" },
        ParamDoc {
            key: "mode",
            kind: ParamKind::Enum(CACHE_MODES),
            default: Some("writeback"),
            help: "writeback | writethrough | unsafe (flush ignored: data can be lost; only for throw-away data)",
        },
        ParamDoc { key: "block", kind: ParamKind::Size, default: Some("4K"), help: "cache block size" },
        ParamDoc {
            key: "read-cache",
            kind: ParamKind::Bool,
            default: Some("true"),
            help: "keep blocks read from below",
        },
        ParamDoc {
            key: "dirty",
            kind: ParamKind::Size,
            default: Some("3/4 of size"),
            help: "writers write behind themselves above this many dirty bytes",
        },
        ParamDoc {
            key: "bypass",
            kind: ParamKind::Size,
            default: Some("1M"),
            help: "block-aligned writes of at least this size go straight down (write-around); 0: cache every write",
        },
        ParamDoc {
            key: "eager",
            kind: ParamKind::Size,
            default: Some("64K"),
            help: "a write of at most this size into a clean cache is written behind by the lazy writer right after it completes; 0: never",
        },
        ParamDoc {
            key: "interval",
            kind: ParamKind::Duration,
            default: Some("1s"),
            help: "lazy writer period (1ms to 1h)",
        },
        ParamDoc {
            key: "share",
            kind: ParamKind::U64,
            default: Some("8"),
            help: "the lazy writer writes 1/share of the dirty blocks per pass",
        },
    ],
    kind: LayerKind::Filter,
    build: build_cache,
};

fn build_cache(
    layer: &mut LayerSpec,
    lower: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let p = &mut layer.params;
    let mut o = CacheOptions::default();
    // The cache's memory is allocated up front: no more than the machine has.
    if let Some(size) = p.get_size_in("size", 512..=super::physical_memory())? {
        o.size = size;
    }
    o.mode = match p.get_enum("mode", CACHE_MODES)? {
        Some("writethrough") => CacheMode::WriteThrough,
        Some("unsafe") => CacheMode::Unsafe,
        _ => CacheMode::WriteBack,
    };
    if let Some(block) = p.get_size_in("block", 512..=(16 << 20))? {
        o.block_size = block as u32;
    }
    if let Some(read_cache) = p.get_bool("read-cache")? {
        o.read_cache = read_cache;
    }
    o.dirty_threshold = p.get_size("dirty")?.unwrap_or(o.size / 4 * 3);
    if let Some(bypass) = p.get_size("bypass")? {
        o.bypass = bypass;
    }
    if let Some(eager) = p.get_size("eager")? {
        o.eager = eager;
    }
    if let Some(interval) =
        p.get_duration_in("interval", Duration::from_millis(1)..=Duration::from_secs(3600), false)?
    {
        o.lazy_interval = interval;
    }
    if let Some(share) = p.get_u64_in("share", 1..=1 << 20)? {
        o.lazy_share = share as u32;
    }
    let lower = ctx.lower(lower)?;
    Cache::create(ctx.device_name(), o, lower).map_err(|e| SpecError::build_failed(layer, e))
}
