//! The factories of this crate's drivers. A new driver is one more `DriverFactory`
//! constant (ideally next to the driver) and one more entry in [`ALL`].

use irp::null::{NullDevice, Passthrough};
use irp::{DeviceBuilder, DeviceRef};

use super::registry::{BuildContext, DriverFactory, LayerKind, ParamDoc, ParamKind};
use super::{LayerSpec, SpecError};
use crate::disk::memory::MemoryDisk;

/// Every driver [`DriverRegistry::builtin`](super::DriverRegistry::builtin) registers.
pub(super) const ALL: &[DriverFactory] = &[
    MEMORY,
    NULL,
    PASSTHROUGH,
    super::builtin_disks::CRASH,
    super::builtin_disks::FILE,
    super::builtin_nbd::NBD,
    crate::disk::pmem::PMEM,
    super::builtin_filters::CACHE,
    super::builtin_filters::FAULT,
    super::builtin_filters::STATS,
];

/// `memory(size=1G,sector=512)`: a RAM disk ([`MemoryDisk`]).
pub const MEMORY: DriverFactory = DriverFactory {
    name: "memory",
    summary: "a RAM disk: fast, sparse, and not durable (nothing survives the process)",
    params: &[
        ParamDoc {
            key: "size",
            kind: ParamKind::Size,
            default: Some("1G"),
            help: "disk size (or the build context's default size)",
        },
        ParamDoc {
            key: "sector",
            kind: ParamKind::Size,
            default: Some("512"),
            help: "logical sector size, a power of two from 512 to 64K",
        },
    ],
    kind: LayerKind::Bottom,
    build: build_memory,
};

fn build_memory(
    layer: &mut LayerSpec,
    _: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let params = &mut layer.params;
    let size = params.get_size("size")?.or(ctx.default_size()).unwrap_or(1 << 30);
    let sector = params.get_size("sector")?.unwrap_or(512);
    let sector = match u32::try_from(sector) {
        Ok(s) if s.is_power_of_two() && (512..=65536).contains(&s) => s,
        _ => return Err(params.invalid("sector", "must be a power of two from 512 to 64K")),
    };
    if size == 0 || !size.is_multiple_of(u64::from(sector)) {
        return Err(
            params.invalid("size", format!("must be a non-zero multiple of the sector size ({sector})"))
        );
    }
    MemoryDisk::create(ctx.device_name(), size, sector).map_err(|e| SpecError::build_failed(layer, e))
}

/// `null`: `\Device\Null` ([`NullDevice`]): reads leave the buffer alone, everything
/// else succeeds at once.
pub const NULL: DriverFactory = DriverFactory {
    name: "null",
    summary: "\\Device\\Null: every request succeeds at once and nothing is stored",
    params: &[],
    kind: LayerKind::Bottom,
    build: build_null,
};

fn build_null(
    layer: &mut LayerSpec,
    _: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    DeviceBuilder::new(ctx.device_name()).build(NullDevice).map_err(|e| SpecError::build_failed(layer, e))
}

/// `passthrough`: a filter that forwards every request unchanged ([`Passthrough`]).
pub const PASSTHROUGH: DriverFactory = DriverFactory {
    name: "passthrough",
    summary: "forwards every request unchanged",
    params: &[],
    kind: LayerKind::Filter,
    build: build_passthrough,
};

fn build_passthrough(
    layer: &mut LayerSpec,
    lower: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    DeviceBuilder::new(ctx.device_name())
        .attach(Passthrough, ctx.lower(lower)?)
        .map_err(|e| SpecError::build_failed(layer, e))
}
