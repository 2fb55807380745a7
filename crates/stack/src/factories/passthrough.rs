//! The `passthrough` layer: a filter that forwards everything.

use filters::passthrough::Passthrough;
use irp::DeviceBuilder;
use irp::DeviceRef;

use crate::{BuildContext, DriverFactory, LayerKind, LayerSpec, SpecError};

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
