//! Handles: what an application holds after an open (`HANDLE` → `FILE_OBJECT`).

use std::sync::Arc;

use crate::device::{Characteristics, DeviceRef};
use crate::file::CreateAction;
use crate::file_object::{Access, FileObject};
use crate::function::{FlushFlags, MajorFunction, Parameters, RequestFlags};
use crate::request::{CompletedIrp, Irp};
use crate::{Mdl, Status};

/// An open handle to a device or file. Closing it (or dropping it) sends
/// `IRP_MJ_CLEANUP` and `IRP_MJ_CLOSE`.
///
/// Every operation checks the handle's access first, as NT does: reads need
/// [`Access::READ`], writes and flushes need write access (`STATUS_ACCESS_DENIED`
/// otherwise). On a read-only volume writes fail with `STATUS_MEDIA_WRITE_PROTECTED`
/// and a flush succeeds at once: there is nothing to write.
#[derive(Debug)]
pub struct Handle {
    device: DeviceRef,
    file: Arc<FileObject>,
    read_only: bool,
    closed: bool,
    action: CreateAction,
}

fn mdl_status(e: crate::MdlError) -> Status {
    tracing::debug!("buffer for a request: {e}");
    Status::INSUFFICIENT_RESOURCES
}

impl Handle {
    pub(crate) fn new(device: DeviceRef, file: Arc<FileObject>) -> Handle {
        let read_only = device.stack_has(Characteristics::READ_ONLY);
        Handle { device, file, read_only, closed: false, action: CreateAction::Opened }
    }

    pub(crate) fn with_create_action(mut self, action: CreateAction) -> Handle {
        self.action = action;
        self
    }

    /// What the open did (`IoStatus.Information` of the create: opened, created,
    /// overwritten, superseded).
    pub fn create_action(&self) -> CreateAction {
        self.action
    }

    /// The device at the top of the stack this handle sends IRPs to.
    pub fn device(&self) -> &DeviceRef {
        &self.device
    }

    /// The file object.
    pub fn file_object(&self) -> &Arc<FileObject> {
        &self.file
    }

    /// The access the handle was opened with.
    pub fn access(&self) -> Access {
        self.file.access()
    }

    /// A new IRP for this handle's stack and file object; send it with
    /// [`Handle::call`] or [`Handle::submit`].
    pub fn new_irp(&self, major: MajorFunction) -> Irp {
        Irp::for_device(&self.device, major).with_file_object(Arc::clone(&self.file))
    }

    /// Sends an IRP built with [`Handle::new_irp`] and waits for it.
    pub fn call(&self, irp: Irp) -> CompletedIrp {
        self.device.call_and_wait(irp)
    }

    /// Sends an IRP; `on_complete` runs when it completes, in any thread.
    pub fn submit(&self, irp: Irp, on_complete: impl FnOnce(CompletedIrp) + Send + 'static) -> Status {
        self.device.submit(irp, on_complete)
    }

    pub(crate) fn need(&self, ok: bool) -> Result<(), Status> {
        if ok { Ok(()) } else { Err(Status::ACCESS_DENIED) }
    }

    pub(crate) fn check_write(&self) -> Result<(), Status> {
        self.need(self.access().can_write())?;
        if self.read_only {
            return Err(Status::MEDIA_WRITE_PROTECTED);
        }
        Ok(())
    }

    /// Reads `length` bytes at `offset` into a new page-aligned buffer.
    pub fn read(&self, offset: u64, length: usize) -> Result<Mdl, Status> {
        let mdl = Mdl::with_len(length).map_err(mdl_status)?;
        let (mdl, result) = self.read_mdl(offset, mdl);
        let done = result?;
        if done < length {
            return Err(Status::END_OF_FILE);
        }
        Ok(mdl)
    }

    /// Reads into `buf` at `offset`; returns the bytes read.
    pub fn read_into(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Status> {
        let mdl = Mdl::with_len(buf.len()).map_err(mdl_status)?;
        let (mdl, result) = self.read_mdl(offset, mdl);
        let n = result?;
        let n = n.min(buf.len());
        buf[..n].copy_from_slice(&mdl.bytes()[..n]);
        Ok(n)
    }

    /// Reads into the memory `mdl` describes (direct I/O, no copy). The MDL comes
    /// back whatever happens.
    pub fn read_mdl(&self, offset: u64, mdl: Mdl) -> (Mdl, Result<usize, Status>) {
        if let Err(s) = self.need(self.access().contains(Access::READ)) {
            return (mdl, Err(s));
        }
        let Ok(length) = u32::try_from(mdl.byte_count()) else {
            return (mdl, Err(Status::INVALID_PARAMETER));
        };
        let irp = self
            .new_irp(MajorFunction::Read)
            .with_parameters(Parameters::Read { offset, length })
            .with_mdl(mdl);
        transfer_result(self.call(irp))
    }

    /// Writes `data` at `offset`; returns the bytes written.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<usize, Status> {
        self.write_with(offset, data, RequestFlags::NONE)
    }

    /// Writes `data` at `offset` with ForceUnitAccess: durable when it returns.
    pub fn write_fua(&self, offset: u64, data: &[u8]) -> Result<usize, Status> {
        self.write_with(offset, data, RequestFlags::FORCE_UNIT_ACCESS)
    }

    /// Writes `data` at `offset` with `flags`.
    pub fn write_with(&self, offset: u64, data: &[u8], flags: RequestFlags) -> Result<usize, Status> {
        self.check_write()?;
        let mdl = Mdl::from_slice(data).map_err(mdl_status)?;
        self.write_mdl(offset, mdl, flags).1
    }

