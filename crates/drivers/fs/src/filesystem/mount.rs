//! Mount and unmount. Mount checks the superblock, descriptors and features (through the
//! read path), replays the journal if `needs_recovery` says so, sets `needs_recovery` while
//! mounted read-write (written home at once, as the kernel does), and finishes the orphan
//! list a crash left. Unmount frees what is still open and unlinked, commits, checkpoints,
//! empties the journal and clears `needs_recovery`.

use std::sync::Arc;

use super::inner::Inner;
use super::types::MountOptions;
use crate::alloc::Alloc;
use crate::device::BlockDevice;
use crate::error::{FsError, Result};
use crate::geometry::Geometry;
use crate::jbd2::recovery::recover_with;
use crate::jbd2::{Journal, JournalArea, ReplayReport};
use crate::ondisk::features::{Access, compat, incompat};
use crate::ondisk::superblock::{SUPERBLOCK_SIZE, Superblock};
use crate::txn::{Txn, TxnLimits};
use crate::volume::{Mapping, OpenOptions, Volume};

/// Why an unmounted volume takes no changes.
pub(crate) const UNMOUNTED: &str = "the volume was unmounted";

/// Why a volume must be mounted read-only, whatever was asked: RO_COMPAT features we do
/// not know (`access`), no journal (changes are only made through one), no extent feature
/// (new files are only made extent-mapped). The driver asks this before it mounts.
pub(crate) fn forced_read_only(sb: &Superblock, access: &Access) -> Option<String> {
    if let Access::ReadOnly { reason } = access {
        return Some(reason.clone());
    }
    if sb.features.compat & compat::HAS_JOURNAL == 0 {
        return Some("no journal (changes are only made through a jbd2 journal)".into());
    }
    if sb.features.incompat & incompat::EXTENTS == 0 {
        return Some("no extent feature (new files are only made extent-mapped)".into());
    }
    None
}

/// The journal inode's blocks, as runs on the device.
pub(crate) fn journal_area(vol: &Volume<&dyn BlockDevice>, ino: u32) -> Result<JournalArea> {
    let inode = vol.read_inode(ino)?;
    let bs = u64::from(vol.block_size());
    let blocks = inode.size / bs;
    let mut runs = Vec::new();
    let mut lblk = 0u64;
    while lblk < blocks {
        match vol.map_block(ino, &inode, lblk as u32)? {
            Mapping::Mapped { physical, len, unwritten: false } => {
                let n = len.min(blocks - lblk);
                runs.push((physical, n));
                lblk += n;
            }
            _ => {
                return Err(FsError::corrupt(
                    format!("inode {ino}"),
                    "journal",
                    format!("block {lblk} is not mapped"),
                ));
            }
        }
    }
    Ok(JournalArea::from_extents(bs as usize, &runs)?)
}

/// What mount's first step found: the journal, why the volume is read-only (if it is), and
/// what the replay did (if the journal needed one).
pub(crate) struct Recovered {
    pub area: Option<JournalArea>,
    pub read_only: Option<String>,
    pub replay: Option<ReplayReport>,
}

/// Mount's first step: checks the superblock (a torn one is repaired when it can be, unless
/// read-only) and the features, and replays the journal if `needs_recovery` says so.
pub(crate) fn recover_volume(dev: &Arc<dyn BlockDevice>, opts: &MountOptions) -> Result<Recovered> {
    let vopts = OpenOptions { verify_checksums: opts.verify_checksums };
    let vol = match Volume::open_with(&**dev, vopts).map_err(FsError::from) {
        Err(e) if super::torn_super::is_superblock_checksum(&e) && !opts.read_only => {
            if !super::torn_super::repair(dev, opts.breakage)? {
                return Err(e);
            }
            Volume::open_with(&**dev, vopts)?
        }
        r => r?,
    };
    let sb = vol.superblock().clone();
    let mut read_only = opts.read_only.then(|| "mounted read-only".to_string());
    if let Some(reason) = forced_read_only(&sb, vol.access()) {
        read_only = Some(reason);
    }
    let has_journal = sb.features.compat & compat::HAS_JOURNAL != 0;
    if has_journal && (sb.journal_inum == 0 || sb.features.incompat & incompat::JOURNAL_DEV != 0) {
        return Err(FsError::NotSupported("an external journal".into()));
    }
    let area = if has_journal { Some(journal_area(&vol, sb.journal_inum)?) } else { None };
    drop(vol);
    let mut replay = None;
    if sb.needs_recovery() {
        let Some(area) = &area else {
            return Err(FsError::corrupt("superblock", "features", "needs_recovery without a journal"));
        };
        let report = recover_with(&**dev, area, opts.breakage)?;
        tracing::info!(
            transactions = report.transactions,
            blocks = report.blocks_written,
            "journal replayed"
        );
        replay = Some(report);
    }
    Ok(Recovered { area, read_only, replay })
}

