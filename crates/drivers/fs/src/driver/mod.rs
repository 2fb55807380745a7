//! # The file-system driver
//!
//! A top-of-stack driver, attached over a lower device (`fs / cache(size=64M) /
//! file(path=x.img)`), that serves files of the ext4 volume on it through IRPs. It follows
//! fastfat's shape: one file per major function over support modules.
//!
//! | file | handles |
//! |---|---|
//! | `create.rs` | `IRP_MJ_CREATE`: path resolution, dispositions, options, access checks |
//! | `cleanup.rs` | `IRP_MJ_CLEANUP`: the last handle of an open went away |
//! | `close.rs` | `IRP_MJ_CLOSE`: the file object went away; the FCB with its last one |
//! | `read.rs` | `IRP_MJ_READ`: file data into the MDL (holes, EOF); raw reads of a volume open |
//! | `write.rs` | `IRP_MJ_WRITE` (offset, append, write-through), discard, write zeroes |
//! | `information.rs` | `IRP_MJ_QUERY_INFORMATION` |
//! | `set_information.rs` | `IRP_MJ_SET_INFORMATION`: size, allocation, times, mode, owner, disposition |
//! | `rename.rs` | `IRP_MJ_SET_INFORMATION`'s rename and link classes |
//! | `directory.rs` | `IRP_MJ_DIRECTORY_CONTROL`: enumerate, pattern, restart, resume |
//! | `fsctl.rs` | `IRP_MJ_FILE_SYSTEM_CONTROL`: readlink, xattrs, seek data/hole, ... |
//! | `fsctl_change.rs` | the controls that change the volume: symlink, mknod, xattrs, fallocate |
//! | `volume_information.rs` | `IRP_MJ_QUERY_VOLUME_INFORMATION`: statfs |
//! | `flush.rs` | `IRP_MJ_FLUSH_BUFFERS`: the flush contract |
//! | `shutdown.rs` | `IRP_MJ_SHUTDOWN` |
//!
//! Support: [`vcb`] (the mounted volume), [`fcb`] (one per open inode), [`ccb`] (one per
//! open, in the file object's context), [`path`] (resolution), [`access`] (mode bits),
//! [`backend`] (the seam to the file system: [`Backend`] reads, [`Mutations`] changes),
//! [`filesystem_backend`] (the write path behind both, on a read-write mount) with its
//! periodic commit (`commit_timer`), [`write_errors`] (failed write-backs, reported once
//! per handle), [`mount`](mod@mount), [`replay`] and [`overlay`] (journal recovery into
//! memory, for read-only mounts), [`failure`] (statuses).

pub mod access;
pub mod backend;
pub mod ccb;
mod cleanup;
mod close;
mod commit_timer;
mod create;
mod directory;
pub mod failure;
pub mod fcb;
pub mod filesystem_backend;
mod flush;
mod fsctl;
mod fsctl_change;
mod information;
pub mod mount;
mod options;
pub mod overlay;
pub mod path;
mod read;
mod rename;
pub mod replay;
mod set_information;
mod shutdown;
pub mod vcb;
mod volume_information;
mod write;
pub mod write_errors;

use std::sync::Arc;

use irp::{Characteristics, DeviceBuilder, DeviceRef, Driver, FileObject, Irp, Status};

pub use backend::{Backend, Mutations, ReadOnlyVolume, TimeChanges};
pub use ccb::Ccb;
pub use failure::Failure;
pub use filesystem_backend::FilesystemBackend;
pub use mount::{MountError, Mounted, mount};
pub use options::MountOptions;
pub use vcb::Vcb;

/// The file-system driver of one mounted volume.
#[derive(Debug)]
pub struct FsDriver {
    vcb: Vcb,
}

