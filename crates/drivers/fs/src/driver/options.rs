//! How to mount: read-only or not, the journal's commit interval, checksum verification.

use std::time::Duration;

/// Mount options (the `fs(...)` layer's parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Mount read-only (`ro`): every request that would change the volume completes with
    /// `STATUS_MEDIA_WRITE_PROTECTED`, and a journal that needs recovery is replayed into
    /// memory, not onto the device. Off by default: a read-write mount replays the journal
    /// onto the device and changes the volume through the write path (it is read-only
    /// anyway, with the reason, on a read-only device or a volume that cannot take changes).
    pub read_only: bool,
    /// How long the journal's running transaction may stay open before it is committed
    /// (`commit=`, ext4's default 5 s). Used by read-write mounts.
    pub commit_interval: Duration,
    /// Verify metadata_csum checksums of everything read (on; off only to look at a damaged
    /// volume).
    pub verify_checksums: bool,
}

impl Default for MountOptions {
    fn default() -> MountOptions {
        MountOptions { read_only: false, commit_interval: Duration::from_secs(5), verify_checksums: true }
    }
}
