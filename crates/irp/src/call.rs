//! Sending IRPs: `IoCallDriver`, and the synchronous and asynchronous ways an
//! originator waits for completion.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use crate::Status;
use crate::device::{Device, DeviceRef};
use crate::function::MajorFunction;
use crate::request::{CompletedIrp, CompletionRoutine, InvokeOn, Irp, Sink};
use crate::verifier::Rule;

impl Device {
    /// Sends `irp` to this device (`IoCallDriver`): moves to the next stack location
    /// and runs the driver's dispatch routine for its major function. Returns what
    /// the dispatch routine returned — `PENDING` if the IRP will complete later.
    #[doc(alias = "IoCallDriver")]
    pub fn call(self: &Arc<Self>, mut irp: Irp) -> Status {
        let b = irp.body_mut();
        if b.pos >= b.stack_count {
            let count = b.stack_count;
            irp.report(
                Rule::NoMoreStackLocations,
                Some(self.id()),
                format_args!("the IRP has {count} stack locations and none is left for this device"),
            );
            return irp.complete(Status::INTERNAL_ERROR);
        }
        let index = b.pos;
        b.pos += 1;
        b.lower_failure = None;
        let location = &mut b.stack[index];
        location.device_id = Some(self.id());
        location.control &= !0x01; // a location starts not pending at each dispatch
        let major = location.major;
        if major == MajorFunction::FlushBuffers {
            if self.lower().is_none() {
                b.reached_bottom = true;
            }
            if self.characteristics().contains(crate::Characteristics::UNSAFE_FLUSH) {
                b.flush_waived = true;
            }
        }
        let watch = b.verifier.is_some().then(|| {
            let shared = Arc::clone(&b.shared);
            let epoch = shared.begin_dispatch();
            (shared, epoch)
        });
        let status = dispatch(self, major, irp);
        if let Some((shared, epoch)) = watch {
            self.check_pending_rules(&shared, index, epoch, major, status);
        }
        status
    }

    fn check_pending_rules(
        &self,
        shared: &crate::request::IrpShared,
        index: usize,
        epoch: u32,
        major: MajorFunction,
        status: Status,
    ) {
        let marked = shared.marked_since(index, epoch);
        // With copy-to-next, a lower driver marks a lower location and this one is
        // marked by propagation when the IRP completes, possibly later.
        let lower_marked = shared.marked_below_since(index, epoch);
        let v = self.verifier();
        if status == Status::PENDING && !marked && !lower_marked {
            v.report(
                Rule::PendingNotMarked,
                Some(self.id()),
                major,
                format_args!("the dispatch routine returned STATUS_PENDING without marking the IRP pending"),
            );
        } else if status != Status::PENDING && marked {
            v.report(
                Rule::MarkedNotPending,
                Some(self.id()),
                major,
                format_args!("the dispatch routine marked the IRP pending but returned {status:?}"),
            );
        }
    }

    /// Sends `irp` and waits for its completion (`IoBuildSynchronousFsdRequest` +
    /// `KeWaitForSingleObject`): returns the completed IRP with its buffers.
    #[doc(alias = "IoBuildSynchronousFsdRequest")]
    pub fn call_and_wait(self: &Arc<Self>, mut irp: Irp) -> CompletedIrp {
        irp.body_mut().sink = Sink::Wait;
        irp.body_mut().synchronous = true;
        let shared = Arc::clone(&irp.body().shared);
        let _ = self.call(irp);
        // The status returned is in the IRP; a synchronous completion already filled
        // the slot, a pending one fills it from another thread.
        CompletedIrp { body: Some(shared.done().take_blocking()) }
    }

    /// Sends `irp`; `on_complete` runs with the completed IRP in whatever thread
    /// completes it (an asynchronous `IoCallDriver` with a completion callback).
    /// Returns the dispatch status (`PENDING` when it completes later).
    pub fn submit(
        self: &Arc<Self>,
        mut irp: Irp,
        on_complete: impl FnOnce(CompletedIrp) + Send + 'static,
    ) -> Status {
        irp.body_mut().sink = Sink::Callback(Box::new(on_complete));
        self.call(irp)
    }

    /// Sends `irp`; the completed IRP is sent to `channel` (for callers that keep many
    /// IRPs in flight and match them by [`CompletedIrp::user_data`]).
    pub fn submit_to(self: &Arc<Self>, mut irp: Irp, channel: Sender<CompletedIrp>) -> Status {
        irp.body_mut().sink = Sink::Channel(channel);
        self.call(irp)
    }
}

impl Irp {
    /// Forwards the IRP to `lower` and waits until it completes there, then gives it
    /// back to the caller, who must complete it (`IoForwardIrpSynchronously`).
    ///
    /// Copies the current location to the next; the completion routine keeps the
    /// IRP (`MORE_PROCESSING_REQUIRED`) and wakes this thread.
    #[doc(alias = "IoForwardIrpSynchronously")]
    pub fn forward_synchronously(mut self, lower: &DeviceRef) -> Irp {
        self.copy_current_location_to_next();
        self.next_location_mut().set_completion(CompletionRoutine::Rendezvous, InvokeOn::ALWAYS);
        let shared = Arc::clone(&self.body().shared);
        let was_synchronous = std::mem::replace(&mut self.body_mut().synchronous, true);
        let _ = lower.call(self);
        let mut irp = Irp { body: Some(shared.rendezvous().take_blocking()) };
        irp.body_mut().synchronous = was_synchronous;
        irp
    }
}

/// The dispatch table (`DriverObject->MajorFunction[]`).
fn dispatch(device: &DeviceRef, major: MajorFunction, irp: Irp) -> Status {
    let d = device.driver();
    match major {
        MajorFunction::Create => d.create(device, irp),
        MajorFunction::Close => d.close(device, irp),
        MajorFunction::Cleanup => d.cleanup(device, irp),
        MajorFunction::Read => d.read(device, irp),
        MajorFunction::Write => d.write(device, irp),
        MajorFunction::FlushBuffers => d.flush_buffers(device, irp),
        MajorFunction::Shutdown => d.shutdown(device, irp),
        MajorFunction::QueryInformation => d.query_information(device, irp),
        MajorFunction::SetInformation => d.set_information(device, irp),
        MajorFunction::QueryVolumeInformation => d.query_volume_information(device, irp),
        MajorFunction::DirectoryControl => d.directory_control(device, irp),
        MajorFunction::FileSystemControl => d.file_system_control(device, irp),
        MajorFunction::DeviceControl => d.device_control(device, irp),
        MajorFunction::InternalDeviceControl => d.internal_device_control(device, irp),
        MajorFunction::Discard => d.discard(device, irp),
        MajorFunction::WriteZeroes => d.write_zeroes(device, irp),
    }
}
