//! The `fs(...)` layer: the ext4 file-system driver, mounted on the stack below it.

use fs::driver::{FsDriver, MountOptions};
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, ParamDoc, ParamKind, SpecError};

/// `fs(ro=false,commit=5s)`: mounts the ext4 volume on the stack below and serves its files
/// ([`FsDriver`]), read-write unless asked (or the device or the volume can only be read).
pub const FS: DriverFactory = DriverFactory {
    name: "fs",
    summary: "the ext4 file system, journaled: serves the files of the volume below (create, read, write, directories, rename, links, xattrs, flush)",
    params: &[
        ParamDoc {
            key: "ro",
            kind: ParamKind::Bool,
            default: Some("false"),
            help: "mount read-only: changes answer STATUS_MEDIA_WRITE_PROTECTED and a dirty journal is replayed into memory only (a read-only device, or a volume with unknown ro_compat features, no journal or no extents, mounts read-only anyway, saying why)",
        },
        ParamDoc {
            key: "commit",
            kind: ParamKind::Duration,
            default: Some("5s"),
            help: "longest time the journal's running transaction stays open before it is committed (read-write mounts; a flush commits at once)",
        },
        ParamDoc {
            key: "checksums",
            kind: ParamKind::Bool,
            default: Some("true"),
            help: "verify metadata_csum checksums of what is read (false only to look at a damaged volume)",
        },
    ],
    kind: LayerKind::Filter,
    build: build_fs,
};

fn build_fs(
    layer: &mut LayerSpec,
    lower: Option<&DeviceRef>,
    ctx: &BuildContext,
) -> Result<DeviceRef, SpecError> {
    let p = &mut layer.params;
    let mut o = MountOptions::default();
    if let Some(ro) = p.get_bool("ro")? {
        o.read_only = ro;
    }
    if let Some(commit) = p.get_duration("commit")? {
        if commit.is_zero() {
            return Err(p.invalid("commit", "must be longer than 0"));
        }
        o.commit_interval = commit;
    }
    if let Some(checksums) = p.get_bool("checksums")? {
        o.verify_checksums = checksums;
    }
    let lower = ctx.lower(lower)?;
    FsDriver::attach(ctx.device_name(), lower, o).map_err(|e| SpecError::build_failed(layer, e))
}
