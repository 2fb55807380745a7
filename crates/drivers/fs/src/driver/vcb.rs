//! The volume control block (fastfat's `VCB`): the mounted volume — the backend reading it,
//! whether and why it is read-only, what journal recovery did, the open inodes.

use std::sync::atomic::{AtomicBool, Ordering};

use irp::{DeviceRef, Status};

use super::backend::{Backend, Mutations};
use super::fcb::FcbTable;
use super::{Failure, MountOptions};
use crate::jbd2::ReplayReport;

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
    pub(crate) fn new(
        name: String,
        lower: DeviceRef,
        backend: Box<dyn Backend>,
        read_only: Option<String>,
        recovery: Option<ReplayReport>,
        options: MountOptions,
    ) -> Vcb {
        Vcb {
            name,
            lower,
            backend,
            read_only,
            recovery,
            options,
            fcbs: FcbTable::default(),
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

    /// The write path for `what` (a description for the log): refused with
    /// `STATUS_MEDIA_WRITE_PROTECTED` on a read-only mount, and logged with the reason.
    pub fn mutations(&self, what: &str) -> Result<&dyn Mutations, Failure> {
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
