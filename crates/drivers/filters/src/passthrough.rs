//! The pass-through filter: no behaviour of its own.

use irp::{Device, DeviceError, DeviceRef, Driver};

/// A filter with no behaviour of its own: every major function is forwarded by
/// skipping its stack location (the cheapest forwarding there is).
#[derive(Debug, Default, Clone, Copy)]
pub struct Passthrough;

impl Driver for Passthrough {}

/// `bottom` under `filters` pass-through filters (for measuring what a layer costs).
pub fn stack_over(bottom: DeviceRef, filters: usize) -> Result<DeviceRef, DeviceError> {
    let mut top = bottom;
    for i in 0..filters {
        top = Device::attach(format!("passthrough{i}"), Passthrough, &top)?;
    }
    Ok(top)
}
