//! Journal recovery (replay), in jbd2's three passes:
//!
//! 1. **scan** ([`scan()`](super::scan::scan)): find the committed transactions;
//! 2. **revoke**: for every revoked block, the latest transaction that revoked it;
//! 3. **replay**: write each logged block home unless a transaction at or after the one
//!    that logged it revoked it; the latest such copy wins. Escaped copies get their magic
//!    back; a copy whose CSUM_V3 tag checksum fails is skipped (and reported).
//!
//! Only the home locations are written until the very end, when the journal superblock is
//! rewritten with `s_start = 0` (empty) and `s_sequence` past the log, then flushed. A crash
//! at any point before that leaves the journal as it was, so recovery runs again to the same
//! result; recovering a recovered journal does nothing.

use std::collections::{BTreeMap, HashMap};

use super::area::JournalArea;
use super::checksum;
use super::error::{CorruptKind, Jbd2Error};
use super::header::JBD2_MAGIC;
use super::ring::tid_gt;
use super::scan::{LogEnd, LogScan, scan};
use super::superblock::JournalSuperblock;
use crate::breakage::{Breakage, Broken};
use crate::device::BlockDevice;

/// A logged block that replay skipped because its tag checksum failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBlock {
    /// The log block holding the copy.
    pub journal_block: u32,
    /// The home block it was for.
    pub home: u64,
    /// The transaction that logged it.
    pub sequence: u32,
}

/// What recovery found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// The journal was empty (`s_start == 0`): nothing was read or written.
    pub was_clean: bool,
    /// Ids of the first and last replayed transaction.
    pub sequences: Option<(u32, u32)>,
    /// Committed transactions replayed.
    pub transactions: u32,
    /// Logged block copies found (tags).
    pub logged_blocks: u64,
    /// Distinct home blocks written.
    pub blocks_written: u64,
    /// Revoke records found.
    pub revoke_records: u64,
    /// Logged copies not written because a revoke covered them.
    pub revoked_copies: u64,
    /// Logged copies whose checksum failed (not written).
    pub bad_blocks: Vec<BadBlock>,
    /// Why the log ended where it did.
    pub log_end: LogEnd,
    /// The `s_sequence` written to the (now empty) journal superblock.
    pub next_sequence: u32,
}

/// Reads and validates the journal superblock.
pub fn read_superblock(dev: &dyn BlockDevice, area: &JournalArea) -> Result<JournalSuperblock, Jbd2Error> {
    let mut buf = vec![0u8; area.block_size().max(super::superblock::SUPERBLOCK_SIZE)];
    area.read(dev, 0, &mut buf[..area.block_size()])?;
    let sb = JournalSuperblock::decode(&buf)?;
    sb.validate(area.block_size(), area.len())?;
    Ok(sb)
}

/// Writes the journal superblock (the first 1024 bytes of journal block 0).
pub(crate) fn write_superblock(
    dev: &dyn BlockDevice,
    area: &JournalArea,
    sb: &JournalSuperblock,
) -> Result<(), Jbd2Error> {
    area.write(dev, 0, &sb.encode())
}

/// The revoke table of pass 2: block -> latest transaction that revoked it.
#[derive(Debug, Default)]
struct Revoked(HashMap<u64, u32>);

impl Revoked {
    fn collect(scan: &LogScan) -> Revoked {
        let mut t = Revoked::default();
        for tx in &scan.transactions {
            for &b in &tx.revokes {
                let e = t.0.entry(b).or_insert(tx.sequence);
                if tid_gt(tx.sequence, *e) {
                    *e = tx.sequence;
                }
            }
        }
        t
    }

    /// A copy of `block` logged by transaction `sequence` is revoked.
    fn covers(&self, block: u64, sequence: u32) -> bool {
        self.0.get(&block).is_some_and(|&r| !tid_gt(sequence, r))
    }
}

/// Recovers the journal: replays the committed transactions to their home locations and
/// marks the journal empty. Returns [`Jbd2Error::ReplayIncomplete`] (after writing every good
/// block, with the journal left dirty) if some logged copies failed their checksum.
pub fn recover(dev: &dyn BlockDevice, area: &JournalArea) -> Result<ReplayReport, Jbd2Error> {
    recover_with(dev, area, Breakage::NONE)
}

