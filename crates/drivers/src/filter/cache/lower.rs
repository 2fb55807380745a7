//! Requests the cache sends to the device below it on its own behalf.

use std::sync::mpsc;

use irp::{
    DeviceRef, FlushFlags, InformationClass, Irp, MajorFunction, Mdl, Parameters, RequestFlags, Status,
};

/// The lower device's size in bytes.
pub(super) fn query_size(lower: &DeviceRef) -> Result<u64, Status> {
    let irp = Irp::for_device(lower, MajorFunction::QueryInformation)
        .with_parameters(Parameters::Information { class: InformationClass::Standard, value: 0 });
    let done = lower.call_and_wait(irp);
    done.status().ok()?;
    Ok(done.information())
}

/// Reads `len` bytes at `offset` from the lower device.
pub(super) fn read(lower: &DeviceRef, offset: u64, len: usize) -> Result<Box<[u8]>, Status> {
    let mdl = Mdl::with_len(len).map_err(|_| Status::INSUFFICIENT_RESOURCES)?;
    let irp = Irp::for_device(lower, MajorFunction::Read)
        .with_parameters(Parameters::Read {
            offset,
            length: u32::try_from(len).map_err(|_| Status::INVALID_PARAMETER)?,
        })
        .with_mdl(mdl);
    let mut done = lower.call_and_wait(irp);
    done.status().ok()?;
    let mdl = done.take_mdl().ok_or(Status::INTERNAL_ERROR)?;
    Ok(mdl.bytes()[..len].into())
}

/// Sends a flush with `flags` to the lower device.
pub(super) fn flush(lower: &DeviceRef, flags: FlushFlags) -> Status {
    let irp = Irp::for_device(lower, MajorFunction::FlushBuffers).with_flush_flags(flags);
    lower.call_and_wait(irp).status()
}

/// One block write of a write-back pass.
pub(super) struct BlockWrite {
    pub(super) block: u64,
    pub(super) generation: u64,
    pub(super) offset: u64,
    pub(super) data: Box<[u8]>,
}

/// Writes every block at once (all in flight together) and returns, per block, the
/// status its write completed with, in the same order.
pub(super) fn write_all(lower: &DeviceRef, writes: &[BlockWrite], fua: bool) -> Vec<Status> {
    let (tx, rx) = mpsc::channel();
    let mut statuses = vec![Status::INTERNAL_ERROR; writes.len()];
    let mut sent = 0;
    for (i, w) in writes.iter().enumerate() {
        let mdl = match Mdl::from_slice(&w.data) {
            Ok(m) => m,
            Err(_) => {
                statuses[i] = Status::INSUFFICIENT_RESOURCES;
                continue;
            }
        };
        let flags = if fua { RequestFlags::FORCE_UNIT_ACCESS } else { RequestFlags::NONE };
        let irp = Irp::for_device(lower, MajorFunction::Write)
            .with_parameters(Parameters::Write { offset: w.offset, length: w.data.len() as u32 })
            .with_flags(flags)
            .with_mdl(mdl)
            .with_user_data(i as u64);
        let _ = lower.submit_to(irp, tx.clone());
        sent += 1;
    }
    drop(tx);
    for done in rx.iter().take(sent) {
        statuses[done.user_data() as usize] = done.status();
    }
    statuses
}
