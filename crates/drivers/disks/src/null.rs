//! The null device (`\Device\Null`): a bottom device that stores nothing.

use irp::{DeviceRef, Driver, InformationClass, Irp, Parameters, Status};

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
