//! The `pmem(...)` layer: a memory-mapped file (persistent memory).

use disks::pmem::{PmemDisk, PmemDiskOptions, SyncMode};
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError};

const SYNC_MODES: &[&str] = &["auto", "msync", "map-sync"];

/// `pmem(path=disk.pmem,size=1G,sync=auto)`: a memory-mapped file, persistent memory on a
/// DAX file system ([`PmemDisk`]).
pub const PMEM: DriverFactory = DriverFactory {
    name: "pmem",
    summary: "a memory-mapped file (persistent memory on DAX): CPU copies with cache-line write-back; \
              flush = drain, plus msync without MAP_SYNC",
    params: &[
        ParamDoc { key: "path", kind: ParamKind::Path, default: None, help: "the file (required)" },
        ParamDoc {
            key: "size",
            kind: ParamKind::Size,
            default: None,
            help: "create or extend (sparse) to this size; default: the existing size, or the build's default size for a new file",
        },
        ParamDoc {
            key: "sync",
            kind: ParamKind::Enum(SYNC_MODES),
            default: Some("auto"),
            help: "auto: MAP_SYNC where the file system is DAX, else msync; msync: always msync; \
                   map-sync: MAP_SYNC or fail",
        },
        ParamDoc {
            key: "preallocate",
            kind: ParamKind::Bool,
            default: Some("false"),
            help: "allocate the whole file up front (no SIGBUS from a full file system)",
        },
        super::LOCKING,
    ],
    kind: LayerKind::Bottom,
    build: build_pmem,
};

fn build_pmem(
    layer: &mut LayerSpec,
    _: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let p = &mut layer.params;
    let (path, size) = ctx.image(p)?;
    let mut o = PmemDiskOptions::new(path);
    o.size = size;
    o.sync = match p.get_enum("sync", SYNC_MODES)? {
        Some("msync") => SyncMode::Msync,
        Some("map-sync") => SyncMode::MapSync,
        _ => SyncMode::Auto,
    };
    o.preallocate = p.get_bool("preallocate")?.unwrap_or(false);
    o.locking = super::locking(p)?;
    PmemDisk::create(ctx.device_name(), o).map_err(|e| SpecError::build_failed(layer, e))
}
