//! The I/O request packet: an owned request with one stack location per device.
//!
//! Whoever holds an [`Irp`] may touch it; passing it down the stack moves it;
//! completing it ([`Irp::complete`]) consumes it. "Touching an IRP or its MDL after
//! completion" therefore does not compile (see `tests/compile-fail`).

mod completion;
mod location;
mod pool;
mod shared;

use std::sync::Arc;

pub use completion::{CompletedIrp, Completion, InvokeOn};
pub(crate) use completion::{CompletionRoutine, Sink, observe_completed_mdls};
pub use location::StackLocation;
pub(crate) use shared::IrpShared;

use crate::device::DeviceRef;
use crate::file_object::FileObject;
use crate::function::{FlushFlags, MajorFunction, Parameters, RequestFlags};
use crate::verifier::{Rule, Verifier};
use crate::{Mdl, Status};

/// The largest device stack an IRP can describe (NT stacks are rarely above 10).
pub const MAX_STACK_SIZE: usize = 64;

/// The final status of a request and a request-specific value, usually the number
/// of bytes transferred (`IO_STATUS_BLOCK`).
#[doc(alias = "IO_STATUS_BLOCK")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoStatus {
    /// The completion status.
    pub status: Status,
    /// Bytes transferred, or a request-specific value.
    pub information: u64,
}

impl Default for IoStatus {
    fn default() -> Self {
        IoStatus { status: Status::SUCCESS, information: 0 }
    }
}

/// The body of an IRP; boxed and pooled (NT's lookaside lists).
pub(crate) struct IrpBody {
    /// `stack_count` locations plus one spare, so that a driver at the bottom that
    /// copies its location or sets a completion routine writes somewhere harmless and
    /// the verifier reports the missing location when the IRP is sent on.
    pub(crate) stack: Vec<StackLocation>,
    pub(crate) stack_count: usize,
    /// How many locations have been entered: the current location is `pos - 1`,
    /// the next is `pos`. 0 = the originator holds the IRP.
    pub(crate) pos: usize,
    pub(crate) io_status: IoStatus,
    pub(crate) mdl: Option<Mdl>,
    pub(crate) system_buffer: Vec<u8>,
    pub(crate) pending_returned: bool,
    /// The last failure a completion routine saw from below (verifier rule
    /// FailureTurnedIntoSuccess); cleared whenever the IRP is sent down again.
    pub(crate) lower_failure: Option<Status>,
    /// A FlushBuffers IRP reached a bottom device (verifier rule FlushNotForwarded).
    pub(crate) reached_bottom: bool,
    /// The flush check is waived (a device declared an unsafe flush).
    pub(crate) flush_waived: bool,
    pub(crate) shared: Arc<IrpShared>,
    /// The verifier of the stack the IRP was built for (`None` when it is off).
    pub(crate) verifier: Option<Arc<Verifier>>,
    pub(crate) sink: Sink,
    pub(crate) user_data: u64,
    /// The thread that sent the IRP waits for it (`IRP_SYNCHRONOUS_API`).
    pub(crate) synchronous: bool,
}

/// An I/O request packet (`IRP`), owned by whoever currently handles it.
///
/// Dropping an `Irp` without completing it is a bug: the verifier reports
/// [`Rule::IrpDroppedWithoutCompletion`] and the IRP is completed with
/// `STATUS_INTERNAL_ERROR` so that nobody waits forever.
#[doc(alias = "IRP")]
pub struct Irp {
    pub(crate) body: Option<Box<IrpBody>>,
}

impl std::fmt::Debug for Irp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body {
            Some(b) => f
                .debug_struct("Irp")
                .field("stack_count", &b.stack_count)
                .field("current", &b.pos.checked_sub(1))
                .field("location", &b.pos.checked_sub(1).map(|i| &b.stack[i]))
                .field("io_status", &b.io_status)
                .finish_non_exhaustive(),
            None => f.write_str("Irp(<completed>)"),
        }
    }
}

impl Irp {
    /// Allocates an IRP with `stack_size` stack locations (`IoAllocateIrp`), from the
    /// calling thread's lookaside list when one is free.
    ///
    /// The caller fills [`Irp::next_location_mut`] and sends it with
    /// [`DeviceRef::call`](crate::Device::call). Use [`Irp::for_device`] to size it
    /// for a device and set the major function at once.
    #[doc(alias = "IoAllocateIrp")]
    pub fn new(stack_size: usize) -> Irp {
        let stack_size = stack_size.clamp(1, MAX_STACK_SIZE);
        Irp { body: Some(pool::allocate(stack_size)) }
    }

