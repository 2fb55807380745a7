//! The IRP life cycle: skip vs copy, completion routines, pending, keeping the IRP,
//! completion from other threads, cancellation, synchronous and asynchronous callers.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use irp::{
    Characteristics, Completion, Device, DeviceBuilder, DeviceRef, Driver, InvokeOn, Irp, MajorFunction, Mdl,
    Parameters, Status,
};

fn read_irp(dev: &DeviceRef, offset: u64, len: usize) -> Irp {
    Irp::for_device(dev, MajorFunction::Read)
        .with_parameters(Parameters::Read { offset, length: len as u32 })
        .with_mdl(Mdl::with_len(len).unwrap())
}

#[test]
fn stack_size_and_inherited_properties() {
    let bottom =
        DeviceBuilder::new("disk").sector_size(4096).alignment(512).build(RamDisk::new(4096)).unwrap();
    let f1 = Device::attach("f1", Passthrough, &bottom).unwrap();
    let f2 = DeviceBuilder::new("f2").alignment(4096).attach(Passthrough, &bottom).unwrap();
    assert_eq!(bottom.stack_size(), 1);
    assert_eq!(f1.stack_size(), 2);
    // Attaching to a device that already has one above attaches to the top.
    assert_eq!(f2.stack_size(), 3);
    assert_eq!(f2.lower().unwrap().name(), "f1");
    assert_eq!(f1.sector_size(), 4096);
    assert_eq!(f1.alignment(), 512);
    assert_eq!(f2.alignment(), 4096);
    assert_eq!(bottom.attached_top().name(), "f2");
    assert_eq!(f2.stack_names(), ["f2", "f1", "disk"]);
}

#[test]
fn stack_depth_is_bounded() {
    let mut top = Device::new("disk", Nothing);
    for i in 1..irp::MAX_STACK_SIZE {
        top = Device::attach(format!("f{i}"), Passthrough, &top).unwrap();
    }
    let err = Device::attach("one-too-many", Passthrough, &top).unwrap_err();
    assert!(err.to_string().contains("one-too-many"), "{err}");
}

#[test]
fn filters_forward_by_default_and_bottom_devices_answer_invalid_device_request() {
    let top = ram_stack(4096, 3, Characteristics::NONE);
    let done = top.call_and_wait(read_irp(&top, 0, 512));
    assert_eq!(done.status(), Status::SUCCESS);
    assert_eq!(done.information(), 512);

    let bare = Device::new("bare", Nothing);
    let filtered = Device::attach("f", Passthrough, &bare).unwrap();
    for major in MajorFunction::ALL {
        let done = filtered.call_and_wait(Irp::for_device(&filtered, major));
        assert_eq!(done.status(), Status::INVALID_DEVICE_REQUEST, "{major}");
    }
}

#[test]
fn completion_routines_run_bottom_up() {
    let trace = Trace::default();
    let disk = Device::new("disk", RamDisk::new(4096));
    let a = Device::attach("a", Recorder { name: "a", trace: trace.clone() }, &disk).unwrap();
    let b = Device::attach("b", Passthrough, &a).unwrap();
    let c = Device::attach("c", Recorder { name: "c", trace: trace.clone() }, &b).unwrap();
    let done = c.call_and_wait(read_irp(&c, 0, 512));
    assert_eq!(done.status(), Status::SUCCESS);
    assert_eq!(trace.get(), ["down c", "down a", "up a STATUS_SUCCESS", "up c STATUS_SUCCESS"]);
}

#[test]
fn invoke_on_filters_which_outcomes_run_the_routine() {
    for (status, on, runs) in [
        (Status::SUCCESS, InvokeOn::SUCCESS, true),
        (Status::SUCCESS, InvokeOn::ERROR, false),
        (Status::IO_DEVICE_ERROR, InvokeOn::ERROR, true),
        (Status::IO_DEVICE_ERROR, InvokeOn::SUCCESS, false),
        (Status::SUCCESS, InvokeOn::CANCEL, false),
    ] {
        struct Reg(InvokeOn, Arc<Mutex<bool>>);
        impl Driver for Reg {
            fn write(&self, device: &DeviceRef, mut irp: Irp) -> Status {
                irp.copy_current_location_to_next();
                let ran = Arc::clone(&self.1);
                irp.set_completion_fn(self.0, move |irp| {
                    *ran.lock().unwrap() = true;
                    Completion::Continue(irp)
                });
                device.lower().unwrap().call(irp)
            }
        }
        let ran = Arc::new(Mutex::new(false));
        let bottom = Device::new("fixed", Fixed(status));
        let top = Device::attach("reg", Reg(on, Arc::clone(&ran)), &bottom).unwrap();
        let done = top.call_and_wait(Irp::for_device(&top, MajorFunction::Write));
        assert_eq!(done.status(), status);
        assert_eq!(*ran.lock().unwrap(), runs, "{status:?} {on:?}");
    }
}

/// A bottom device that pends every request and completes it from another thread.
struct Async;
impl Driver for Async {
    fn read(&self, _: &DeviceRef, mut irp: Irp) -> Status {
        irp.mark_pending();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(5));
            irp.complete_with(Status::SUCCESS, 3);
        });
        Status::PENDING
    }
}

