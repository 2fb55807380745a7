//! # fsck — a read-only structural check of an ext4 volume
//!
//! What e2fsck's five passes look at, without fixing anything, fast enough to run after
//! every crash point of the crash checker:
//!
//! 0. the journal is replayed into memory ([`driver::replay`](crate::driver::replay)), never
//!    onto the device; the superblock and every group descriptor are checked (checksums,
//!    counts in range);
//! 1. every inode table, inode by inode (`inodes.rs`): checksums, fields, the blocks each
//!    inode claims (extent trees and block maps inside the volume, index blocks' checksums),
//!    `i_blocks`, xattr blocks and their reference counts; no block claimed twice, by two
//!    inodes or by an inode and the metadata ([`space`]);
//! 2. every directory (`directories.rs`): block checksums, htree, `.` and `..`, entries naming
//!    inodes in use with their type, no name twice;
//! 3. every directory reachable from the root through one parent;
//! 4. link counts equal to the entries naming each inode (`summary.rs`);
//! 5. block and inode bitmaps (checksums and every bit) equal to what is in use, and each
//!    group's free and directory counts; the superblock's totals are a warning.
//!
//! The verdict uses e2fsck's exit codes: [`EXIT_CLEAN`] (0), [`EXIT_UNCORRECTED`] (4) when
//! errors were found, [`EXIT_OPERATIONAL`] (8) when the volume could not be checked.

mod directories;
mod inodes;
mod metadata;
pub mod problem;
pub mod space;
mod summary;

use std::collections::HashMap;

use crate::device::BlockDevice;
use crate::driver::overlay::Overlay;
use crate::driver::replay::{ReplayError, replay_into};
use crate::jbd2::ReplayReport;
use crate::volume::{OpenOptions, Volume, VolumeError};
use problem::Problems;
pub use problem::{Area, Problem, Severity};
use space::Claims;

/// e2fsck's exit code for a clean volume.
pub const EXIT_CLEAN: i32 = 0;
/// e2fsck's exit code when errors were left uncorrected.
pub const EXIT_UNCORRECTED: i32 = 4;
/// e2fsck's exit code for an operational error (the volume could not be checked).
pub const EXIT_OPERATIONAL: i32 = 8;

/// Why the volume could not be checked at all (exit code 8).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsckError {
    /// The superblock or the descriptor table cannot be read as ext4 (or uses an INCOMPAT
    /// feature this implementation cannot read).
    #[error("cannot check this volume: {0}")]
    Unreadable(VolumeError),
}

impl From<VolumeError> for FsckError {
    fn from(e: VolumeError) -> FsckError {
        FsckError::Unreadable(e)
    }
}

/// What the check found.
#[derive(Debug, Clone)]
pub struct FsckReport {
    /// Every problem (at most 100 per area; see `suppressed`).
    pub problems: Vec<Problem>,
    /// Problems found beyond those kept, per area.
    pub suppressed: Vec<(Area, u64)>,
    /// What journal recovery did (into memory), if the journal needed it.
    pub replay: Option<ReplayReport>,
    /// Inodes in use (reserved ones included) and in the volume.
    pub inodes: (u64, u64),
    /// Blocks in use and in the volume.
    pub blocks: (u64, u64),
    /// Directories.
    pub directories: u64,
}

impl FsckReport {
    /// The errors (not the warnings).
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.severity == Severity::Error)
    }

    /// Whether no error was found.
    pub fn is_clean(&self) -> bool {
        self.errors().next().is_none()
    }

    /// e2fsck's exit code for this verdict: 0 clean, 4 errors left uncorrected.
    pub fn exit_code(&self) -> i32 {
        if self.is_clean() { EXIT_CLEAN } else { EXIT_UNCORRECTED }
    }
}

/// What one inode in use is, for the later passes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InodeInfo {
    pub(crate) mode: u16,
    pub(crate) links: u16,
}