    /// Allocates an IRP sized for `device`'s stack, with the next location set to
    /// `major` (`IoBuildAsynchronousFsdRequest` without the buffer).
    #[doc(alias = "IoBuildAsynchronousFsdRequest")]
    pub fn for_device(device: &DeviceRef, major: MajorFunction) -> Irp {
        let mut irp = Irp::new(device.stack_size());
        irp.next_location_mut().major = major;
        irp.body_mut().verifier = device.active_verifier().cloned();
        irp
    }

    /// Sets the parameters of the next location (builder style).
    pub fn with_parameters(mut self, parameters: Parameters) -> Irp {
        self.next_location_mut().parameters = parameters;
        self
    }

    /// Sets request flags (ForceUnitAccess...) of the next location (builder style).
    pub fn with_flags(mut self, flags: RequestFlags) -> Irp {
        self.next_location_mut().flags = flags;
        self
    }

    /// Makes the IRP a flush with `flags` as its minor function (builder style).
    pub fn with_flush_flags(mut self, flags: FlushFlags) -> Irp {
        self.next_location_mut().minor = flags.minor_function();
        self
    }

    /// Attaches the MDL chain describing the transfer (`Irp->MdlAddress`).
    pub fn with_mdl(mut self, mdl: Mdl) -> Irp {
        self.body_mut().mdl = Some(mdl);
        self
    }

    /// Sets the system buffer (buffered I/O: device-control input, query output).
    pub fn with_system_buffer(mut self, buffer: Vec<u8>) -> Irp {
        self.body_mut().system_buffer = buffer;
        self
    }

    /// Sets the file object of the next location (`IrpSp->FileObject`).
    pub fn with_file_object(mut self, file: Arc<FileObject>) -> Irp {
        self.next_location_mut().file_object = Some(file);
        self
    }

    /// An opaque value for the originator, returned with the completed IRP.
    pub fn with_user_data(mut self, user_data: u64) -> Irp {
        self.body_mut().user_data = user_data;
        self
    }

    pub(crate) fn body(&self) -> &IrpBody {
        self.body.as_deref().expect("Irp body is present until completion")
    }

    pub(crate) fn body_mut(&mut self) -> &mut IrpBody {
        self.body.as_deref_mut().expect("Irp body is present until completion")
    }

    /// The number of stack locations (`Irp->StackCount`).
    pub fn stack_count(&self) -> usize {
        self.body().stack_count
    }

    /// The index of the current location, counted from the top device (0); `None`
    /// while the originator holds the IRP.
    pub fn current_index(&self) -> Option<usize> {
        self.body().pos.checked_sub(1)
    }

    /// The current stack location (`IoGetCurrentIrpStackLocation`).
    ///
    /// # Panics
    /// When called by the originator, before the IRP was sent to a device.
    #[doc(alias = "IoGetCurrentIrpStackLocation")]
    pub fn current_location(&self) -> &StackLocation {
        let b = self.body();
        &b.stack[b.pos.checked_sub(1).expect("the IRP has not been sent to a device")]
    }

    /// The current stack location, mutably.
    pub fn current_location_mut(&mut self) -> &mut StackLocation {
        let b = self.body_mut();
        let i = b.pos.checked_sub(1).expect("the IRP has not been sent to a device");
        &mut b.stack[i]
    }

    /// The next (lower) stack location (`IoGetNextIrpStackLocation`). At the bottom
    /// of the stack this is a spare location no device will see.
    #[doc(alias = "IoGetNextIrpStackLocation")]
    pub fn next_location_mut(&mut self) -> &mut StackLocation {
        let b = self.body_mut();
        let pos = b.pos;
        &mut b.stack[pos]
    }

    /// The major function of the current location (or of the next, for the originator).
    pub fn major_function(&self) -> MajorFunction {
        let b = self.body();
        b.stack[b.pos.saturating_sub(1)].major
    }

    /// The parameters of the current location.
    pub fn parameters(&self) -> &Parameters {
        &self.current_location().parameters
    }

    /// The flush flags of a FlushBuffers IRP's current location.
    pub fn flush_flags(&self) -> FlushFlags {
        self.current_location().flush_flags()
    }