#[test]
fn pending_propagates_and_completion_happens_on_another_thread() {
    let trace = Trace::default();
    let disk = Device::new("async", Async);
    let f = Device::attach("rec", Recorder { name: "rec", trace: trace.clone() }, &disk).unwrap();
    let top = Device::attach("skip", Passthrough, &f).unwrap();
    let (tx, rx) = mpsc::channel();
    let caller = thread::current().id();
    let status = top.submit(read_irp(&top, 0, 8).with_user_data(42), move |done| {
        tx.send((done.status(), done.information(), done.user_data(), thread::current().id())).unwrap();
    });
    assert_eq!(status, Status::PENDING);
    let (status, info, user, thread_id) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!((status, info, user), (Status::SUCCESS, 3, 42));
    assert_ne!(thread_id, caller);
    assert_eq!(trace.get(), ["down rec", "up rec STATUS_SUCCESS"]);
}

/// A filter whose completion routine keeps the IRP and completes it later from a thread.
struct Keeper;
impl Driver for Keeper {
    fn read(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        irp.mark_pending();
        irp.copy_current_location_to_next();
        irp.set_completion_routine(device, 0, InvokeOn::ALWAYS);
        let _ = device.lower().unwrap().call(irp);
        Status::PENDING
    }
    fn completion(&self, _: &DeviceRef, mut irp: Irp, _: usize) -> Completion {
        thread::spawn(move || {
            let info = irp.io_status().information;
            irp.set_information(info + 100);
            irp.complete(Status::SUCCESS);
        });
        Completion::MoreProcessingRequired
    }
}

#[test]
fn a_completion_routine_can_keep_the_irp_and_complete_it_later() {
    let disk = Device::new("ram", RamDisk::new(4096));
    let top = Device::attach("keeper", Keeper, &disk).unwrap();
    let done = top.call_and_wait(read_irp(&top, 0, 16));
    assert_eq!(done.status(), Status::SUCCESS);
    assert_eq!(done.information(), 116);
}

/// A filter that forwards synchronously, looks at the result, then completes.
struct SyncForward;
impl Driver for SyncForward {
    fn read(&self, device: &DeviceRef, irp: Irp) -> Status {
        let irp = irp.forward_synchronously(device.lower().unwrap());
        let st = irp.io_status();
        irp.complete_with(st.status, st.information * 2)
    }
}

#[test]
fn forward_synchronously_returns_the_irp_to_the_caller() {
    let disk = Device::new("async", Async);
    let top = Device::attach("sync", SyncForward, &disk).unwrap();
    let done = top.call_and_wait(read_irp(&top, 0, 8));
    assert_eq!((done.status(), done.information()), (Status::SUCCESS, 6));
}

/// A bottom device that queues IRPs until cancelled.
#[derive(Default)]
struct Queue {
    queued: Arc<Mutex<Vec<Irp>>>,
}
impl Driver for Queue {
    fn read(&self, _: &DeviceRef, mut irp: Irp) -> Status {
        irp.mark_pending();
        let id = irp.id();
        let queue = Arc::clone(&self.queued);
        let set = irp.set_cancel_routine(move || {
            let mut q = queue.lock().unwrap();
            if let Some(i) = q.iter().position(|i| i.id() == id) {
                let irp = q.swap_remove(i);
                drop(q);
                irp.complete(Status::CANCELLED);
            }
        });
        if !set {
            irp.complete(Status::CANCELLED);
            return Status::PENDING;
        }
        self.queued.lock().unwrap().push(irp);
        Status::PENDING
    }
}

#[test]
fn cancellation_runs_the_cancel_routine_and_cancel_completion_routines() {
    let trace = Trace::default();
    let disk = Device::new("queue", Queue::default());
    let top = Device::attach("rec", Recorder { name: "rec", trace: trace.clone() }, &disk).unwrap();
    let (tx, rx) = mpsc::channel();
    let irp = read_irp(&top, 0, 8);
    let cancel = irp.cancel_handle();
    assert_eq!(top.submit_to(irp, tx), Status::PENDING);
    assert!(rx.try_recv().is_err(), "queued, not completed");
    assert!(cancel.cancel(), "the cancel routine ran");
    let done = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(done.status(), Status::CANCELLED);
    assert_eq!(trace.get(), ["down rec", "up rec STATUS_CANCELLED"]);
    // Cancelling again is harmless.
    assert!(!cancel.cancel());
}

#[test]
fn many_irps_in_flight_through_a_channel() {
    let disk = Device::new("async", Async);
    let top = Device::attach("skip", Passthrough, &disk).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 0..64u64 {
        assert_eq!(top.submit_to(read_irp(&top, 0, 8).with_user_data(i), tx.clone()), Status::PENDING);
    }
    let mut seen: Vec<u64> =
        (0..64).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap().user_data()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..64).collect::<Vec<_>>());
}

#[test]
fn a_read_fills_the_callers_mdl() {
    let top = ram_stack(8192, 2, Characteristics::NONE);
    {
        let ram = RamDisk::of(&top);
        ram.data.lock().unwrap()[4096..4100].copy_from_slice(b"irp!");
    }
    let mut done = top.call_and_wait(read_irp(&top, 4096, 4));
    assert_eq!(done.status(), Status::SUCCESS);
    assert_eq!(done.take_mdl().unwrap().bytes(), b"irp!");
}
