// MdlAfterReqCompletedIntIoctlA: IoBuildPartialMdl from an internal device control's
// MDL after completing it.
use irp::{DeviceRef, Driver, Irp, Status};

struct InternalIoctlDriver;

impl Driver for InternalIoctlDriver {
    fn internal_device_control(&self, _device: &DeviceRef, irp: Irp) -> Status {
        let mdl = irp.mdl().expect("an internal control carries an MDL");
        let status = irp.complete(Status::SUCCESS);
        let _partial = mdl.build_partial(0, 0);
        status
    }
}

fn main() {}
