//! `IoCompleteRequest`: completion runs bottom-up through the registered routines,
//! then hands the IRP back to its originator.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use super::{IoStatus, Irp, IrpBody, pool};
use crate::device::DeviceRef;
use crate::function::{FlushFlags, MajorFunction};
use crate::verifier::Rule;
use crate::{Mdl, Status};

/// What a completion routine does with the IRP it was given.
#[derive(Debug)]
#[must_use = "a completion routine must hand the IRP on or keep it"]
pub enum Completion {
    /// Completion goes on upward (NT: any status but MORE_PROCESSING_REQUIRED).
    Continue(Irp),
    /// The routine kept the IRP and will complete it (or send it down) later
    /// (`STATUS_MORE_PROCESSING_REQUIRED`). Completion stops here.
    #[doc(alias = "STATUS_MORE_PROCESSING_REQUIRED")]
    MoreProcessingRequired,
}

/// `SL_INVOKE_ON_CANCEL`.
pub(crate) const INVOKE_ON_CANCEL: u8 = 0x20;
/// `SL_INVOKE_ON_SUCCESS`.
pub(crate) const INVOKE_ON_SUCCESS: u8 = 0x40;
/// `SL_INVOKE_ON_ERROR`.
pub(crate) const INVOKE_ON_ERROR: u8 = 0x80;

/// When a completion routine runs (`InvokeOnSuccess`, `InvokeOnError`, `InvokeOnCancel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvokeOn {
    /// Run when the status is a success (`NT_SUCCESS`).
    pub success: bool,
    /// Run when the status is a failure.
    pub error: bool,
    /// Run when the IRP was cancelled.
    pub cancel: bool,
}

impl InvokeOn {
    /// Always run.
    pub const ALWAYS: InvokeOn = InvokeOn { success: true, error: true, cancel: true };
    /// Only on success.
    pub const SUCCESS: InvokeOn = InvokeOn { success: true, error: false, cancel: false };
    /// Only on error.
    pub const ERROR: InvokeOn = InvokeOn { success: false, error: true, cancel: false };
    /// Only on cancel.
    pub const CANCEL: InvokeOn = InvokeOn { success: false, error: false, cancel: true };

    pub(crate) fn bits(self) -> u8 {
        (if self.success { INVOKE_ON_SUCCESS } else { 0 })
            | (if self.error { INVOKE_ON_ERROR } else { 0 })
            | (if self.cancel { INVOKE_ON_CANCEL } else { 0 })
    }
}

pub(crate) type CompletionFn = Box<dyn FnOnce(Irp) -> Completion + Send>;

/// A routine registered in a stack location by the driver above it.
pub(crate) enum CompletionRoutine {
    /// `Driver::completion` of `device`'s driver, with a context value.
    Driver { device: DeviceRef, context: usize },
    /// A closure.
    Closure(CompletionFn),
    /// Forward-synchronously: leave the IRP in the rendezvous slot and stop.
    Rendezvous,
}

/// Where the IRP goes after the last completion routine ran.
#[derive(Default)]
pub(crate) enum Sink {
    /// Back to the thread that waits in `call_and_wait` / the I/O manager.
    #[default]
    Wait,
    /// A callback (asynchronous submit).
    Callback(Box<dyn FnOnce(CompletedIrp) + Send>),
    /// A channel (asynchronous submit with many IRPs in flight).
    Channel(Sender<CompletedIrp>),
}

fn should_invoke(control: u8, status: Status, cancelled: bool) -> bool {
    (status.is_success() && control & INVOKE_ON_SUCCESS != 0)
        || (!status.is_success() && control & INVOKE_ON_ERROR != 0)
        || (cancelled && control & INVOKE_ON_CANCEL != 0)
}

fn is_failure_turned_into_success(major: MajorFunction, before: Status, after: Status) -> bool {
    !before.counted_for(major).is_success() && after.is_success()
}

/// Who watches the MDLs of completing IRPs: the simulated DMA device ([`crate::dma`])
/// registers itself when the first one is created, so the core does not depend on the model.
static COMPLETED_MDL_OBSERVER: std::sync::OnceLock<fn(&Mdl)> = std::sync::OnceLock::new();

/// Registers `observe` to see the MDL of every IRP that completes (the first registration counts).
pub(crate) fn observe_completed_mdls(observe: fn(&Mdl)) {
    let _ = COMPLETED_MDL_OBSERVER.set(observe);
}

