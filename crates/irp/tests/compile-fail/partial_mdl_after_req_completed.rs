// MdlAfterReqCompletedReadA through a partial MDL: a driver builds a partial MDL of a
// read's MDL (IoBuildPartialMdl), completes the read, then keeps using the partial MDL, whose
// memory is the request's. The partial MDL borrows the IRP's MDL, so completing the IRP
// (which moves it) while the partial MDL is still used does not compile.
use irp::{DeviceRef, Driver, Irp, Status};

struct SplittingReader;

impl Driver for SplittingReader {
    fn read(&self, _device: &DeviceRef, irp: Irp) -> Status {
        let partial = irp.mdl().expect("a read carries an MDL").build_partial(0, 512).expect("locked");
        let status = irp.complete(Status::SUCCESS);
        let _first = partial.bytes()[0];
        status
    }
}

fn main() {}
