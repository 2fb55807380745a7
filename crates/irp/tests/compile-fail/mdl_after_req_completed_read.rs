// MdlAfterReqCompletedReadA: KeFlushIoBuffers on a read's MDL after completing it.
use irp::{flush_io_buffers, DeviceRef, Direction, Driver, Irp, Status, Transfer};

struct ReadDriver;

impl Driver for ReadDriver {
    fn read(&self, _device: &DeviceRef, irp: Irp) -> Status {
        let mdl = irp.mdl().expect("a read carries an MDL");
        let status = irp.complete(Status::SUCCESS);
        flush_io_buffers(mdl, Direction::FromDevice, Transfer::Dma);
        status
    }
}

fn main() {}