    /// Whether the current request carries ForceUnitAccess (`SL_WRITE_THROUGH`).
    pub fn is_force_unit_access(&self) -> bool {
        self.current_location().flags.contains(RequestFlags::FORCE_UNIT_ACCESS)
    }

    /// The I/O status block (`Irp->IoStatus`).
    pub fn io_status(&self) -> IoStatus {
        self.body().io_status
    }

    /// Sets `Irp->IoStatus.Information` (bytes transferred).
    pub fn set_information(&mut self, information: u64) {
        self.body_mut().io_status.information = information;
    }

    /// Sets `Irp->IoStatus.Status` without completing (used before forwarding).
    pub fn set_status(&mut self, status: Status) {
        self.body_mut().io_status.status = status;
    }

    /// `Irp->PendingReturned`: whether the lower location returned pending; valid in a
    /// completion routine.
    pub fn pending_returned(&self) -> bool {
        self.body().pending_returned
    }

    /// The MDL chain describing the transfer (`Irp->MdlAddress`).
    pub fn mdl(&self) -> Option<&Mdl> {
        self.body().mdl.as_ref()
    }

    /// The MDL chain, mutably (a read fills it).
    pub fn mdl_mut(&mut self) -> Option<&mut Mdl> {
        self.body_mut().mdl.as_mut()
    }

    /// Replaces the MDL chain and returns the previous one.
    pub fn replace_mdl(&mut self, mdl: Option<Mdl>) -> Option<Mdl> {
        std::mem::replace(&mut self.body_mut().mdl, mdl)
    }

    /// The system buffer (`Irp->AssociatedIrp.SystemBuffer`).
    pub fn system_buffer(&self) -> &[u8] {
        &self.body().system_buffer
    }

