//! # jbd2 — the journal, in the on-disk format of Linux's jbd2
//!
//! The journal is a circular log of transactions inside the journal inode's blocks. Each
//! transaction is revoke blocks, descriptor blocks each followed by the copies of the
//! metadata blocks its tags name, and a commit block. The kernel, `e2fsck` and `debugfs`
//! read what this module writes, and this module replays what they (the kernel) leave.
//!
//! Supported: superblock v1/v2; features 64BIT, CSUM_V3, REVOKE, ASYNC_COMMIT (replayed;
//! never written as such). Not supported (refused with [`Jbd2Error::Unsupported`]):
//! checksum v1 and v2, fast commits.
//!
//! - formats: [`header`], [`superblock`], [`features`], [`descriptor`], [`commit`],
//!   [`revoke`], [`checksum`];
//! - where the journal is: [`area`] ([`JournalArea`]) and the circular log, [`ring`];
//! - recovery: [`scan`](mod@scan) (pass 1), [`recovery`] (passes 2 and 3, [`recover`]);
//! - writing: [`transaction`] ([`Transaction`]) and [`writer`] ([`Journal`]).
//!
//! The ext4 layer owns the `needs_recovery` flag in the ext4 superblock: it sets it while a
//! journal may hold transactions and clears it after [`recover`] or [`Journal::close`].

pub mod area;
mod bytes;
pub mod checksum;
pub mod commit;
pub mod descriptor;
pub mod error;
pub mod features;
pub mod header;
pub mod recovery;
pub mod revoke;
pub mod ring;
pub mod scan;
pub mod superblock;
pub mod transaction;
pub mod writer;

pub use area::JournalArea;
pub use error::{CorruptKind, Jbd2Error};
pub use features::Features;
pub use recovery::{BadBlock, ReplayReport, read_superblock, recover};
pub use scan::{LogEnd, LogScan, ScannedTransaction, scan};
pub use superblock::JournalSuperblock;
pub use transaction::Transaction;
pub use writer::{CommitInfo, Journal};

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
