// MdlAfterReqCompletedReadA: KeFlushIoBuffers on a read's MDL after completing it.
use irp::cpu_cache::{flush_io_buffers, Direction, Transfer};
use irp::{DeviceRef, Driver, Irp, Status};

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
