//! The `null` layer: `\\Device\\Null`.

use disks::null::NullDevice;
use irp::DeviceBuilder;
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, SpecError};

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
    DeviceBuilder::new(ctx.device_name())
        .build(irp::block::DiskDriver::new(NullDevice))
        .map_err(|e| SpecError::build_failed(layer, e))
}
