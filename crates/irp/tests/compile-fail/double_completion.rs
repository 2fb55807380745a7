// DoubleCompletion: completing the same IRP twice.
use irp::{DeviceRef, Driver, Irp, Status};

struct DoubleCompleter;

impl Driver for DoubleCompleter {
    fn flush_buffers(&self, _device: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS);
        irp.complete(Status::SUCCESS)
    }
}

fn main() {}
