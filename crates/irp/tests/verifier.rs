//! Each verifier rule, broken on purpose by a test driver, is reported with its code
//! and the name of the device that broke it.

mod common;

use std::thread;

use common::*;
use irp::{
    Characteristics, Completion, Device, DeviceBuilder, DeviceRef, Driver, FlushFlags, InvokeOn, Irp,
    MajorFunction, Rule, Status, Verifier, VerifierMode,
};

/// Builds `bad` over a RAM disk with a recording verifier and sends one `major` IRP.
fn run(bad: impl Driver, major: MajorFunction, flags: FlushFlags) -> (Status, Vec<irp::Violation>) {
    let verifier = Verifier::new(VerifierMode::Record);
    let disk = DeviceBuilder::new("ram").verifier(verifier.clone()).build(RamDisk::new(4096)).unwrap();
    let top = Device::attach("bad-filter", bad, &disk).unwrap();
    let irp = Irp::for_device(&top, major).with_flush_flags(flags);
    let status = top.call_and_wait(irp).status();
    (status, verifier.take_violations())
}

fn assert_reported(violations: &[irp::Violation], rule: Rule) {
    let v =
        violations.iter().find(|v| v.rule == rule).unwrap_or_else(|| panic!("{rule} not in {violations:#?}"));
    assert_eq!(v.device, "bad-filter", "{v}");
    let text = v.to_string();
    assert!(text.contains(rule.code()) && text.contains("bad-filter"), "{text}");
}

struct Dropper;
impl Driver for Dropper {
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        drop(irp);
        Status::SUCCESS
    }
}

#[test]
fn dropped_irp_is_reported_and_completed_with_an_error() {
    let (status, v) = run(Dropper, MajorFunction::FlushBuffers, FlushFlags::Full);
    assert_eq!(status, Status::INTERNAL_ERROR);
    assert_reported(&v, Rule::IrpDroppedWithoutCompletion);
}

struct PendingWithoutMark;
impl Driver for PendingWithoutMark {
    fn flush_buffers(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        let lower = device.lower().unwrap().clone();
        thread::spawn(move || {
            irp.skip_current_location();
            lower.call(irp)
        });
        Status::PENDING
    }
}

#[test]
fn pending_returned_without_mark_pending() {
    let (status, v) = run(PendingWithoutMark, MajorFunction::FlushBuffers, FlushFlags::Full);
    assert_eq!(status, Status::SUCCESS);
    assert_reported(&v, Rule::PendingNotMarked);
}

struct MarkedButCompleted;
impl Driver for MarkedButCompleted {
    fn flush_buffers(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        irp.mark_pending();
        irp.skip_current_location();
        let _ = device.lower().unwrap().call(irp);
        Status::SUCCESS
    }
}

#[test]
fn marked_pending_without_returning_pending() {
    let (_, v) = run(MarkedButCompleted, MajorFunction::FlushBuffers, FlushFlags::Full);
    assert_reported(&v, Rule::MarkedNotPending);
}

struct CompletesWithPending;
impl Driver for CompletesWithPending {
    fn write(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::PENDING)
    }
}

#[test]
fn completion_with_pending() {
    let (status, v) = run(CompletesWithPending, MajorFunction::Write, FlushFlags::Full);
    assert_eq!(status, Status::INTERNAL_ERROR);
    assert_reported(&v, Rule::CompletedWithPending);
}

struct HidesErrors;
impl Driver for HidesErrors {
    fn write(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        irp.copy_current_location_to_next();
        irp.set_completion_routine(device, 0, InvokeOn::ALWAYS);
        device.lower().unwrap().call(irp)
    }
    fn completion(&self, _: &DeviceRef, mut irp: Irp, _: usize) -> Completion {
        irp.set_status(Status::SUCCESS);
        Completion::Continue(irp)
    }
}

#[test]
fn completion_routine_turning_failure_into_success() {
    let verifier = Verifier::new(VerifierMode::Record);
    let disk = DeviceBuilder::new("broken")
        .verifier(verifier.clone())
        .build(Fixed(Status::IO_DEVICE_ERROR))
        .unwrap();
    let top = Device::attach("bad-filter", HidesErrors, &disk).unwrap();
    let status = top.call_and_wait(Irp::for_device(&top, MajorFunction::Write)).status();
    assert_eq!(status, Status::SUCCESS);
    assert_reported(&verifier.take_violations(), Rule::FailureTurnedIntoSuccess);
}

struct SyncThenLie;
impl Driver for SyncThenLie {
    fn write(&self, device: &DeviceRef, irp: Irp) -> Status {
        let irp = irp.forward_synchronously(device.lower().unwrap());
        irp.complete(Status::SUCCESS)
    }
    fn flush_buffers(&self, device: &DeviceRef, irp: Irp) -> Status {
        let irp = irp.forward_synchronously(device.lower().unwrap());
        let status = irp.io_status().status;
        // fastfat's documented exception: a device without a flush handler is fine.
        let status = if status == Status::INVALID_DEVICE_REQUEST { Status::SUCCESS } else { status };
        irp.complete(status)
    }
}

