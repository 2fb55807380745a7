// MdlAfterReqCompletedIoctlA: MmGetSystemAddressForMdlSafe on a device control's MDL
// after completing it.
use irp::{DeviceRef, Driver, Irp, Status};

struct IoctlDriver;

impl Driver for IoctlDriver {
    fn device_control(&self, _device: &DeviceRef, mut irp: Irp) -> Status {
        let mdl = irp.mdl_mut().expect("a direct-I/O control carries an MDL");
        let status = irp.complete(Status::SUCCESS);
        let _address = mdl.system_address();
        status
    }
}

fn main() {}
