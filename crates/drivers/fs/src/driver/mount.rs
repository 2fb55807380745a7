//! Mounting: reading the volume through the device below, refusing what cannot be read,
//! deciding read-only and why, and replaying a journal that needs recovery.

use std::sync::Arc;

use irp::{Characteristics, DeviceError, DeviceRef};

use super::MountOptions;
use super::backend::{Backend, ReadOnlyVolume};
use super::overlay::Overlay;
use super::replay::{ReplayError, replay_into};
use crate::device::DeviceIoError;
use crate::jbd2::ReplayReport;
use crate::lower_device::LowerDevice;
use crate::ondisk::features::{Access, UnsupportedFeature};
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
    /// A read-write mount was asked for.
    #[error(
        "a read-write mount needs the file system's write path, which this build does not have yet; mount read-only (ro=true)"
    )]
    ReadWriteUnavailable,
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

/// A volume read and checked, ready for a [`Vcb`](super::Vcb).
pub struct Mounted {
    /// The backend.
    pub backend: Box<dyn Backend>,
    /// Why it is read-only (`None`: read-write).
    pub read_only: Option<String>,
    /// What journal recovery did, if the journal needed it.
    pub recovery: Option<ReplayReport>,
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
/// names the first that is not); unknown RO_COMPAT features make the mount read-only, with
/// them named in the reason. A journal that needs recovery is replayed into an in-memory
/// [`Overlay`] on a read-only mount, so reads see the recovered volume and the device is
/// not written.
pub fn mount(lower: &DeviceRef, options: &MountOptions) -> Result<Mounted, MountError> {
    if !options.read_only {
        return Err(MountError::ReadWriteUnavailable);
    }
    let device = LowerDevice::new(lower)?;
    let overlay = Arc::new(Overlay::new(device));
    let recovery = replay_into(&overlay, options.verify_checksums)?;
    let vol =
        Volume::open_with(Arc::clone(&overlay), OpenOptions { verify_checksums: options.verify_checksums })?;
    let mut reasons = vec!["mounted with ro=true".to_owned()];
    if let Access::ReadOnly { reason } = vol.access() {
        reasons.push(reason.clone());
    }
    if lower.stack_has(Characteristics::READ_ONLY) {
        reasons.push(format!("device {} is read-only", lower.name()));
    }
    let sb = vol.superblock();
    if sb.state & STATE_ERROR_FS != 0 {
        tracing::warn!(device = lower.name(), "the volume has errors recorded (s_state); run fsck");
    }
    if let Some(r) = &recovery {
        tracing::info!(
            device = lower.name(),
            transactions = r.transactions,
            blocks = r.blocks_written,
            "journal needed recovery: replayed into memory"
        );
    }
    Ok(Mounted { backend: Box::new(ReadOnlyVolume::new(vol)), read_only: Some(reasons.join("; ")), recovery })
}
