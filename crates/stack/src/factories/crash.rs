//! The `crash(...)` layer: the crash-simulation disk.

use disks::crash::{CrashDisk, CrashDiskOptions};
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError};

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
        super::LOCKING,
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
    // The crash disk keeps its image in memory twice (durable and live).
    let size = p.get_size_in("size", 1..=super::physical_memory() / 2)?.or(if path.is_none() {
        ctx.default_size()
    } else {
        None
    });
    if path.is_none() && size.is_none() {
        return Err(p.missing("size"));
    }
    let control_file = p.get_str("control").map(|s| ctx.resolve_path(s));
    let on_sigusr1 = p.get_bool("sigusr1")?.unwrap_or(false);
    let locking = super::locking(p)?;
    Ok(CrashDiskOptions { size, sector_size: Some(sector), path, control_file, on_sigusr1, locking })
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
