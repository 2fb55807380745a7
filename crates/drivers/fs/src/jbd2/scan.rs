//! Pass 1 of recovery: walk the log from `s_start`, transaction by transaction, and find
//! its end — the last transaction whose commit block is there and valid.
//!
//! The walk stops (without error: this is how a log ends) at a block that is not a journal
//! block, at an unexpected sequence number, at a commit block whose checksum fails, or after
//! going once around the whole log. Everything after the last valid commit block (a
//! transaction being written when the system stopped) is ignored.
//!
//! A descriptor or revoke block whose checksum fails is either a stale block (left from an
//! earlier use of the journal area) or damage in the middle of the log. As jbd2 does, the
//! walk steps over it to the transaction's commit block: if that commit is valid and not
//! older than the last good one, the transaction was committed and is damaged — an error,
//! since ending the log there would silently drop committed transactions; otherwise the log
//! ends at the suspect block.

use super::area::JournalArea;
use super::commit::CommitBlock;
use super::descriptor::{BlockTag, Descriptor};
use super::error::{CorruptKind, Jbd2Error};
use super::header::{BlockHeader, BlockType};
use super::revoke::RevokeBlock;
use super::ring::Ring;
use super::superblock::JournalSuperblock;
use crate::device::BlockDevice;

/// One committed transaction found in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedTransaction {
    /// Its id.
    pub sequence: u32,
    /// Its first log block.
    pub first_block: u32,
    /// The log block of its commit record.
    pub commit_block: u32,
    /// `h_commit_sec` of the commit record.
    pub commit_sec: u64,
    /// `h_commit_nsec` of the commit record.
    pub commit_nsec: u32,
    /// Logged data blocks: (log block holding the copy, its tag).
    pub blocks: Vec<(u32, BlockTag)>,
    /// Revoked fs block numbers.
    pub revokes: Vec<u64>,
}

/// Why the scan stopped where it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    /// `s_start` is 0: the journal is empty.
    Clean,
    /// The block is not a journal metadata block (no magic).
    NotAJournalBlock,
    /// A journal block of another transaction (an older one, left over).
    Sequence {
        /// Its `h_sequence`.
        found: u32,
    },
    /// A block with a checksum that does not match (torn or stale).
    BadChecksum(CorruptKind),
    /// A block type that cannot start or continue a transaction here.
    BlockType {
        /// Its `h_blocktype`.
        found: u32,
    },
    /// The walk went once around the whole log.
    WrappedAround,
}

/// The result of the scan pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogScan {
    /// The committed transactions, oldest first.
    pub transactions: Vec<ScannedTransaction>,
    /// The id of the first transaction not in the log (`s_sequence` + count).
    pub end_sequence: u32,
    /// The log block where the scan stopped.
    pub end_block: u32,
    /// Why it stopped there.
    pub end: LogEnd,
}

/// Walks the log of the journal whose (validated) superblock is `sb`.
pub fn scan(dev: &dyn BlockDevice, area: &JournalArea, sb: &JournalSuperblock) -> Result<LogScan, Jbd2Error> {
    let ring = Ring { first: sb.first, maxlen: sb.maxlen };
    let mut scan = LogScan {
        transactions: Vec::new(),
        end_sequence: sb.sequence,
        end_block: sb.start,
        end: LogEnd::Clean,
    };
    if sb.start == 0 {
        return Ok(scan);
    }
    let features = sb.features;
    let seed = sb.seed();
    let mut buf = vec![0u8; area.block_size()];
    let mut pos = sb.start;
    let mut visited: u64 = 0;
    let mut tx = ScannedTransaction {
        sequence: sb.sequence,
        first_block: pos,
        commit_block: 0,
        commit_sec: 0,
        commit_nsec: 0,
        blocks: Vec::new(),
        revokes: Vec::new(),
    };
    // A descriptor or revoke block of the current transaction whose checksum failed.
    let mut suspect: Option<(u64, CorruptKind)> = None;
    let mut last_commit_sec = 0u64;
    let end = loop {
        if visited >= u64::from(ring.len()) {
            break LogEnd::WrappedAround;
        }
        let jblock = u64::from(pos);
        area.read(dev, jblock, &mut buf)?;
        let header = match BlockHeader::decode(&buf) {
            Ok(h) => h,
            Err(_) => break LogEnd::NotAJournalBlock,
        };
        if header.sequence != tx.sequence {
            break LogEnd::Sequence { found: header.sequence };
        }
        match header.kind() {
            Some(BlockType::Descriptor) => {
                let d = match Descriptor::decode(&buf, &features, seed, jblock) {
                    Ok(d) => d,
                    Err(Jbd2Error::Corrupt { kind: kind @ CorruptKind::DescriptorChecksum, .. }) => {
                        suspect.get_or_insert((jblock, kind));
                        Descriptor::decode_unverified(&buf, &features, header.sequence)
                    }
                    Err(e) => return Err(e),
                };
                let n = d.tags.len() as u64;
                if visited + 1 + n > u64::from(ring.len()) {
                    break LogEnd::WrappedAround;
                }
                for (i, tag) in d.tags.into_iter().enumerate() {
                    tx.blocks.push((ring.advance(pos, 1 + i as u64), tag));
                }
                pos = ring.advance(pos, 1 + n);
                visited += 1 + n;
            }
            Some(BlockType::Revoke) => {
                match RevokeBlock::decode(&buf, &features, seed, jblock) {
                    Ok(r) => tx.revokes.extend(r.blocks),
                    Err(Jbd2Error::Corrupt { kind: kind @ CorruptKind::RevokeChecksum, .. }) => {
                        suspect.get_or_insert((jblock, kind));
                    }
                    Err(_) if suspect.is_some() => {}
                    Err(e) => return Err(e),
                };
                pos = ring.advance(pos, 1);
                visited += 1;
            }
            Some(BlockType::Commit) => {
                let c = match CommitBlock::decode(&buf, &features, seed, jblock) {
                    Ok(c) => c,
                    Err(Jbd2Error::Corrupt { kind: kind @ CorruptKind::CommitChecksum, .. }) => {
                        break LogEnd::BadChecksum(kind);
                    }
                    Err(e) => return Err(e),
                };
                if let Some((bad_block, kind)) = suspect.take() {
                    if c.commit_sec >= last_commit_sec {
                        return Err(Jbd2Error::corrupt(bad_block, kind));
                    }
                    break LogEnd::BadChecksum(kind);
                }
                last_commit_sec = c.commit_sec;
                let next = ring.advance(pos, 1);
                let done = std::mem::replace(
                    &mut tx,
                    ScannedTransaction {
                        sequence: c.sequence.wrapping_add(1),
                        first_block: next,
                        commit_block: 0,
                        commit_sec: 0,
                        commit_nsec: 0,
                        blocks: Vec::new(),
                        revokes: Vec::new(),
                    },
                );
                scan.transactions.push(ScannedTransaction {
                    commit_block: pos,
                    commit_sec: c.commit_sec,
                    commit_nsec: c.commit_nsec,
                    ..done
                });
                pos = next;
                visited += 1;
            }
            _ => break LogEnd::BlockType { found: header.block_type },
        }
    };
    let end = match suspect {
        Some((_, kind)) => LogEnd::BadChecksum(kind),
        None => end,
    };
    scan.end_sequence = tx.sequence;
    scan.end_block = tx.first_block;
    scan.end = end;
    Ok(scan)
}
