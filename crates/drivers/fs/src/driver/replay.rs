//! Finding the journal of a volume and replaying it into an [`Overlay`]: the recovered
//! state in memory, the device untouched. Both a read-only mount and `fsck` start here.

use crate::device::BlockDevice;
use crate::jbd2::{self, Jbd2Error, JournalArea, ReplayReport};
use crate::ondisk::features::{compat, incompat};
use crate::ondisk::superblock::{SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock};
use crate::volume::{Mapping, OpenOptions, Volume, VolumeError};

use super::overlay::Overlay;

/// Why the journal could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Reading the volume failed (the superblock, the journal inode).
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// The journal is corrupt or uses what jbd2 here does not support.
    #[error("journal: {0}")]
    Journal(Jbd2Error),
    /// The journal lives on another device (`s_journal_dev`).
    #[error("the journal is on an external device (s_journal_dev {0:#x}), which is not supported")]
    ExternalJournal(u32),
    /// The journal inode is not a usable journal.
    #[error("journal inode {ino}: {why}")]
    BadJournalInode {
        /// `s_journal_inum`.
        ino: u32,
        /// What is wrong.
        why: String,
    },
}

impl From<Jbd2Error> for ReplayError {
    fn from(e: Jbd2Error) -> ReplayError {
        ReplayError::Journal(e)
    }
}

/// The journal's blocks: the journal inode's mapping, or `None` without a journal.
pub fn journal_area<D: BlockDevice>(vol: &Volume<D>) -> Result<Option<JournalArea>, ReplayError> {
    let sb = vol.superblock();
    if sb.features.compat & compat::HAS_JOURNAL == 0 {
        return Ok(None);
    }
    let ino = sb.journal_inum;
    if ino == 0 {
        return Err(ReplayError::ExternalJournal(sb.journal_dev));
    }
    let inode = vol.read_inode(ino)?;
    let bs = u64::from(vol.block_size());
    let blocks = inode.size / bs;
    if blocks == 0 || blocks > u64::from(u32::MAX) {
        return Err(ReplayError::BadJournalInode { ino, why: format!("size {} bytes", inode.size) });
    }
    let mut extents: Vec<(u64, u64)> = Vec::new();
    let mut lblk = 0u64;
    while lblk < blocks {
        match vol.map_block(ino, &inode, lblk as u32)? {
            Mapping::Mapped { physical, len, .. } => {
                let n = len.min(blocks - lblk);
                match extents.last_mut() {
                    Some((p, l)) if *p + *l == physical => *l += n,
                    _ => extents.push((physical, n)),
                }
                lblk += n;
            }
            Mapping::Hole { .. } => {
                return Err(ReplayError::BadJournalInode {
                    ino,
                    why: format!("logical block {lblk} is a hole"),
                });
            }
        }
    }
    Ok(Some(JournalArea::from_extents(bs as usize, &extents)?))
}

/// Replays the journal of the volume on `overlay` if it needs recovery: the replayed blocks
/// and the emptied journal superblock land in the overlay, and its ext4 superblock loses
/// `needs_recovery` (as after e2fsck's replay). Returns what recovery did, or `None` when
/// the journal was clean (or there is none).
pub fn replay_into<D: BlockDevice>(
    overlay: &Overlay<D>,
    verify_checksums: bool,
) -> Result<Option<ReplayReport>, ReplayError> {
    let probe = Volume::open_with(overlay, OpenOptions { verify_checksums })?;
    if !probe.superblock().needs_recovery() {
        return Ok(None);
    }
    let Some(area) = journal_area(&probe)? else {
        return Ok(None);
    };
    drop(probe);
    let report = jbd2::recover(overlay, &area)?;
    clear_needs_recovery(overlay)?;
    tracing::info!(
        transactions = report.transactions,
        blocks = report.blocks_written,
        "journal replayed into memory (the device is not written)"
    );
    Ok(Some(report))
}

fn clear_needs_recovery<D: BlockDevice>(dev: &Overlay<D>) -> Result<(), VolumeError> {
    let mut raw = vec![0u8; SUPERBLOCK_SIZE];
    dev.read_at(SUPERBLOCK_OFFSET, &mut raw)?;
    let mut sb = Superblock::decode(&raw)?;
    sb.features.incompat &= !incompat::RECOVER;
    sb.update_checksum();
    dev.write_at(SUPERBLOCK_OFFSET, &sb.encode())?;
    Ok(())
}