/// [`recover`], or a deliberately broken variant of it (the crash checker's tests).
pub(crate) fn recover_with(
    dev: &dyn BlockDevice,
    area: &JournalArea,
    breakage: Breakage,
) -> Result<ReplayReport, Jbd2Error> {
    let ignore_revokes = breakage.is(Broken::ReplayIgnoresRevoke);
    let mut sb = read_superblock(dev, area)?;
    let log = scan(dev, area, &sb)?;
    let mut report = ReplayReport {
        was_clean: sb.start == 0,
        sequences: None,
        transactions: log.transactions.len() as u32,
        logged_blocks: 0,
        blocks_written: 0,
        revoke_records: 0,
        revoked_copies: 0,
        bad_blocks: Vec::new(),
        log_end: log.end.clone(),
        next_sequence: sb.sequence,
    };
    if report.was_clean {
        return Ok(report);
    }
    report.sequences =
        log.transactions.first().zip(log.transactions.last()).map(|(a, b)| (a.sequence, b.sequence));
    let revoked = Revoked::collect(&log);
    let bs = area.block_size();
    let device_blocks = dev.size() / bs as u64;
    let seed = sb.seed();
    let csum = sb.features.csum_v3();

    // Pass 3a: pick the latest good copy of every home block.
    let mut latest: BTreeMap<u64, (u32, bool)> = BTreeMap::new();
    let mut buf = vec![0u8; bs];
    for tx in &log.transactions {
        report.revoke_records += tx.revokes.len() as u64;
        for &(jblock, tag) in &tx.blocks {
            report.logged_blocks += 1;
            if !ignore_revokes && revoked.covers(tag.home, tx.sequence) {
                report.revoked_copies += 1;
                continue;
            }
            if tag.home >= device_blocks {
                return Err(Jbd2Error::corrupt(
                    jblock.into(),
                    CorruptKind::HomeOutOfRange { home: tag.home },
                ));
            }
            if csum {
                area.read(dev, jblock.into(), &mut buf)?;
                if checksum::data_block(seed, tx.sequence, &buf) != tag.checksum {
                    tracing::warn!(
                        jblock,
                        home = tag.home,
                        tx = tx.sequence,
                        "jbd2: logged block checksum mismatch"
                    );
                    report.bad_blocks.push(BadBlock {
                        journal_block: jblock,
                        home: tag.home,
                        sequence: tx.sequence,
                    });
                    continue;
                }
            }
            latest.insert(tag.home, (jblock, tag.escaped()));
        }
    }

    // Pass 3b: write them home, in home-block order.
    for (&home, &(jblock, escaped)) in &latest {
        area.read(dev, jblock.into(), &mut buf)?;
        if escaped {
            buf[..4].copy_from_slice(&JBD2_MAGIC.to_be_bytes());
        }
        dev.write_at(home * bs as u64, &buf)?;
        report.blocks_written += 1;
    }
    dev.flush()?;
    if !report.bad_blocks.is_empty() {
        return Err(Jbd2Error::ReplayIncomplete { report: Box::new(report) });
    }

    // Only now is the log given up: skip one id past the log, as jbd2 does, so no block of a
    // transaction that was being written can ever pass for part of a new one.
    sb.start = 0;
    sb.sequence = log.end_sequence.wrapping_add(1);
    report.next_sequence = sb.sequence;
    write_superblock(dev, area, &sb)?;
    dev.flush()?;
    tracing::info!(
        transactions = report.transactions,
        blocks = report.blocks_written,
        revoked = report.revoked_copies,
        "jbd2: journal recovered"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoke_covers_its_own_and_earlier_transactions_only() {
        let scan = LogScan {
            transactions: vec![super::super::scan::ScannedTransaction {
                sequence: 10,
                first_block: 1,
                commit_block: 2,
                commit_sec: 0,
                commit_nsec: 0,
                blocks: vec![],
                revokes: vec![7],
            }],
            end_sequence: 11,
            end_block: 3,
            end: LogEnd::NotAJournalBlock,
        };
        let r = Revoked::collect(&scan);
        assert!(r.covers(7, 9));
        assert!(r.covers(7, 10));
        assert!(!r.covers(7, 11));
        assert!(!r.covers(8, 1));
    }
}
