// MdlAfterReqCompletedWriteA: MmGetMdlByteCount on a write's MDL after completing it.
use irp::{DeviceRef, Driver, Irp, Status};

struct WriteDriver;

impl Driver for WriteDriver {
    fn write(&self, _device: &DeviceRef, irp: Irp) -> Status {
        let mdl = irp.mdl().expect("a write carries an MDL");
        let status = irp.complete(Status::SUCCESS);
        let _bytes = mdl.byte_count();
        status
    }
}

fn main() {}
