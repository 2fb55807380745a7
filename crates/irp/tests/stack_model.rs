//! Property test: random stacks of 1–16 filters with random behaviours, compared with
//! a reference model of NT's completion order and final status.

use std::sync::{Arc, Mutex};
use std::thread;

use irp::{
    Completion, Device, DeviceRef, Driver, InvokeOn, Irp, MajorFunction, Status, Verifier, VerifierMode,
};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Skip the location and forward.
    Skip,
    /// Copy, register a completion routine that records itself and may turn a success
    /// into `fail_with`, forward.
    Routine { fail_with: Option<Status> },
    /// Like `Routine`, but the routine keeps the IRP and completes it from another thread.
    KeepAndCompleteLater,
    /// Mark pending and forward (copy) from another thread.
    PendAndForwardFromThread,
    /// Complete at once without forwarding.
    CompleteEarly(Status),
}

#[derive(Clone, Copy, Debug)]
struct Bottom {
    status: Status,
    asynchronous: bool,
}

type Trace = Arc<Mutex<Vec<String>>>;

struct Filter {
    index: usize,
    behaviour: Behaviour,
    trace: Trace,
}

impl Filter {
    fn push(&self, s: String) {
        self.trace.lock().unwrap().push(s);
    }
}

impl Driver for Filter {
    fn write(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        self.push(format!("down {}", self.index));
        let lower = device.lower().unwrap();
        match self.behaviour {
            Behaviour::Skip => {
                irp.skip_current_location();
                lower.call(irp)
            }
            Behaviour::Routine { .. } => {
                irp.copy_current_location_to_next();
                irp.set_completion_routine(device, self.index, InvokeOn::ALWAYS);
                lower.call(irp)
            }
            Behaviour::KeepAndCompleteLater => {
                irp.mark_pending();
                irp.copy_current_location_to_next();
                irp.set_completion_routine(device, self.index, InvokeOn::ALWAYS);
                let _ = lower.call(irp);
                Status::PENDING
            }
            Behaviour::PendAndForwardFromThread => {
                irp.mark_pending();
                let lower = Arc::clone(lower);
                thread::spawn(move || {
                    irp.copy_current_location_to_next();
                    lower.call(irp)
                });
                Status::PENDING
            }
            Behaviour::CompleteEarly(status) => irp.complete(status),
        }
    }

    fn completion(&self, _: &DeviceRef, mut irp: Irp, context: usize) -> Completion {
        assert_eq!(context, self.index);
        let status = irp.io_status().status;
        self.push(format!("up {} {status:?}", self.index));
        match self.behaviour {
            Behaviour::Routine { fail_with: Some(e) } if status.is_success() => {
                irp.set_status(e);
                Completion::Continue(irp)
            }
            Behaviour::KeepAndCompleteLater => {
                thread::spawn(move || irp.complete(status));
                Completion::MoreProcessingRequired
            }
            _ => Completion::Continue(irp),
        }
    }
}

struct BottomDriver(Bottom, Trace);
impl Driver for BottomDriver {
    fn write(&self, _: &DeviceRef, mut irp: Irp) -> Status {
        self.1.lock().unwrap().push("down bottom".into());
        let status = self.0.status;
        if self.0.asynchronous {
            irp.mark_pending();
            thread::spawn(move || irp.complete(status));
            Status::PENDING
        } else {
            irp.complete(status)
        }
    }
}

/// The reference model: who completes, which routines run in which order, the final status.
fn model(filters: &[Behaviour], bottom: Bottom) -> (Vec<String>, Status) {
    let mut trace = Vec::new();
    let mut completing = filters.len();
    let mut status = bottom.status;
    for (i, b) in filters.iter().enumerate() {
        trace.push(format!("down {i}"));
        if let Behaviour::CompleteEarly(s) = b {
            completing = i;
            status = *s;
            break;
        }
    }
    if completing == filters.len() {
        trace.push("down bottom".into());
    }
    for i in (0..completing).rev() {
        match filters[i] {
            Behaviour::Routine { fail_with } => {
                trace.push(format!("up {i} {status:?}"));
                if let Some(e) = fail_with
                    && status.is_success()
                {
                    status = e;
                }
            }
            Behaviour::KeepAndCompleteLater => trace.push(format!("up {i} {status:?}")),
            _ => {}
        }
    }
    (trace, status)
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        3 => Just(Status::SUCCESS),
        1 => Just(Status::IO_DEVICE_ERROR),
        1 => Just(Status::DISK_FULL),
    ]
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        3 => Just(Behaviour::Skip),
        3 => proptest::option::weighted(0.3, Just(Status::DATA_ERROR)).prop_map(|fail_with| Behaviour::Routine { fail_with }),
        1 => Just(Behaviour::KeepAndCompleteLater),
        1 => Just(Behaviour::PendAndForwardFromThread),
        1 => status().prop_map(Behaviour::CompleteEarly),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn random_stacks_match_the_model(
        filters in proptest::collection::vec(behaviour(), 1..=16),
        bottom_status in status(),
        asynchronous in any::<bool>(),
    ) {
        let bottom = Bottom { status: bottom_status, asynchronous };
        let trace: Trace = Arc::default();
        let verifier = Verifier::new(VerifierMode::Record);
        let mut top = irp::DeviceBuilder::new("bottom")
            .verifier(verifier.clone())
            .build(BottomDriver(bottom, Arc::clone(&trace)))
            .unwrap();
        // filters[0] is the top: attach from the bottom up.
        for (i, b) in filters.iter().enumerate().rev() {
            top = Device::attach(format!("f{i}"), Filter { index: i, behaviour: *b, trace: Arc::clone(&trace) }, &top).unwrap();
        }
        let done = top.call_and_wait(Irp::for_device(&top, MajorFunction::Write));
        let (expected_trace, expected_status) = model(&filters, bottom);
        prop_assert_eq!(done.status(), expected_status);
        prop_assert_eq!(trace.lock().unwrap().clone(), expected_trace);
        prop_assert_eq!(verifier.take_violations(), vec![]);
    }
}
