//! Typed errors of the journal code: what went wrong and where (which journal block).

use crate::device::DeviceIoError;

/// What was wrong with a journal block (the "what" of [`Jbd2Error::Corrupt`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptKind {
    /// The block does not start with the jbd2 magic 0xC03B3998.
    #[error("bad magic {found:#010x}")]
    BadMagic {
        /// The first four bytes, big-endian.
        found: u32,
    },
    /// The block header names a block type this code does not know (or not here).
    #[error("unexpected block type {found}")]
    UnexpectedBlockType {
        /// `h_blocktype`.
        found: u32,
    },
    /// The buffer is shorter than the structure being decoded.
    #[error("block too short: {len} bytes, need {need}")]
    TooShort {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The journal superblock's checksum does not match.
    #[error("superblock checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    SuperblockChecksum {
        /// `s_checksum`.
        stored: u32,
        /// crc32c over the superblock.
        computed: u32,
    },
    /// A descriptor block's tail checksum does not match.
    #[error("descriptor block checksum mismatch")]
    DescriptorChecksum,
    /// A revoke block's tail checksum does not match.
    #[error("revoke block checksum mismatch")]
    RevokeChecksum,
    /// A commit block's checksum does not match.
    #[error("commit block checksum mismatch")]
    CommitChecksum,
    /// A logged data block does not match the checksum in its descriptor tag.
    #[error("descriptor tag checksum mismatch for home block {home}")]
    TagChecksum {
        /// The fs block the data was to be written to.
        home: u64,
    },
    /// A superblock field is out of range.
    #[error("superblock field {field} = {value} is invalid: {why}")]
    SuperblockField {
        /// Field name (`s_first`, ...).
        field: &'static str,
        /// Its value.
        value: u64,
        /// Why it is invalid.
        why: &'static str,
    },
    /// A revoke block's `r_count` is out of range.
    #[error("revoke r_count {r_count} out of range (block size {block_size})")]
    RevokeCount {
        /// `r_count`.
        r_count: u32,
        /// The journal block size.
        block_size: usize,
    },
    /// A descriptor describes a home block past the end of the device.
    #[error("tag names home block {home}, past the end of the device")]
    HomeOutOfRange {
        /// The home block number.
        home: u64,
    },
    /// The log runs around the whole journal without ending.
    #[error("log does not end within the journal ({blocks} blocks scanned)")]
    EndlessLog {
        /// Blocks scanned.
        blocks: u64,
    },
}

/// Errors of the jbd2 code.
#[derive(Debug, thiserror::Error)]
pub enum Jbd2Error {
    /// A journal block failed to decode or verify.
    #[error("journal block {block}: {kind}")]
    Corrupt {
        /// Journal block number (0 = the journal superblock).
        block: u64,
        /// What was wrong.
        kind: CorruptKind,
    },
    /// The journal uses a feature this code does not implement.
    #[error("journal feature {what} ({mask:#x}) is not supported")]
    Unsupported {
        /// The feature's name.
        what: &'static str,
        /// Its bit in the feature word.
        mask: u32,
    },
    /// The journal area given does not match the journal superblock.
    #[error("journal area: {0}")]
    Area(String),
    /// A transaction does not fit the journal even when the log is empty.
    #[error("transaction needs {needed} log blocks, the journal holds {capacity}")]
    TransactionTooLarge {
        /// Log blocks the transaction needs.
        needed: u64,
        /// Log blocks of the whole journal.
        capacity: u64,
    },
    /// A block image handed to a transaction is not one journal block long.
    #[error("block {home}: image of {len} bytes, the block size is {block_size}")]
    BadImage {
        /// The fs block number.
        home: u64,
        /// Length given.
        len: usize,
        /// The block size.
        block_size: usize,
    },
    /// The journal holds transactions that must be replayed before it can be written.
    #[error("journal needs recovery (s_start = {start}, s_sequence = {sequence})")]
    NeedsRecovery {
        /// `s_start`.
        start: u32,
        /// `s_sequence`.
        sequence: u32,
    },
    /// Replay wrote what it could, but some logged blocks failed their tag checksum; the
    /// journal was left dirty (as the kernel does) so e2fsck can look at it.
    #[error("replay skipped {} logged block(s) whose checksum failed; journal left dirty", report.bad_blocks.len())]
    ReplayIncomplete {
        /// What was replayed and what was skipped.
        report: Box<super::ReplayReport>,
    },
    /// The caller's ordered-data step failed; the transaction was not committed.
    #[error("ordered-data step before commit of transaction {tid} failed: {reason}")]
    OrderedData {
        /// The transaction id.
        tid: u32,
        /// The caller's error, as text.
        reason: String,
    },
    /// The device below failed.
    #[error(transparent)]
    Device(#[from] DeviceIoError),
}

impl Jbd2Error {
    /// A [`Jbd2Error::Corrupt`] for journal block `block`.
    pub fn corrupt(block: u64, kind: CorruptKind) -> Jbd2Error {
        Jbd2Error::Corrupt { block, kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_names_the_block_and_what() {
        let e = Jbd2Error::corrupt(37, CorruptKind::TagChecksum { home: 1234 });
        assert_eq!(e.to_string(), "journal block 37: descriptor tag checksum mismatch for home block 1234");
    }
}
