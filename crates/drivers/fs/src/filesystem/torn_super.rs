//! A primary superblock whose checksum fails at mount. Its 1024 bytes span two 512-byte
//! sectors, and a crash may keep one sector of a superblock write and not the other (the
//! crash model allows torn writes): the checkpoint's write of the superblock block, or the
//! write at mount that sets `needs_recovery`.
//!
//! - After a torn checkpoint write, the journal still holds the transaction (the journal
//!   superblock moves on only after the checkpoint is flushed): replaying it rewrites the
//!   block. The geometry needed to find the journal is read without checksums (the fields
//!   that give it never change after mkfs, and decoding checks them).
//! - After a torn mount-time write the journal is empty. The two versions differ only in
//!   fields of the first sector (mount count, times, `needs_recovery`), so the block is a
//!   consistent superblock with a stale checksum. It is accepted, its checksum rewritten,
//!   only if it agrees with the backup in group 1 on everything that describes the volume.
//!
//! Anything else stays an error.

use std::sync::Arc;

use crate::breakage::Breakage;
use crate::device::BlockDevice;
use crate::error::{FsError, Result};
use crate::jbd2::read_superblock;
use crate::jbd2::recovery::recover_with;
use crate::ondisk::features::{compat, incompat};
use crate::ondisk::superblock::{SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock};
use crate::volume::{OpenOptions, Volume};

fn read_primary(dev: &dyn BlockDevice) -> Result<Superblock> {
    let mut raw = vec![0u8; SUPERBLOCK_SIZE];
    dev.read_at(SUPERBLOCK_OFFSET, &mut raw)?;
    Ok(Superblock::decode(&raw)?)
}

/// The fields that describe the volume agree.
fn same_volume(a: &Superblock, b: &Superblock) -> bool {
    let f =
        |s: &Superblock| (s.features.compat, s.features.incompat & !incompat::RECOVER, s.features.ro_compat);
    a.uuid == b.uuid
        && a.blocks_count == b.blocks_count
        && a.inodes_count == b.inodes_count
        && a.log_block_size == b.log_block_size
        && a.blocks_per_group == b.blocks_per_group
        && a.inodes_per_group == b.inodes_per_group
        && a.first_data_block == b.first_data_block
        && a.inode_size == b.inode_size
        && a.desc_size == b.desc_size
        && a.journal_inum == b.journal_inum
        && a.checksum_seed == b.checksum_seed
        && f(a) == f(b)
}

/// Tries to bring back a primary superblock whose checksum failed; Ok(true) if it now passes.
pub(crate) fn repair(dev: &Arc<dyn BlockDevice>, breakage: Breakage) -> Result<bool> {
    let sb = read_primary(&**dev)?;
    if sb.verify_checksum().is_ok() {
        return Ok(true);
    }
    if sb.features.compat & compat::HAS_JOURNAL != 0 {
        let vol = Volume::open_with(&**dev, OpenOptions { verify_checksums: false })?;
        let area = super::mount::journal_area(&vol, sb.journal_inum)?;
        drop(vol);
        if read_superblock(&**dev, &area)?.start != 0 {
            tracing::warn!("superblock checksum failed; replaying the journal, which holds its block");
            recover_with(&**dev, &area, breakage)?;
            if read_primary(&**dev)?.verify_checksum().is_ok() {
                return Ok(true);
            }
        }
    }
    let sb = read_primary(&**dev)?;
    if sb.group_count() > 1 {
        let bs = u64::from(sb.block_size());
        let at = (u64::from(sb.first_data_block) + u64::from(sb.blocks_per_group)) * bs;
        let mut raw = vec![0u8; SUPERBLOCK_SIZE];
        dev.read_at(at, &mut raw)?;
        let backup = Superblock::decode(&raw)?;
        if backup.verify_checksum().is_err() || !same_volume(&sb, &backup) {
            return Ok(false);
        }
    }
    tracing::warn!("superblock checksum failed with an empty journal (a torn write); checksum rewritten");
    let mut fixed = sb;
    fixed.update_checksum();
    dev.write_at(SUPERBLOCK_OFFSET, &fixed.encode())?;
    dev.flush()?;
    Ok(true)
}

/// Whether `e` is the primary superblock's checksum failing.
pub(crate) fn is_superblock_checksum(e: &FsError) -> bool {
    use crate::ondisk::error::Corruption;
    matches!(e, FsError::Volume(crate::volume::VolumeError::Corrupt(f))
        if f.what == "superblock" && matches!(f.corruption, Corruption::BadChecksum { .. }))
}
