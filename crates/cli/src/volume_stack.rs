//! Stacks for the file-system commands: the device a volume lives on (the spec without a
//! top `fs` layer), and the volume mounted (the spec with one, added when missing).

use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use fs::lower_device::LowerDevice;
use irp::{DeviceRef, IoManager, units};
use stack::{BuildContext, DriverRegistry, LayerSpec, Params, StackSpec};

/// The name the mounted volume is registered under.
pub const VOLUME: &str = "vol";

fn parse(text: &str) -> anyhow::Result<StackSpec> {
    text.parse::<StackSpec>().map_err(|e| anyhow!("{e}"))
}

fn is_fs(layer: &LayerSpec) -> bool {
    layer.driver == "fs"
}

/// Builds the stack `text` describes without a top `fs(...)` layer: the device the volume
/// is on (a file, a disk under a cache...).
pub fn build_device(text: &str, ctx: &BuildContext) -> anyhow::Result<DeviceRef> {
    let mut spec = parse(text)?;
    if spec.layers.first().is_some_and(is_fs) {
        spec.layers.remove(0);
    }
    if spec.layers.is_empty() {
        anyhow::bail!("the stack has no device below `fs`");
    }
    DriverRegistry::builtin().build(&spec, ctx).map_err(|e| anyhow!("{e}"))
}

/// How a command mounts the volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read-only (`ro=true` unless the spec's `fs` layer says otherwise): the device is not
    /// written, a dirty journal is replayed into memory.
    Read,
    /// Read-write (the `fs` layer's default).
    Write,
}

/// Builds the stack with the volume mounted on top (an `fs` layer is added when the spec
/// has none: `file(path=x.img)` mounts as `fs / file(path=x.img)`; with [`Mode::Read`] the
/// layer gets `ro=true` unless it names `ro` itself), registered under [`VOLUME`] in a new
/// I/O manager.
pub fn mount(text: &str, mode: Mode) -> anyhow::Result<(Arc<IoManager>, DeviceRef)> {
    let mut spec = parse(text)?;
    if !spec.layers.first().is_some_and(is_fs) {
        spec.layers.insert(0, LayerSpec::new("fs", Params::new()));
    }
    let fs = &mut spec.layers[0];
    if mode == Mode::Read && !fs.params.contains("ro") {
        fs.params.insert("ro", "true").map_err(|e| anyhow!("{e}"))?;
    }
    let top = DriverRegistry::builtin().build(&spec, &BuildContext::new()).map_err(|e| anyhow!("{e}"))?;
    let io = Arc::new(IoManager::new());
    io.register(VOLUME, &top).context("registering the volume")?;
    Ok((io, top))
}

/// How [`mount_checked`] mounts.
#[derive(Debug, Clone, Copy, Default)]
pub struct MountPlan {
    /// Mount read-only (`ro=true` on the `fs` layer; a spec saying `ro=false` is refused).
    pub read_only: bool,
    /// Check the volume first (`irpstack fsck`'s check) and refuse it when it has errors.
    pub check: bool,
}

/// Builds the device of `text` (the spec without its `fs` layer), checks the volume on it
/// when asked, then mounts the `fs` layer (the spec's, or a default one) over it; the
/// volume is registered under [`VOLUME`] in a new I/O manager.
pub fn mount_checked(text: &str, plan: MountPlan) -> anyhow::Result<(Arc<IoManager>, DeviceRef)> {
    let mut spec = parse(text)?;
    let mut fs_layer = if spec.layers.first().is_some_and(is_fs) {
        spec.layers.remove(0)
    } else {
        LayerSpec::new("fs", Params::new())
    };
    let Some(disk) = spec.layers.last().cloned() else { bail!("the stack has no device below `fs`") };
    if plan.read_only {
        match fs_layer.params.peek("ro").map(units::parse_bool) {
            None => fs_layer.params.insert("ro", "true").map_err(|e| anyhow!("{e}"))?,
            Some(Ok(true)) => {}
            Some(_) => bail!(
                "-o ro asks for a read-only mount but the spec's fs layer says ro={}",
                fs_layer.params.peek("ro").unwrap_or("")
            ),
        }
    }
    let registry = DriverRegistry::builtin();
    let ctx = BuildContext::new();
    let device = registry.build(&spec, &ctx).map_err(|e| anyhow!("{e}"))?;
    if plan.check {
        let dev = LowerDevice::new(&device).map_err(|e| anyhow!("reading the volume: {e}"))?;
        let report = fs::fsck::check(&dev).context("checking the volume")?;
        if !report.is_clean() {
            let errors =
                report.errors().count() + report.suppressed.iter().map(|&(_, n)| n as usize).sum::<usize>();
            let first = report.errors().next().map(ToString::to_string).unwrap_or_default();
            bail!(
                "the volume fails its check ({errors} errors; the first: {first}): not mounted. \
                 See them all with `irpstack fsck --stack '{text}'`; repair with e2fsck"
            );
        }
    }
    let over = StackSpec::new(vec![fs_layer, disk]);
    let top = registry.build_over(&over, &device, &ctx).map_err(|e| anyhow!("{e}"))?;
    let io = Arc::new(IoManager::new());
    io.register(VOLUME, &top).context("registering the volume")?;
    Ok((io, top))
}