impl FsDriver {
    /// Mounts the volume on `lower`'s stack and attaches a file-system device called `name`
    /// on top of it. A read-only mount's device has [`Characteristics::READ_ONLY`]; every
    /// file-system device asks for `IRP_MJ_SHUTDOWN`.
    pub fn attach(name: &str, lower: &DeviceRef, options: MountOptions) -> Result<DeviceRef, MountError> {
        let top = lower.attached_top();
        let mounted = mount(&top, &options)?;
        let mut characteristics = Characteristics::SHUTDOWN_NOTIFY;
        if mounted.read_only.is_some() {
            characteristics = characteristics | Characteristics::READ_ONLY;
        }
        if let Some(reason) = &mounted.read_only {
            tracing::info!(device = name, "mounted read-only: {reason}");
        }
        let vcb = Vcb::new(name.to_owned(), Arc::clone(&top), mounted, options);
        Ok(DeviceBuilder::new(name).characteristics(characteristics).attach(FsDriver { vcb }, &top)?)
    }

    /// The mounted volume.
    pub fn vcb(&self) -> &Vcb {
        &self.vcb
    }
}

/// The file object of the IRP's current location.
pub(crate) fn file_object(irp: &Irp) -> Option<Arc<FileObject>> {
    irp.current_location().file_object.clone()
}

/// Completes `irp` with the outcome of a request: success with `information`, or the
/// failure's status (logged: corruption and device errors as warnings, the rest at debug).
pub(crate) fn finish(vcb: &Vcb, irp: Irp, result: Result<u64, Failure>) -> Status {
    match result {
        Ok(information) => irp.complete_with(Status::SUCCESS, information),
        Err(f) => {
            let major = irp.major_function();
            if matches!(f.status, Status::FILE_CORRUPT_ERROR | Status::IO_DEVICE_ERROR) {
                tracing::warn!(device = vcb.name(), %major, status = %f.status, "{}", f.detail);
            } else {
                tracing::debug!(device = vcb.name(), %major, status = %f.status, "{}", f.detail);
            }
            irp.complete(f.status)
        }
    }
}

/// After `IRP_MJ_SHUTDOWN` the volume is dismounted: every request on it but a cleanup, a
/// close and another shutdown completes with `STATUS_VOLUME_DISMOUNTED` (NT's answer on the
/// handles of a dismounted volume). `None` when `irp` was completed so.
fn unless_dismounted(vcb: &Vcb, irp: Irp) -> Option<Irp> {
    if !vcb.is_shut_down() {
        return Some(irp);
    }
    let major = irp.major_function();
    tracing::debug!(device = vcb.name(), %major, "refused: the volume was shut down");
    irp.complete(Status::VOLUME_DISMOUNTED);
    None
}

/// Sends `irp` on to the device below as it is (`IoSkipCurrentIrpStackLocation` +
/// `IoCallDriver`).
pub(crate) fn forward(vcb: &Vcb, mut irp: Irp) -> Status {
    irp.skip_current_location();
    vcb.lower().call(irp)
}

impl Driver for FsDriver {
    fn create(&self, _: &DeviceRef, irp: Irp) -> Status {
        create::dispatch(&self.vcb, irp)
    }
    fn cleanup(&self, _: &DeviceRef, irp: Irp) -> Status {
        cleanup::dispatch(&self.vcb, irp)
    }
    fn close(&self, _: &DeviceRef, irp: Irp) -> Status {
        close::dispatch(&self.vcb, irp)
    }
    fn read(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| read::dispatch(&self.vcb, irp))
    }
    fn write(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| write::dispatch(&self.vcb, irp))
    }
    fn discard(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| write::dispatch(&self.vcb, irp))
    }
    fn write_zeroes(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| write::dispatch(&self.vcb, irp))
    }
    fn query_information(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| information::query(&self.vcb, irp))
    }
    fn set_information(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| set_information::dispatch(&self.vcb, irp))
    }
    fn directory_control(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| directory::dispatch(&self.vcb, irp))
    }
    fn file_system_control(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| fsctl::dispatch(&self.vcb, irp))
    }
    fn query_volume_information(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| volume_information::dispatch(&self.vcb, irp))
    }
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        unless_dismounted(&self.vcb, irp)
            .map_or(Status::VOLUME_DISMOUNTED, |irp| flush::dispatch(&self.vcb, irp))
    }
    fn shutdown(&self, _: &DeviceRef, irp: Irp) -> Status {
        shutdown::dispatch(&self.vcb, irp)
    }
}
