//! Two trivial drivers every stack can use: the null device (`\Device\Null`) and a
//! pass-through filter.

use crate::Status;
use crate::device::{Device, DeviceError, DeviceRef};
use crate::driver::Driver;
use crate::function::{InformationClass, Parameters};
use crate::request::Irp;

/// `\Device\Null`: reads return zero bytes... of the length asked (the buffer is left
/// as it is), writes, flushes and everything else succeed at once. The size it reports
/// is `u64::MAX`.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullDevice;

impl NullDevice {
    fn succeed(irp: Irp) -> Status {
        let information = match irp.parameters() {
            Parameters::Read { length, .. } | Parameters::Write { length, .. } => u64::from(*length),
            Parameters::Information { class: InformationClass::Standard, .. } => u64::MAX,
            _ => 0,
        };
        irp.complete_with(Status::SUCCESS, information)
    }
}

impl Driver for NullDevice {
    fn create(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
    fn cleanup(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
    fn close(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
    fn read(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
    fn write(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
    fn shutdown(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
    fn query_information(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
    fn discard(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
    fn write_zeroes(&self, _: &DeviceRef, irp: Irp) -> Status {
        NullDevice::succeed(irp)
    }
}

/// A filter with no behaviour of its own: every major function is forwarded by
/// skipping its stack location (the cheapest forwarding there is).
#[derive(Debug, Default, Clone, Copy)]
pub struct Passthrough;

impl Driver for Passthrough {}

/// A null device under `filters` pass-through filters (for benchmarks and tests).
pub fn null_stack(filters: usize) -> Result<DeviceRef, DeviceError> {
    let mut top = Device::new("null", NullDevice);
    for i in 0..filters {
        top = Device::attach(format!("passthrough{i}"), Passthrough, &top)?;
    }
    Ok(top)
}
