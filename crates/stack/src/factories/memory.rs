//! The `memory(...)` layer: a RAM disk.

use disks::memory::MemoryDisk;
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError};

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
    // Sparse, so any size (that offsets can address) is fine.
    let size = params.get_size_in("size", 1..=1 << 62)?.or(ctx.default_size()).unwrap_or(1 << 30);
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
