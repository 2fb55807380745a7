//! Requests a driver sends to the device below it on its own behalf and waits for: a cache
//! reading a block in or writing one back, a file system reading its superblock. They carry
//! no file object (the driver is not an application with a handle); [`Handle`](crate::Handle)
//! builds the same requests with the handle's file object.

use super::{AllocatedRange, Allocation, AllocationQuery};
use crate::{
    CompletedIrp, DeviceRef, FlushFlags, InformationClass, Irp, MajorFunction, Mdl, Parameters, Status,
};

/// `irp` as a size query (`QueryInformation(Standard)`).
pub(crate) fn size_query(irp: Irp) -> Irp {
    irp.with_parameters(Parameters::Information { class: InformationClass::Standard, value: 0 })
}

/// The size a completed size query answered.
pub(crate) fn size_answer(done: &CompletedIrp) -> Result<u64, Status> {
    done.status().ok()?;
    Ok(done.information())
}

/// The device's size in bytes.
pub fn query_size(device: &DeviceRef) -> Result<u64, Status> {
    size_answer(&device.call_and_wait(size_query(Irp::for_device(device, MajorFunction::QueryInformation))))
}

/// Reads `len` bytes at `offset` from the device.
pub fn read(device: &DeviceRef, offset: u64, len: usize) -> Result<Box<[u8]>, Status> {
    let mdl = Mdl::with_len(len).map_err(|_| Status::INSUFFICIENT_RESOURCES)?;
    let length = u32::try_from(len).map_err(|_| Status::INVALID_PARAMETER)?;
    let irp = Irp::for_device(device, MajorFunction::Read)
        .with_parameters(Parameters::Read { offset, length })
        .with_mdl(mdl);
    let mut done = device.call_and_wait(irp);
    done.status().ok()?;
    let mdl = done.take_mdl().ok_or(Status::INTERNAL_ERROR)?;
    Ok(mdl.bytes()[..len].into())
}

/// Writes `data` at `offset` to the device and waits for it.
pub fn write(device: &DeviceRef, offset: u64, data: &[u8]) -> Result<(), Status> {
    let mdl = Mdl::from_slice(data).map_err(|_| Status::INSUFFICIENT_RESOURCES)?;
    let length = u32::try_from(data.len()).map_err(|_| Status::INVALID_PARAMETER)?;
    device.call_and_wait(write_irp(device, offset, mdl, length)).status().ok()
}

/// A write of the first `length` bytes of `mdl` at `offset`, to send to `device` (the MDL
/// may be longer: a reused buffer).
pub fn write_irp(device: &DeviceRef, offset: u64, mdl: Mdl, length: u32) -> Irp {
    Irp::for_device(device, MajorFunction::Write)
        .with_parameters(Parameters::Write { offset, length })
        .with_mdl(mdl)
}

/// Sends a flush with `flags` and waits; a device with nothing to flush (one that does not
/// handle flushes) counts as flushed ([`Status::counted_for`]).
pub fn flush(device: &DeviceRef, flags: FlushFlags) -> Status {
    let irp = Irp::for_device(device, MajorFunction::FlushBuffers).with_flush_flags(flags);
    device.call_and_wait(irp).status().counted_for(MajorFunction::FlushBuffers)
}

/// Asks the device which parts of `range` may hold data (`FSCTL_QUERY_ALLOCATED_RANGES`,
/// [`super::allocated`]), with room for `max_ranges` ranges: the answer may end before the
/// range does ([`Allocation::is_complete`]). A device that cannot tell gives
/// [`Allocation::unknown`] (everything is data); an answer that breaks the rules is
/// logged and fails with `STATUS_INTERNAL_ERROR`.
#[doc(alias = "FSCTL_QUERY_ALLOCATED_RANGES")]
pub fn query_allocated_ranges(
    device: &DeviceRef,
    range: AllocatedRange,
    max_ranges: usize,
) -> Result<Allocation, Status> {
    let irp = AllocationQuery::new(range, max_ranges)
        .into_irp(Irp::for_device(device, MajorFunction::DeviceControl));
    let mut done = device.call_and_wait(irp);
    allocation_answer(range, &mut done)
}

/// The [`Allocation`] a completed allocation query of `range` carries (see
/// [`query_allocated_ranges`]), for callers that submit the IRP themselves.
pub fn allocation_answer(range: AllocatedRange, done: &mut CompletedIrp) -> Result<Allocation, Status> {
    let status = done.status();
    let mut buffer = done.take_system_buffer();
    buffer.truncate(usize::try_from(done.information()).unwrap_or(usize::MAX));
    Allocation::decode(range, status, &buffer).map_err(|e| {
        if !matches!(e, super::AllocationError::Failed(_)) {
            tracing::error!(query = ?range, "the allocation answer does not follow the rules: {e}");
        }
        e.status()
    })
}