    /// The system buffer, mutably (device-control output).
    pub fn system_buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.body_mut().system_buffer
    }

    /// The originator's opaque value.
    pub fn user_data(&self) -> u64 {
        self.body().user_data
    }

    /// Whether the thread that sent the IRP is blocked until it completes
    /// ([`Device::call_and_wait`](crate::Device::call_and_wait),
    /// [`Irp::forward_synchronously`]); NT's `IRP_SYNCHRONOUS_API`. A bottom driver may
    /// then do blocking work in the dispatching thread instead of handing it to another
    /// thread and waking the caller from there: the caller waits either way.
    #[doc(alias = "IRP_SYNCHRONOUS_API")]
    pub fn caller_waits(&self) -> bool {
        self.body().synchronous
    }

    /// Whether the IRP was cancelled (`Irp->Cancel`).
    pub fn is_cancelled(&self) -> bool {
        self.body().shared.is_cancelled()
    }

    /// A handle the originator keeps to cancel the IRP later (`IoCancelIrp`).
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle { shared: Arc::clone(&self.body().shared) }
    }

    /// Sets the cancel routine (`IoSetCancelRoutine`) of an IRP a driver keeps in a
    /// queue. Returns `false` without setting it when the IRP is already cancelled:
    /// the driver then completes it with `STATUS_CANCELLED` itself.
    ///
    /// The routine runs on the cancelling thread; it must find the IRP in the
    /// driver's queue (by [`Irp::id`]) and complete it. Ownership settles races: a
    /// routine that no longer finds the IRP does nothing.
    #[doc(alias = "IoSetCancelRoutine")]
    pub fn set_cancel_routine(&mut self, routine: impl FnOnce() + Send + 'static) -> bool {
        self.body().shared.set_cancel_routine(Box::new(routine))
    }

    /// Clears the cancel routine before completing a queued IRP.
    pub fn clear_cancel_routine(&mut self) {
        self.body().shared.clear_cancel_routine();
    }

    /// An identifier unique among live IRPs (for queues and cancel routines).
    pub fn id(&self) -> u64 {
        self.body().shared.id()
    }

    /// Skips the current location: the next driver sees this driver's location as
    /// its own (`IoSkipCurrentIrpStackLocation`). The cheapest way to forward.
    #[doc(alias = "IoSkipCurrentIrpStackLocation")]
    pub fn skip_current_location(&mut self) {
        let b = self.body_mut();
        debug_assert!(b.pos > 0, "the originator has no location to skip");
        b.pos -= 1;
    }

    /// Copies the current location to the next, without the completion routine
    /// and control flags (`IoCopyCurrentIrpStackLocationToNext`).
    #[doc(alias = "IoCopyCurrentIrpStackLocationToNext")]
    pub fn copy_current_location_to_next(&mut self) {
        let b = self.body_mut();
        let pos = b.pos;
        assert!(pos > 0, "the originator has no current location to copy");
        let (upper, lower) = b.stack.split_at_mut(pos);
        lower[0].copy_from(&upper[pos - 1]);
    }

    /// Registers a completion routine in the next location (`IoSetCompletionRoutine`):
    /// when the lower driver completes the IRP, `device`'s driver's
    /// [`Driver::completion`](crate::Driver::completion) runs with `context`.
    #[doc(alias = "IoSetCompletionRoutine")]
    pub fn set_completion_routine(&mut self, device: &DeviceRef, context: usize, on: InvokeOn) {
        let routine = CompletionRoutine::Driver { device: Arc::clone(device), context };
        self.next_location_mut().set_completion(routine, on);
    }

    /// Registers a closure as completion routine in the next location (one heap
    /// allocation; prefer [`Irp::set_completion_routine`] on hot paths).
    pub fn set_completion_fn(
        &mut self,
        on: InvokeOn,
        routine: impl FnOnce(Irp) -> Completion + Send + 'static,
    ) {
        self.next_location_mut().set_completion(CompletionRoutine::Closure(Box::new(routine)), on);
    }

    /// Marks the current location pending (`IoMarkIrpPending`). The dispatch routine
    /// must then return [`Status::PENDING`] and complete the IRP later, from any thread.
    #[doc(alias = "IoMarkIrpPending")]
    pub fn mark_pending(&mut self) {
        let b = self.body_mut();
        let i = b.pos.checked_sub(1).expect("the originator cannot mark an IRP pending");
        b.stack[i].set_pending();
        b.shared.mark_pending(i);
    }

    /// Declares that this FlushBuffers IRP is covered by a flush of the lower device
    /// that the driver sent on its behalf and that completed with success (flush
    /// coalescing, group commit, as the NT disk driver's flush queue does). The
    /// verifier then counts it as having reached the bottom device.
    pub fn mark_flush_covered(&mut self) {
        self.body_mut().reached_bottom = true;
    }

    /// Completes the IRP with `status` (`IoCompleteRequest`): completion routines run
    /// bottom-up, then the originator gets the IRP back. Returns `status`, so a
    /// dispatch routine can end with `return irp.complete(status)`.
    #[doc(alias = "IoCompleteRequest")]
    pub fn complete(mut self, status: Status) -> Status {
        self.body_mut().io_status.status = status;
        completion::complete_request(self);
        status
    }

    /// Completes with `status` and `information` (bytes transferred).
    pub fn complete_with(mut self, status: Status, information: u64) -> Status {
        self.body_mut().io_status.information = information;
        self.complete(status)
    }

    pub(crate) fn verifier(&self) -> Option<&Arc<Verifier>> {
        self.body().verifier.as_ref()
    }

    pub(crate) fn report(&self, rule: Rule, device: Option<u32>, detail: std::fmt::Arguments<'_>) {
        if let Some(v) = self.verifier() {
            v.report(rule, device, self.major_function(), detail);
        }
    }
}

impl Drop for Irp {
    fn drop(&mut self) {
        if let Some(body) = self.body.take() {
            let irp = Irp { body: Some(body) };
            let device = irp.body().pos.checked_sub(1).map(|i| irp.body().stack[i].device_id);
            irp.report(
                Rule::IrpDroppedWithoutCompletion,
                device.flatten(),
                format_args!(
                    "the IRP was dropped without being completed; completing it with STATUS_INTERNAL_ERROR"
                ),
            );
            irp.complete(Status::INTERNAL_ERROR);
        }
    }
}

/// Cancels an IRP from outside the driver that holds it (`IoCancelIrp`).
#[derive(Clone, Debug)]
pub struct CancelHandle {
    shared: Arc<IrpShared>,
}

impl CancelHandle {
    /// Sets the IRP's cancel flag and runs its cancel routine, if one is set.
    /// Returns whether a cancel routine ran.
    #[doc(alias = "IoCancelIrp")]
    pub fn cancel(&self) -> bool {
        self.shared.cancel()
    }
}

#[cfg(test)]
mod tests;