#[test]
fn completing_success_after_a_kept_failure_is_reported_but_flush_invalid_device_request_is_allowed() {
    let verifier = Verifier::new(VerifierMode::Record);
    let disk = DeviceBuilder::new("broken")
        .verifier(verifier.clone())
        .build(Fixed(Status::IO_DEVICE_ERROR))
        .unwrap();
    let top = Device::attach("bad-filter", SyncThenLie, &disk).unwrap();
    top.call_and_wait(Irp::for_device(&top, MajorFunction::Write));
    assert_reported(&verifier.take_violations(), Rule::FailureTurnedIntoSuccess);

    let verifier = Verifier::new(VerifierMode::Record);
    let disk = DeviceBuilder::new("no-flush").verifier(verifier.clone()).build(Nothing).unwrap();
    let top = Device::attach("fs", SyncThenLie, &disk).unwrap();
    let status = top.call_and_wait(Irp::for_device(&top, MajorFunction::FlushBuffers)).status();
    assert_eq!(status, Status::SUCCESS);
    assert_eq!(verifier.take_violations(), []);
}

struct SwallowsFlush;
impl Driver for SwallowsFlush {
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
}

#[test]
fn flush_completed_without_reaching_the_bottom() {
    let (status, v) = run(SwallowsFlush, MajorFunction::FlushBuffers, FlushFlags::Full);
    assert_eq!(status, Status::SUCCESS);
    assert_reported(&v, Rule::FlushNotForwarded);
    let (_, v) = run(SwallowsFlush, MajorFunction::FlushBuffers, FlushFlags::FileDataSyncOnly);
    assert_reported(&v, Rule::FlushNotForwarded);
    // Flags that skip the device sync allow it.
    for flags in [FlushFlags::FileDataOnly, FlushFlags::NoSync] {
        let (status, v) = run(SwallowsFlush, MajorFunction::FlushBuffers, flags);
        assert_eq!((status, v), (Status::SUCCESS, vec![]));
    }
}

#[test]
fn an_unsafe_flush_device_is_not_reported() {
    let verifier = Verifier::new(VerifierMode::Record);
    let disk = DeviceBuilder::new("ram").verifier(verifier.clone()).build(RamDisk::new(512)).unwrap();
    let top = DeviceBuilder::new("unsafe-cache")
        .characteristics(Characteristics::UNSAFE_FLUSH)
        .attach(SwallowsFlush, &disk)
        .unwrap();
    let status = top.call_and_wait(Irp::for_device(&top, MajorFunction::FlushBuffers)).status();
    assert_eq!(status, Status::SUCCESS);
    assert_eq!(verifier.take_violations(), []);
}

#[test]
fn too_few_stack_locations() {
    let verifier = Verifier::new(VerifierMode::Record);
    let disk = DeviceBuilder::new("ram").verifier(verifier.clone()).build(RamDisk::new(512)).unwrap();
    let top =
        Device::attach("copying", Recorder { name: "copying", trace: Trace::default() }, &disk).unwrap();
    // An IRP sized for the bottom device only, sent to a filter that copies its location.
    let irp = Irp::for_device(&disk, MajorFunction::Read)
        .with_parameters(irp::Parameters::Read { offset: 0, length: 8 })
        .with_mdl(irp::Mdl::with_len(8).unwrap());
    let status = top.call_and_wait(irp).status();
    assert_eq!(status, Status::INTERNAL_ERROR);
    let v = verifier.take_violations();
    assert!(v.iter().any(|v| v.rule == Rule::NoMoreStackLocations && v.device == "ram"), "{v:#?}");
}

#[test]
fn strict_verifier_panics_on_unhandled_violations() {
    let result = std::panic::catch_unwind(|| {
        let verifier = Verifier::new(VerifierMode::Strict);
        let disk = DeviceBuilder::new("ram").verifier(verifier).build(RamDisk::new(512)).unwrap();
        let top = Device::attach("bad-filter", SwallowsFlush, &disk).unwrap();
        top.call_and_wait(Irp::for_device(&top, MajorFunction::FlushBuffers));
        drop(top);
        drop(disk);
    });
    let err = result.unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("IRPSTACK-V006") && msg.contains("bad-filter"), "{msg}");
}

#[test]
fn rule_codes_are_stable_and_distinct() {
    let rules = [
        Rule::IrpDroppedWithoutCompletion,
        Rule::PendingNotMarked,
        Rule::MarkedNotPending,
        Rule::CompletedWithPending,
        Rule::FailureTurnedIntoSuccess,
        Rule::FlushNotForwarded,
        Rule::DmaUnflushedMdl,
        Rule::DmaAdapterBuffersNotFlushed,
        Rule::NoMoreStackLocations,
    ];
    let codes: Vec<_> = rules.iter().map(|r| r.code()).collect();
    assert_eq!(codes[0], "IRPSTACK-V001");
    assert_eq!(codes[5], "IRPSTACK-V006");
    let mut dedup = codes.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), codes.len());
}
