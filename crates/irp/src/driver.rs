//! The `Driver` trait: one dispatch routine per major function.

use crate::Status;
use crate::device::DeviceRef;
use crate::request::{Completion, Irp};

/// A driver: the dispatch routines of one device (`DRIVER_OBJECT.MajorFunction[]`).
///
/// Every routine takes the IRP by value and returns what happened, as NT's do:
/// - it completed the IRP: `return irp.complete(status)`;
/// - it forwarded it: `irp.skip_current_location(); lower.call(irp)` (returns the
///   lower driver's status, which the routine returns unchanged);
/// - it kept it: `irp.mark_pending()`, hand it to a queue or thread, `return Status::PENDING`.
///
/// Routines a driver does not implement go to [`Driver::dispatch`], whose default is
/// [`default_dispatch`]: a filter (a device with a lower device) forwards, a bottom
/// device answers `STATUS_INVALID_DEVICE_REQUEST`. A driver that treats every major
/// function alike (a fault injector, a statistics filter) overrides only `dispatch`,
/// as a WDM driver points every `MajorFunction[]` slot at one routine.
pub trait Driver: std::any::Any + Send + Sync {
    /// The routine every major function this driver does not handle itself goes to.
    fn dispatch(&self, device: &DeviceRef, irp: Irp) -> Status {
        default_dispatch(device, irp)
    }

    /// `IRP_MJ_CREATE`.
    fn create(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_CLEANUP`.
    fn cleanup(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_CLOSE`.
    fn close(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_READ`: fill the IRP's MDL from `Parameters::Read`.
    fn read(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_WRITE`: write the IRP's MDL at `Parameters::Write`; durable at
    /// completion when [`Irp::is_force_unit_access`].
    fn write(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_FLUSH_BUFFERS` (*DispatchFlushBuffers*): a driver with internal
    /// buffers writes them down, waits, forwards the flush, and completes after it.
    #[doc(alias = "DispatchFlushBuffers")]
    fn flush_buffers(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_SHUTDOWN`: write everything cached; may arrive more than once.
    fn shutdown(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_QUERY_INFORMATION`.
    fn query_information(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_SET_INFORMATION`.
    fn set_information(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_QUERY_VOLUME_INFORMATION`.
    fn query_volume_information(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_DIRECTORY_CONTROL`.
    fn directory_control(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_FILE_SYSTEM_CONTROL`: irpstack's [`FsControl`](crate::file::FsControl)s.
    fn file_system_control(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_DEVICE_CONTROL`.
    fn device_control(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// `IRP_MJ_INTERNAL_DEVICE_CONTROL`.
    fn internal_device_control(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// Block discard (TRIM).
    fn discard(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }
    /// Write zeroes.
    fn write_zeroes(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.dispatch(device, irp)
    }

    /// The completion routine registered with [`Irp::set_completion_routine`]
    /// (`IO_COMPLETION_ROUTINE`): runs when the lower driver completes the IRP, in
    /// whatever thread completed it. `device` is the device that registered it.
    #[doc(alias = "IO_COMPLETION_ROUTINE")]
    fn completion(&self, device: &DeviceRef, irp: Irp, context: usize) -> Completion {
        let _ = (device, context);
        Completion::Continue(irp)
    }
}

/// What a driver does with a major function it does not handle: a filter
/// forwards it (skipping its location), a bottom device completes it with
/// `STATUS_INVALID_DEVICE_REQUEST` (NT's empty dispatch-table slots).
pub fn default_dispatch(device: &DeviceRef, mut irp: Irp) -> Status {
    match device.lower() {
        Some(lower) => {
            irp.skip_current_location();
            lower.call(irp)
        }
        None => irp.complete(Status::INVALID_DEVICE_REQUEST),
    }
}
