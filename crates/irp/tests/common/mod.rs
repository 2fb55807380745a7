//! Drivers shared by the integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use irp::block::{BlockDisk, BlockRequest, DiskDriver, DiskInfo};
use irp::{Characteristics, Completion, DeviceBuilder, DeviceRef, Driver, Irp, Status};

/// A RAM disk for tests: handles read, write, flush (counts them), query size. A disk of
/// the core's own vocabulary ([`irp::block::BlockDisk`]), run by [`DiskDriver`].
pub struct RamDisk {
    pub data: Mutex<Vec<u8>>,
    pub flushes: AtomicUsize,
    pub shutdowns: AtomicUsize,
}

impl RamDisk {
    /// The driver of a zeroed RAM disk of `size` bytes.
    pub fn new(size: usize) -> DiskDriver<RamDisk> {
        DiskDriver::new(RamDisk {
            data: Mutex::new(vec![0; size]),
            flushes: AtomicUsize::new(0),
            shutdowns: AtomicUsize::new(0),
        })
    }

    /// The RAM disk at the bottom of `top`'s stack.
    pub fn of(top: &DeviceRef) -> &RamDisk {
        top.bottom().driver_as::<DiskDriver<RamDisk>>().expect("a RAM disk at the bottom").disk()
    }
}

impl BlockDisk for RamDisk {
    fn disk_info(&self) -> DiskInfo {
        let size = self.data.lock().unwrap().len() as u64;
        DiskInfo { size, sector_size: 512, volatile_cache: false, durable: false }
    }
    fn serve(&self, mut irp: Irp) -> Status {
        let request = match BlockRequest::decode(&irp, &self.disk_info()) {
            Ok(request) => request,
            Err(status) => return irp.complete(status),
        };
        let mut data = self.data.lock().unwrap();
        match request {
            BlockRequest::Read { offset, length } => {
                let Some(buf) = irp.mdl_mut().and_then(|m| m.bytes_mut()) else {
                    return irp.complete(Status::INVALID_PARAMETER);
                };
                let o = offset as usize;
                buf[..length].copy_from_slice(&data[o..o + length]);
                drop(data);
                irp.complete_with(Status::SUCCESS, length as u64)
            }
            BlockRequest::Write { offset, length, .. } => {
                let o = offset as usize;
                data[o..o + length]
                    .copy_from_slice(&irp.mdl().expect("decode checked the MDL").bytes()[..length]);
                drop(data);
                irp.complete_with(Status::SUCCESS, length as u64)
            }
            BlockRequest::Discard { .. } | BlockRequest::WriteZeroes { .. } => {
                drop(data);
                irp.complete(Status::INVALID_DEVICE_REQUEST)
            }
        }
    }
    fn flush(&self, irp: Irp, _syncs_device: bool) -> Status {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        irp.complete(Status::SUCCESS)
    }
    fn shutdown(&self, irp: Irp) -> Status {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
        irp.complete(Status::SUCCESS)
    }
}

/// A filter that does nothing of its own: every major function is forwarded by default.
pub struct Passthrough;
impl Driver for Passthrough {}

/// A device that completes everything with a fixed status.
pub struct Fixed(pub Status);
impl Driver for Fixed {
    fn read(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(self.0)
    }
    fn write(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(self.0)
    }
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(self.0)
    }
}

/// A bottom device that handles nothing (every request: INVALID_DEVICE_REQUEST).
pub struct Nothing;
impl Driver for Nothing {}

/// A RAM disk stack: `ram` at the bottom, then `filters` passthrough filters.
pub fn ram_stack(size: usize, filters: usize, characteristics: Characteristics) -> DeviceRef {
    let mut top =
        DeviceBuilder::new("ram").characteristics(characteristics).build(RamDisk::new(size)).unwrap();
    for i in 0..filters {
        top = irp::Device::attach(format!("filter{i}"), Passthrough, &top).unwrap();
    }
    top
}

/// Records the order completion routines run in.
#[derive(Default, Clone)]
pub struct Trace(pub Arc<Mutex<Vec<String>>>);
impl Trace {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A filter that copies its location and records its completion routine running.
pub struct Recorder {
    pub name: &'static str,
    pub trace: Trace,
}
impl Driver for Recorder {
    fn read(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        self.trace.push(format!("down {}", self.name));
        irp.copy_current_location_to_next();
        irp.set_completion_routine(device, 7, irp::InvokeOn::ALWAYS);
        device.lower().unwrap().call(irp)
    }
    fn completion(&self, _: &DeviceRef, irp: Irp, context: usize) -> Completion {
        assert_eq!(context, 7);
        self.trace.push(format!("up {} {:?}", self.name, irp.io_status().status));
        Completion::Continue(irp)
    }
}
