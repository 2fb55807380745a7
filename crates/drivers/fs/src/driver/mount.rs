//! Mounting: reading the volume through the device below, refusing what cannot be read,
//! deciding read-only and why, and replaying a journal that needs recovery — onto the
//! device for a read-write mount (the write path's mount), into memory for a read-only one.

use std::sync::Arc;

use irp::{Characteristics, DeviceError, DeviceRef};

use super::MountOptions;
use super::backend::{Backend, ReadOnlyVolume};
use super::filesystem_backend::FilesystemBackend;
use super::overlay::Overlay;
use super::replay::{ReplayError, replay_into};
use super::write_errors::WriteErrors;
use crate::device::{BlockDevice, DeviceIoError};
use crate::error::FsError;
use crate::filesystem::{self, Filesystem};
use crate::jbd2::ReplayReport;
use crate::lower_device::LowerDevice;
use crate::ondisk::features::UnsupportedFeature;
use crate::volume::{OpenOptions, Volume, VolumeError};

/// `s_state` bit: errors were detected (`EXT4_ERROR_FS`).
const STATE_ERROR_FS: u16 = 0x2;

/// Why a volume could not be mounted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// The device below failed.
    #[error("reading the volume: {0}")]
    Device(DeviceIoError),
    /// The volume uses an INCOMPAT feature this file system cannot read.
    #[error("refusing to mount: {0}")]
    Unsupported(UnsupportedFeature),
    /// The superblock or group descriptors are not a valid ext4 volume.
    #[error("not a valid ext4 volume: {0}")]
    Volume(VolumeError),
    /// The journal needs recovery and cannot be replayed.
    #[error("journal recovery failed: {0}")]
    Replay(ReplayError),
    /// The write path could not mount the volume (its journal, its orphans...).
    #[error("mounting read-write: {0}")]
    ReadWrite(FsError),
    /// The device could not be attached to the stack.
    #[error(transparent)]
    Attach(#[from] DeviceError),
}

impl From<DeviceIoError> for MountError {
    fn from(e: DeviceIoError) -> MountError {
        MountError::Device(e)
    }
}

impl From<VolumeError> for MountError {
    fn from(e: VolumeError) -> MountError {
        match e {
            VolumeError::Unsupported(f) => MountError::Unsupported(f),
            VolumeError::Device(d) => MountError::Device(d),
            other => MountError::Volume(other),
        }
    }
}

impl From<ReplayError> for MountError {
    fn from(e: ReplayError) -> MountError {
        match e {
            ReplayError::Volume(v) => MountError::from(v),
            other => MountError::Replay(other),
        }
    }
}

impl From<FsError> for MountError {
    fn from(e: FsError) -> MountError {
        match e {
            FsError::Volume(v) => MountError::from(v),
            FsError::Unsupported(f) => MountError::Unsupported(f),
            FsError::Device(d) => MountError::Device(d),
            other => MountError::ReadWrite(other),
        }
    }
}

/// A volume read and checked, ready for a [`Vcb`](super::Vcb).
pub struct Mounted {
    /// The backend.
    pub backend: Box<dyn Backend>,
    /// Why it is read-only (`None`: read-write).
    pub read_only: Option<String>,
    /// What journal recovery did, if the journal needed it.
    pub recovery: Option<ReplayReport>,
    /// Where write-back failures are recorded (shared with the periodic commit).
    pub errors: Arc<WriteErrors>,
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounted")
            .field("read_only", &self.read_only)
            .field("recovery", &self.recovery)
            .finish()
    }
}

/// Mounts the volume on `lower` (the top of the stack below the file system).
///
/// The superblock's INCOMPAT features must all be supported ([`MountError::Unsupported`]
/// names the first that is not). The mount is read-only when asked (`ro`), when the device
/// below is read-only, and when the volume cannot take changes here: unknown RO_COMPAT
/// features, no journal, no extent feature — each named in the reason. A read-only mount
/// replays a journal that needs recovery into an in-memory [`Overlay`], so reads see the
/// recovered volume and the device is not written. A read-write mount is the write path's
/// ([`Filesystem::mount`]): the journal replayed onto the device, `needs_recovery` set while
/// mounted, the orphan list finished.
pub fn mount(lower: &DeviceRef, options: &MountOptions) -> Result<Mounted, MountError> {
    let device = LowerDevice::new(lower)?;
    let mut reasons = Vec::new();
    if options.read_only {
        reasons.push("mounted with ro=true".to_owned());
    }
    if lower.stack_has(Characteristics::READ_ONLY) {
        reasons.push(format!("device {} is read-only", lower.name()));
    }
    let probe = Volume::open_with(&device, OpenOptions { verify_checksums: options.verify_checksums })?;
    if let Some(reason) = filesystem::mount::forced_read_only(probe.superblock(), probe.access()) {
        reasons.push(reason);
    }
    if probe.superblock().state & STATE_ERROR_FS != 0 {
        tracing::warn!(device = lower.name(), "the volume has errors recorded (s_state); run fsck");
    }
    drop(probe);
    if reasons.is_empty() {
        return mount_read_write(lower, device, options);
    }
    mount_read_only(lower, device, options, reasons)
}

fn mount_read_write(
    lower: &DeviceRef,
    device: LowerDevice,
    options: &MountOptions,
) -> Result<Mounted, MountError> {
    let fs_options = filesystem::MountOptions {
        read_only: false,
        verify_checksums: options.verify_checksums,
        commit_interval: options.commit_interval,
        ..filesystem::MountOptions::default()
    };
    let fs = Filesystem::mount(Arc::new(device) as Arc<dyn BlockDevice>, fs_options)?;
    let read_only = fs.read_only();
    let errors = Arc::new(WriteErrors::default());
    let backend = FilesystemBackend::new(fs, Some(options.commit_interval), Arc::clone(&errors));
    let recovery = backend.recovery();
    if let Some(r) = &recovery {
        tracing::info!(
            device = lower.name(),
            transactions = r.transactions,
            blocks = r.blocks_written,
            "journal needed recovery: replayed onto the device"
        );
    }
    Ok(Mounted { backend: Box::new(backend), read_only, recovery, errors })
}

fn mount_read_only(
    lower: &DeviceRef,
    device: LowerDevice,
    options: &MountOptions,
    reasons: Vec<String>,
) -> Result<Mounted, MountError> {
    let overlay = Arc::new(Overlay::new(device));
    let recovery = replay_into(&overlay, options.verify_checksums)?;
    let vol =
        Volume::open_with(Arc::clone(&overlay), OpenOptions { verify_checksums: options.verify_checksums })?;
    if let Some(r) = &recovery {
        tracing::info!(
            device = lower.name(),
            transactions = r.transactions,
            blocks = r.blocks_written,
            "journal needed recovery: replayed into memory"
        );
    }
    Ok(Mounted {
        backend: Box::new(ReadOnlyVolume::new(vol)),
        read_only: Some(reasons.join("; ")),
        recovery,
        errors: Arc::new(WriteErrors::default()),
    })
}