/// Runs completion from the current location upward.
pub(crate) fn complete_request(mut irp: Irp) {
    // Checks on the completing driver itself.
    {
        let status = irp.body().io_status.status;
        let device = irp.body().pos.checked_sub(1).and_then(|i| irp.body().stack[i].device_id);
        if status == Status::PENDING || status == Status::MORE_PROCESSING_REQUIRED {
            irp.report(
                Rule::CompletedWithPending,
                device,
                format_args!("completed with {status:?}; completing with STATUS_INTERNAL_ERROR instead"),
            );
            irp.body_mut().io_status.status = Status::INTERNAL_ERROR;
        }
        if let Some(lower) = irp.body().lower_failure
            && is_failure_turned_into_success(irp.major_function(), lower, status)
        {
            irp.report(
                Rule::FailureTurnedIntoSuccess,
                device,
                format_args!(
                    "the lower driver failed with {lower:?} and this driver completed with {status:?}"
                ),
            );
        }
        irp.body_mut().shared.clear_cancel_routine();
    }

    while irp.body().pos > 0 {
        let b = irp.body_mut();
        let index = b.pos - 1;
        let location = &mut b.stack[index];
        let pending_returned = location.is_pending();
        let control = location.control;
        let routine = location.completion.take();
        b.pos = index;
        b.pending_returned = pending_returned;
        // irpstack propagates pending itself (NT leaves it to the routine), so a
        // routine that forgets `if PendingReturned { IoMarkIrpPending }` is harmless.
        if pending_returned && index > 0 {
            b.stack[index - 1].set_pending();
        }
        let status = b.io_status.status;
        let Some(routine) = routine else { continue };
        if !should_invoke(control, status, b.shared.is_cancelled()) {
            continue;
        }
        b.lower_failure = (!status.is_success()).then_some(status);
        let upper_device = index.checked_sub(1).and_then(|i| b.stack[i].device_id);
        let outcome = match routine {
            CompletionRoutine::Driver { device, context } => {
                device.driver().completion(&device, irp, context)
            }
            CompletionRoutine::Closure(f) => f(irp),
            CompletionRoutine::Rendezvous => {
                let body = irp.body.take().expect("present");
                let shared = Arc::clone(&body.shared);
                shared.rendezvous().put(body);
                return;
            }
        };
        match outcome {
            Completion::Continue(next) => {
                irp = next;
                let after = irp.body().io_status.status;
                if after == Status::MORE_PROCESSING_REQUIRED || after == Status::PENDING {
                    irp.report(
                        Rule::CompletedWithPending,
                        upper_device,
                        format_args!("a completion routine continued completion with {after:?}"),
                    );
                    irp.body_mut().io_status.status = Status::INTERNAL_ERROR;
                } else if is_failure_turned_into_success(irp.major_function(), status, after) {
                    irp.report(
                        Rule::FailureTurnedIntoSuccess,
                        upper_device,
                        format_args!("a completion routine turned {status:?} from below into {after:?}"),
                    );
                }
            }
            Completion::MoreProcessingRequired => return,
        }
    }
    finish(irp);
}

/// The top of the stack: final checks, then the originator gets the IRP.
fn finish(mut irp: Irp) {
    let (major, status, flags, reached, waived) = {
        let b = irp.body();
        let top = &b.stack[0];
        (top.major, b.io_status.status, top.flush_flags(), b.reached_bottom, b.flush_waived)
    };
    if major == MajorFunction::FlushBuffers
        && status.is_success()
        && flags.syncs_device()
        && !reached
        && !waived
    {
        let device = irp.body().stack[0].device_id;
        irp.report(
            Rule::FlushNotForwarded,
            device,
            format_args!(
                "a {flags:?} flush completed with {status:?} at the top of the stack without reaching the bottom device"
            ),
        );
    }
    if let Some(mdl) = irp.body().mdl.as_ref()
        && let Some(observe) = COMPLETED_MDL_OBSERVER.get()
    {
        observe(mdl);
    }
    let mut body = irp.body.take().expect("present");
    match std::mem::take(&mut body.sink) {
        Sink::Wait => {
            let shared = Arc::clone(&body.shared);
            shared.done().put(body);
        }
        Sink::Callback(f) => f(CompletedIrp { body: Some(body) }),
        Sink::Channel(tx) => {
            // A receiver that went away no longer wants the result; the IRP is freed.
            let _ = tx.send(CompletedIrp { body: Some(body) });
        }
    }
}

/// An IRP back in its originator's hands after completion: its status, its buffers.
/// Dropping it returns it to the lookaside list.
pub struct CompletedIrp {
    pub(crate) body: Option<Box<IrpBody>>,
}

impl std::fmt::Debug for CompletedIrp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletedIrp")
            .field("major", &self.major_function())
            .field("io_status", &self.io_status())
            .finish_non_exhaustive()
    }
}

impl CompletedIrp {
    fn body(&self) -> &IrpBody {
        self.body.as_deref().expect("present until dropped")
    }

    /// The final I/O status block.
    pub fn io_status(&self) -> IoStatus {
        self.body().io_status
    }

    /// The final status.
    pub fn status(&self) -> Status {
        self.body().io_status.status
    }

    /// The final information (bytes transferred).
    pub fn information(&self) -> u64 {
        self.body().io_status.information
    }

    /// The major function the IRP was sent with.
    pub fn major_function(&self) -> MajorFunction {
        self.body().stack[0].major
    }

    /// The flush flags it was sent with.
    pub fn flush_flags(&self) -> FlushFlags {
        self.body().stack[0].flush_flags()
    }

    /// The originator's opaque value.
    pub fn user_data(&self) -> u64 {
        self.body().user_data
    }

    /// Takes the MDL chain back (a read's data is in it).
    pub fn take_mdl(&mut self) -> Option<Mdl> {
        self.body.as_deref_mut().and_then(|b| b.mdl.take())
    }

    /// Takes the system buffer back (device-control output).
    pub fn take_system_buffer(&mut self) -> Vec<u8> {
        self.body.as_deref_mut().map(|b| std::mem::take(&mut b.system_buffer)).unwrap_or_default()
    }
}

impl Drop for CompletedIrp {
    fn drop(&mut self) {
        if let Some(body) = self.body.take() {
            pool::free(body);
        }
    }
}
