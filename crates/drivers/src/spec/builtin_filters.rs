//! Factories of the filters: `cache`, `fault`, `stats`.

use irp::DeviceRef;

use super::registry::{BuildContext, DriverFactory, LayerKind, ParamDoc, ParamKind};
use super::{LayerSpec, SpecError};
use crate::filter::cache::{Cache, CacheMode, CacheOptions};
use crate::filter::fault::{Fault, FaultOptions};
use crate::filter::stats::{Stats, StatsOptions};

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
            help: "a write of at most this size into a clean cache is written behind right after it completes; 0: never",
        },
        ParamDoc {
            key: "interval",
            kind: ParamKind::Duration,
            default: Some("1s"),
            help: "lazy writer period",
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
    if let Some(size) = p.get_size("size")? {
        o.size = size;
    }
    o.mode = match p.get_enum("mode", CACHE_MODES)? {
        Some("writethrough") => CacheMode::WriteThrough,
        Some("unsafe") => CacheMode::Unsafe,
        _ => CacheMode::WriteBack,
    };
    if let Some(block) = p.get_size("block")? {
        o.block_size = u32::try_from(block).map_err(|_| p.invalid("block", "too large"))?;
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
    if let Some(interval) = p.get_duration("interval")? {
        o.lazy_interval = interval;
    }
    if let Some(share) = p.get_u64("share")? {
        o.lazy_share = u32::try_from(share).map_err(|_| p.invalid("share", "too large"))?;
    }
    let lower = ctx.lower(lower)?;
    Cache::create(ctx.device_name(), o, lower).map_err(|e| SpecError::build_failed(layer, e))
}

/// Takes every parameter of a layer as (key, value) text, marking each one used; the
/// value of `path_key` is resolved against the build's base directory.
fn all_params(layer: &mut LayerSpec, ctx: &BuildContext, path_key: &str) -> Vec<(String, String)> {
    let keys: Vec<String> = layer.params.iter().map(|(k, _)| k.to_owned()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let v = layer.params.get_str(&k)?.to_owned();
            let v = if k == path_key { ctx.resolve_path(&v).display().to_string() } else { v };
            Some((k, v))
        })
        .collect()
}

/// `fault(op=write,error=EIO,rate=0.1,...)`: error and latency injection ([`Fault`]).
pub const FAULT: DriverFactory = DriverFactory {
    name: "fault",
    summary: "injects errors, latency, or a lying flush (flush=drop) into requests passing through",
    params: &[
        ParamDoc {
            key: "op",
            kind: ParamKind::Str,
            default: Some("all"),
            help: "read|write|flush|discard|zero|all, joined by + (alias: ops)",
        },
        ParamDoc { key: "ops", kind: ParamKind::Str, default: None, help: "same as op" },
        ParamDoc {
            key: "error",
            kind: ParamKind::Str,
            default: Some("EIO"),
            help: "errno name to fail with (EIO, ENOSPC, EPERM, EROFS, ...)",
        },
        ParamDoc {
            key: "delay",
            kind: ParamKind::Duration,
            default: None,
            help: "delay matching requests instead of failing them",
        },
        ParamDoc {
            key: "flush",
            kind: ParamKind::Enum(&["drop"]),
            default: None,
            help: "drop: complete flushes without forwarding them (a lie, for testing applications)",
        },
        ParamDoc { key: "rate", kind: ParamKind::Str, default: Some("1"), help: "probability (0.1 or 10%)" },
        ParamDoc { key: "nth", kind: ParamKind::U64, default: None, help: "only the Nth matching request" },
        ParamDoc {
            key: "after",
            kind: ParamKind::U64,
            default: None,
            help: "only requests after the first N",
        },
        ParamDoc {
            key: "trigger",
            kind: ParamKind::Path,
            default: None,
            help: "active only while this file exists",
        },
        ParamDoc { key: "seed", kind: ParamKind::U64, default: Some("0"), help: "seed of the rate draws" },
    ],
    kind: LayerKind::Filter,
    build: build_fault,
};

fn build_fault(
    layer: &mut LayerSpec,
    lower: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let params = all_params(layer, ctx, "trigger");
    let options = FaultOptions::from_params(params).map_err(|e| SpecError::build_failed(layer, e))?;
    let lower = ctx.lower(lower)?;
    Fault::create(ctx.device_name(), options, lower).map_err(|e| SpecError::build_failed(layer, e))
}

/// `stats(file=stats.json,interval=10s)`: counters and latency histograms ([`Stats`]).
pub const STATS: DriverFactory = DriverFactory {
    name: "stats",
    summary: "counts requests, bytes, errors and latency per function (flush included); report at shutdown",
    params: &[
        ParamDoc {
            key: "file",
            kind: ParamKind::Path,
            default: None,
            help: "write the report (JSON) here, every interval and at shutdown",
        },
        ParamDoc {
            key: "interval",
            kind: ParamKind::Duration,
            default: Some("10s"),
            help: "how often the file is rewritten (0 = only at shutdown)",
        },
    ],
    kind: LayerKind::Filter,
    build: build_stats,
};

fn build_stats(
    layer: &mut LayerSpec,
    lower: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let params = all_params(layer, ctx, "file");
    let options = StatsOptions::from_params(params).map_err(|e| SpecError::build_failed(layer, e))?;
    let lower = ctx.lower(lower)?;
    Stats::create(ctx.device_name(), options, lower).map_err(|e| SpecError::build_failed(layer, e))
}