impl Inner {
    /// Mounts the volume on `dev`.
    pub fn mount(dev: Arc<dyn BlockDevice>, opts: MountOptions) -> Result<Inner> {
        let vopts = OpenOptions { verify_checksums: opts.verify_checksums };
        let Recovered { area, read_only, replay: recovery } = recover_volume(&dev, &opts)?;
        // Read again: the replay may have rewritten the superblock and the descriptors.
        let vol = Volume::open_with(&*dev, vopts)?;
        let mut sb = vol.superblock().clone();
        let groups = vol.groups().to_vec();
        drop(vol);
        let geo = Geometry::from_superblock(&sb);
        let journal = match (&area, &read_only) {
            (Some(a), None) => Some(Journal::open(Arc::clone(&dev), a.clone())?),
            _ => None,
        };
        let limits = TxnLimits {
            cache_blocks: opts.cache_blocks,
            pinned_blocks: opts.pinned_blocks,
            max_transaction_blocks: opts.max_transaction_blocks,
        };
        let mut txn = Txn::new(Arc::clone(&dev), journal, geo.bsz(), limits);
        txn.set_breakage(opts.breakage);
        if sb.needs_recovery() {
            sb.features.incompat &= !incompat::RECOVER;
        }
        let alloc = Alloc::new(geo, groups, &sb);
        let writable = read_only.is_none();
        let mut inner = Inner::new(geo, sb, txn, alloc, opts, read_only, Vec::new());
        inner.recovery = recovery;
        if writable {
            let now = inner.now();
            inner.sb.features.incompat |= incompat::RECOVER;
            inner.sb.mnt_count = inner.sb.mnt_count.wrapping_add(1);
            inner.sb.mtime = now.secs as u32;
            inner.write_superblock_home()?;
            inner.process_orphans()?;
            inner.commit()?;
        } else {
            inner.orphans = inner.read_orphan_chain()?;
        }
        Ok(inner)
    }

    /// Writes the superblock to its home location outside the journal (mount and unmount,
    /// when the journal holds nothing) and flushes.
    fn write_superblock_home(&mut self) -> Result<()> {
        self.sb.update_checksum();
        let raw = self.sb.encode();
        let block = self.geo.superblock_block();
        let off = self.geo.superblock_offset();
        let mut image = self.txn.read(block)?.to_vec();
        image[off..off + SUPERBLOCK_SIZE].copy_from_slice(&raw);
        self.txn.write_home(block, image)?;
        self.txn.device().flush()?;
        Ok(())
    }

    /// Unmounts: frees unlinked inodes still open, commits, checkpoints, marks the journal
    /// empty and the volume clean. The state stays, read-only ("unmounted"): reads still
    /// work, changes are refused.
    pub fn unmount(&mut self) -> Result<()> {
        if self.read_only.is_some() {
            return Ok(());
        }
        if let Some(why) = &self.aborted {
            return Err(FsError::Aborted(why.clone()));
        }
        self.open.clear();
        for ino in self.orphans.clone() {
            if self.read_inode_any(ino)?.links_count == 0 {
                self.destroy(ino)?;
            }
        }
        self.commit()?;
        let mut sb: Superblock = self.sb.clone();
        let geo = self.geo;
        self.txn.close()?;
        let dev = Arc::clone(self.txn.device());
        sb.features.incompat &= !incompat::RECOVER;
        sb.wtime = (self.clock)().secs as u32;
        sb.update_checksum();
        let block = geo.superblock_block();
        let off = geo.superblock_offset();
        let mut image = vec![0u8; geo.bsz()];
        dev.read_at(block * u64::from(geo.bs), &mut image)?;
        image[off..off + SUPERBLOCK_SIZE].copy_from_slice(&sb.encode());
        self.txn.write_home(block, image)?;
        dev.flush()?;
        self.sb = sb;
        self.read_only = Some(UNMOUNTED.to_owned());
        Ok(())
    }
}