/// The state the passes share.
pub(crate) struct Check<'a> {
    /// The volume, read without checksum verification (the passes verify what they read).
    vol: Volume<&'a dyn BlockDevice>,
    /// The same volume with verification (directory reads), if its superblock and
    /// descriptors verify.
    verified: Option<Volume<&'a dyn BlockDevice>>,
    problems: Problems,
    claims: Claims,
    inodes: HashMap<u32, InodeInfo>,
    dirs: Vec<u32>,
    refs: HashMap<u32, u32>,
    xattr_refs: HashMap<u64, Vec<u32>>,
    metadata_per_group: Vec<u64>,
    free_blocks: u64,
    free_inodes: u64,
}

impl Check<'_> {
    fn dir_volume(&self) -> &Volume<&dyn BlockDevice> {
        self.verified.as_ref().unwrap_or(&self.vol)
    }
}

/// Metadata blocks inside group `g`.
pub(crate) fn metadata_blocks_in(c: &Check<'_>, g: u32) -> u64 {
    c.metadata_per_group.get(g as usize).copied().unwrap_or(0)
}

/// Checks the volume on `dev`, replaying its journal into memory first.
pub fn check(dev: &dyn BlockDevice) -> Result<FsckReport, FsckError> {
    let overlay = Overlay::new(dev);
    let mut problems = Problems::default();
    let replay = match replay_into(&overlay, false) {
        Ok(r) => r,
        Err(ReplayError::Volume(e)) => return Err(FsckError::Unreadable(e)),
        Err(e) => {
            problems.error(Area::Journal, format!("the journal cannot be replayed: {e}"));
            None
        }
    };
    let dev: &dyn BlockDevice = &overlay;
    let vol = Volume::open_with(dev, OpenOptions { verify_checksums: false })?;
    let verified = Volume::open_with(dev, OpenOptions { verify_checksums: true }).ok();
    let mut c = Check {
        vol,
        verified,
        problems,
        claims: Claims::default(),
        inodes: HashMap::new(),
        dirs: Vec::new(),
        refs: HashMap::new(),
        xattr_refs: HashMap::new(),
        metadata_per_group: Vec::new(),
        free_blocks: 0,
        free_inodes: 0,
    };
    metadata::check_superblock(&mut c);
    metadata::check_groups(&mut c);
    metadata::claim_metadata(&mut c);
    count_metadata_per_group(&mut c);
    inodes::scan_inodes(&mut c);
    inodes::check_special(&mut c);
    directories::check_directories(&mut c);
    summary::check_link_counts(&mut c);
    let blocks = c.vol.superblock().blocks_count;
    let claims = std::mem::take(&mut c.claims);
    let used = claims.resolve(blocks, &mut c.problems);
    summary::check_bitmaps_and_counts(&mut c, &used);
    let sb = c.vol.superblock();
    let fs_blocks = blocks - u64::from(sb.first_data_block);
    let report_counts = (
        (u64::from(sb.inodes_count) - c.free_inodes, u64::from(sb.inodes_count)),
        (fs_blocks - c.free_blocks, fs_blocks),
        c.dirs.len() as u64,
    );
    let (problems, suppressed) = c.problems.finish();
    Ok(FsckReport {
        problems,
        suppressed,
        replay,
        inodes: report_counts.0,
        blocks: report_counts.1,
        directories: report_counts.2,
    })
}

fn count_metadata_per_group(c: &mut Check<'_>) {
    let sb = c.vol.superblock();
    let groups = u64::from(sb.group_count());
    let (fdb, bpg) = (u64::from(sb.first_data_block), u64::from(sb.blocks_per_group.max(1)));
    let mut per = vec![0u64; groups as usize];
    for (start, len) in c.claims.metadata_runs() {
        let (mut b, end) = (start.max(fdb), start.saturating_add(len));
        while b < end {
            let g = (b - fdb) / bpg;
            let group_end = fdb + (g + 1) * bpg;
            let upto = end.min(group_end);
            if let Some(n) = per.get_mut(g as usize) {
                *n += upto - b;
            }
            b = upto;
        }
    }
    c.metadata_per_group = per;
}