    /// Writes the memory `mdl` describes (direct I/O, no copy). The MDL comes back.
    pub fn write_mdl(&self, offset: u64, mdl: Mdl, flags: RequestFlags) -> (Mdl, Result<usize, Status>) {
        if let Err(s) = self.check_write() {
            return (mdl, Err(s));
        }
        let Ok(length) = u32::try_from(mdl.byte_count()) else {
            return (mdl, Err(Status::INVALID_PARAMETER));
        };
        let irp = self
            .new_irp(MajorFunction::Write)
            .with_parameters(Parameters::Write { offset, length })
            .with_flags(flags)
            .with_mdl(mdl);
        transfer_result(self.call(irp))
    }

    /// Flushes: everything written through this stack before the call is on stable
    /// storage when it returns `Ok` (`FlushFileBuffers` / `NtFlushBuffersFile`).
    #[doc(alias = "FlushFileBuffers")]
    #[doc(alias = "NtFlushBuffersFile")]
    pub fn flush_buffers(&self) -> Result<(), Status> {
        self.flush_buffers_ex(FlushFlags::Full)
    }

    /// Flushes with `flags` (`NtFlushBuffersFileEx`). `FileDataOnly`, `NoSync` and
    /// `FileDataSyncOnly` are for files: on a volume handle they are refused with
    /// `STATUS_INVALID_PARAMETER`. NT documents the first two as "not valid with volume
    /// handles" and `FLUSH_FLAGS_FILE_DATA_SYNC_ONLY` as "not valid with volume or directory
    /// handles" (the page names no status; this is the one NT uses for an invalid argument).
    /// The access check comes first. To send such a flag to a device (to test a disk's
    /// handling of it), build the IRP: `Irp::for_device(..).with_flush_flags(..)`.
    #[doc(alias = "NtFlushBuffersFileEx")]
    #[doc(alias = "FLUSH_FLAGS_FILE_DATA_SYNC_ONLY")]
    pub fn flush_buffers_ex(&self, flags: FlushFlags) -> Result<(), Status> {
        self.need(self.access().can_write())?;
        if self.read_only {
            return Ok(());
        }
        if self.file.is_volume()
            && matches!(flags, FlushFlags::FileDataOnly | FlushFlags::NoSync | FlushFlags::FileDataSyncOnly)
        {
            return Err(Status::INVALID_PARAMETER);
        }
        let irp = self.new_irp(MajorFunction::FlushBuffers).with_flush_flags(flags);
        self.call(irp).status().ok()
    }

    /// Discards (TRIMs) a range.
    pub fn discard(&self, offset: u64, length: u64) -> Result<(), Status> {
        self.check_write()?;
        let irp =
            self.new_irp(MajorFunction::Discard).with_parameters(Parameters::Discard { offset, length });
        self.call(irp).status().ok()
    }

    /// Writes zeroes over a range; `may_unmap` lets the device deallocate it instead.
    pub fn write_zeroes(&self, offset: u64, length: u64, flags: RequestFlags) -> Result<(), Status> {
        self.check_write()?;
        let irp = self
            .new_irp(MajorFunction::WriteZeroes)
            .with_parameters(Parameters::WriteZeroes { offset, length })
            .with_flags(flags);
        self.call(irp).status().ok()
    }

    /// The size in bytes (`FileStandardInformation.EndOfFile`).
    pub fn query_size(&self) -> Result<u64, Status> {
        let irp = crate::block::lower::size_query(self.new_irp(MajorFunction::QueryInformation));
        crate::block::lower::size_answer(&self.call(irp))
    }

    /// Sends a device control (`DeviceIoControl`) with `input`; returns the output.
    #[doc(alias = "DeviceIoControl")]
    pub fn device_control(&self, code: u32, input: &[u8], output_length: u32) -> Result<Vec<u8>, Status> {
        let irp = self
            .new_irp(MajorFunction::DeviceControl)
            .with_parameters(Parameters::DeviceControl { code, output_length })
            .with_system_buffer(input.to_vec());
        let mut done = self.call(irp);
        done.status().ok()?;
        let n = usize::try_from(done.information()).unwrap_or(usize::MAX);
        let mut out = done.take_system_buffer();
        out.truncate(n.min(output_length as usize));
        Ok(out)
    }

    /// Closes the handle: `IRP_MJ_CLEANUP` then `IRP_MJ_CLOSE`. Returns the first
    /// failure (a file system reports deferred write errors at cleanup).
    pub fn close(mut self) -> Result<(), Status> {
        self.close_inner()
    }

    fn close_inner(&mut self) -> Result<(), Status> {
        if std::mem::replace(&mut self.closed, true) {
            return Ok(());
        }
        let cleanup = self.call(self.new_irp(MajorFunction::Cleanup)).status();
        let close = self.call(self.new_irp(MajorFunction::Close)).status();
        cleanup.counted_for(MajorFunction::Cleanup).ok()?;
        close.counted_for(MajorFunction::Close).ok()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(status) = self.close_inner() {
            tracing::warn!(device = self.device.name(), %status, "closing a handle failed");
        }
    }
}

fn transfer_result(mut done: CompletedIrp) -> (Mdl, Result<usize, Status>) {
    let status = done.status();
    let Some(mdl) = done.take_mdl() else {
        tracing::error!(%status, "a driver completed a transfer without its MDL");
        let empty = Mdl::with_len(0).expect("an empty MDL needs no memory");
        return (empty, Err(Status::INTERNAL_ERROR));
    };
    let n = usize::try_from(done.information()).unwrap_or(usize::MAX);
    (mdl, status.ok().map(|()| n))
}
