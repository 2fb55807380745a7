//! Drivers shared by the integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use irp::{
    Characteristics, Completion, DeviceBuilder, DeviceRef, Driver, InformationClass, Irp, Parameters, Status,
};

/// A RAM disk for tests: handles read, write, flush (counts them), query size.
pub struct RamDisk {
    pub data: Mutex<Vec<u8>>,
    pub flushes: AtomicUsize,
    pub shutdowns: AtomicUsize,
}

impl RamDisk {
    pub fn new(size: usize) -> RamDisk {
        RamDisk {
            data: Mutex::new(vec![0; size]),
            flushes: AtomicUsize::new(0),
            shutdowns: AtomicUsize::new(0),
        }
    }
}

impl Driver for RamDisk {
    fn create(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn cleanup(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn close(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn read(&self, _: &DeviceRef, mut irp: Irp) -> Status {
        let Parameters::Read { offset, length } = *irp.parameters() else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        let data = self.data.lock().unwrap();
        let (o, n) = (offset as usize, length as usize);
        if o + n > data.len() {
            return irp.complete(Status::END_OF_FILE);
        }
        let Some(buf) = irp.mdl_mut().and_then(|m| m.bytes_mut()) else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        buf[..n].copy_from_slice(&data[o..o + n]);
        drop(data);
        irp.complete_with(Status::SUCCESS, n as u64)
    }
    fn write(&self, _: &DeviceRef, irp: Irp) -> Status {
        let Parameters::Write { offset, length } = *irp.parameters() else {
            return irp.complete(Status::INVALID_PARAMETER);
        };
        let mut data = self.data.lock().unwrap();
        let (o, n) = (offset as usize, length as usize);
        if o + n > data.len() {
            return irp.complete(Status::DISK_FULL);
        }
        let Some(mdl) = irp.mdl() else { return irp.complete(Status::INVALID_PARAMETER) };
        data[o..o + n].copy_from_slice(&mdl.bytes()[..n]);
        drop(data);
        irp.complete_with(Status::SUCCESS, n as u64)
    }
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        irp.complete(Status::SUCCESS)
    }
    fn shutdown(&self, _: &DeviceRef, irp: Irp) -> Status {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
        irp.complete(Status::SUCCESS)
    }
    fn query_information(&self, _: &DeviceRef, irp: Irp) -> Status {
        match irp.parameters() {
            Parameters::Information { class: InformationClass::Standard, .. } => {
                let size = self.data.lock().unwrap().len() as u64;
                irp.complete_with(Status::SUCCESS, size)
            }
            _ => irp.complete(Status::INVALID_PARAMETER),
        }
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
