//! The volume control block (fastfat's `VCB`): the mounted volume — the backend reading it,
//! whether and why it is read-only, what journal recovery did, the open inodes, the
//! write-back failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use irp::{DeviceRef, Status};

use super::backend::{Backend, Mutations};
use super::fcb::{Fcb, FcbTable};
use super::write_errors::WriteErrors;
use super::{Failure, MountOptions};
use crate::jbd2::ReplayReport;
use crate::ondisk::inode::Inode;

/// A mounted volume.
#[doc(alias = "VCB")]
pub struct Vcb {
    name: String,
    lower: DeviceRef,
    backend: Box<dyn Backend>,
    read_only: Option<String>,
    recovery: Option<ReplayReport>,
    options: MountOptions,
    fcbs: FcbTable,
    errors: Arc<WriteErrors>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for Vcb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vcb")
            .field("name", &self.name)
            .field("lower", &self.lower.name())
            .field("read_only", &self.read_only)
            .field("recovered", &self.recovery.is_some())
            .field("open_inodes", &self.fcbs.len())
            .finish_non_exhaustive()
    }
}

impl Vcb {
    pub(crate) fn new(name: String, lower: DeviceRef, mounted: super::Mounted, options: MountOptions) -> Vcb {
        Vcb {
            name,
            lower,
            backend: mounted.backend,
            read_only: mounted.read_only,
            recovery: mounted.recovery,
            options,
            fcbs: FcbTable::default(),
            errors: mounted.errors,
            shut_down: AtomicBool::new(false),
        }
    }

    /// The file-system device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device below (`Vcb->TargetDeviceObject`).
    pub fn lower(&self) -> &DeviceRef {
        &self.lower
    }

    /// The backend.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// Why the volume is mounted read-only, or `None` for a read-write mount.
    pub fn read_only_reason(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    /// Whether the volume is mounted read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// What journal recovery did at mount (into memory on a read-only mount), if the journal
    /// needed it.
    pub fn recovery(&self) -> Option<&ReplayReport> {
        self.recovery.as_ref()
    }

    /// The mount options.
    pub fn options(&self) -> &MountOptions {
        &self.options
    }

    /// The open inodes.
    pub fn fcbs(&self) -> &FcbTable {
        &self.fcbs
    }

    /// The volume's write-back failures.
    pub fn write_errors(&self) -> &Arc<WriteErrors> {
        &self.errors
    }

    /// The write path, unless the volume is read-only (whether or not it was shut down).
    fn writable(&self) -> Option<&dyn Mutations> {
        if self.read_only.is_some() { None } else { self.backend.mutations() }
    }

    /// The inode of `fcb` as it is now: read again on a read-write mount (every change
    /// goes through the backend, by whichever handle or name), the FCB's copy updated;
    /// the copy read at open on a read-only one.
    pub fn inode_of(&self, fcb: &Fcb) -> Result<Inode, Failure> {
        if self.writable().is_none() {
            return Ok(fcb.inode());
        }
        let inode = self.backend.read_inode(fcb.ino())?;
        fcb.state().inode = inode.clone();
        Ok(inode)
    }

    /// The FCB of `ino` for one more open (`inode` as the caller read it): a new FCB counts
    /// an open of the inode in the write path, so it outlives its last name until its last
    /// close.
    pub(crate) fn open_fcb(&self, ino: u32, inode: Inode) -> Result<Arc<Fcb>, Failure> {
        self.fcbs.open(ino, || {
            if let Some(m) = self.writable() {
                m.open(ino)?;
            }
            Ok(inode)
        })
    }

    /// A file object of `fcb` was closed: with its last, the FCB goes and the write path
    /// counts the inode's close (freeing it if it has no name left).
    pub(crate) fn close_fcb(&self, fcb: &Fcb) -> Result<(), Failure> {
        if self.fcbs.close(fcb)
            && let Some(m) = self.writable()
        {
            m.release(fcb.ino())?;
        }
        Ok(())
    }

    /// The write path for `what` (a description for the log): refused with
    /// `STATUS_MEDIA_WRITE_PROTECTED` on a read-only mount, and logged with the reason, and
    /// with `STATUS_VOLUME_DISMOUNTED` after a shutdown.
    pub fn mutations(&self, what: &str) -> Result<&dyn Mutations, Failure> {
        if self.is_shut_down() && self.read_only.is_none() {
            return Err(Failure::new(Status::VOLUME_DISMOUNTED, format!("{what}: the volume was shut down")));
        }
        let reason = match (&self.read_only, self.backend.mutations()) {
            (None, Some(m)) => return Ok(m),
            (Some(reason), _) => reason.as_str(),
            (None, None) => "the backend has no write path",
        };
        tracing::warn!(device = %self.name, "{what}: refused, the volume is mounted read-only ({reason})");
        Err(Failure::new(
            Status::MEDIA_WRITE_PROTECTED,
            format!("{what}: the volume is read-only ({reason})"),
        ))
    }

    /// Marks the volume shut down; `false` if it already was.
    pub(crate) fn mark_shut_down(&self) -> bool {
        !self.shut_down.swap(true, Ordering::AcqRel)
    }

    /// Whether `IRP_MJ_SHUTDOWN` arrived (later opens fail with `STATUS_VOLUME_DISMOUNTED`).
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }
}
