//! # The file-system crash checker (`irpstack crash-test --fs`)
//!
//! Runs file-system workloads — CrashMonkey/ACE's bounded ones ([`ace`]: every sequence of
//! one or two operations of the ACE set, then a persistence call) and seeded random
//! histories ([`random`]) — with `fs::Filesystem` over the stack under test, whose bottom
//! is the crash disk recording every write and flush. Then, at every point of that record
//! (a sample for long ones), for every crash state the disk could be left in (lose all
//! unflushed writes, keep any subset, tear a write at sector boundaries), it recovers
//! and checks:
//!
//! 1. the journal replays (`Filesystem::recover`, mount's own first step);
//! 2. replaying the recovered volume changes nothing, and a crash during the replay (at the
//!    point before its last write for every state; at every point for a sample) followed
//!    by a second replay gives the same volume as one replay;
//! 3. the volume mounts (which finishes the orphans a crash left), and its tree is the state
//!    after some step between the last persistence point and the crash, with everything a
//!    completed fsync, fdatasync, directory fsync or sync covered, and no file shows bytes
//!    it never held ([`oracle`]);
//! 4. after an unmount, `fs::fsck` finds it clean;
//! 5. `e2fsck -fn` finds a sample of those volumes clean (and is asked about every failure).
//!
//! A crash state costs what differs from the previous one: states are overlays of the
//! shared starting image, and a state whose image was seen before (by fingerprint) is
//! only judged again against the oracle of its own crash time; a recovered volume seen
//! before is not checked and read again.
//!
//! A failing state is written out as an image file, with the command that checks just that
//! state again (`--workload ... --seed ... --state POINT.PLAN`).

pub mod ace;
pub mod e2fsck;
mod explore;
pub mod fingerprint;
pub mod history;
pub mod model;
pub mod observe;
pub mod oracle;
pub mod random;
pub mod recover;
mod report;
pub mod run;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fs::breakage::Breakage;
use fs::filesystem::Timestamp;
use fs::mkfs::{MkfsOptions, mkfs};
use fs::{BlockDevice, Filesystem, MemoryDevice, MountOptions};

pub use report::{FsFailure, FsReport, StateId};
pub use workload::{Workload, WorkloadError};

use crate::{CheckError, StackBuilder};

/// What to check and how hard.
#[derive(Clone, Debug)]
pub struct FsConfig {
    /// Volume size in bytes (8 MiB: a 4 MiB journal and room for the workloads).
    pub image_size: u64,
    /// The crash disk's sector: the unit a torn write keeps or loses.
    pub sector_size: u32,
    /// Try every subset of the disk cache when it holds at most this many writes.
    pub exhaustive_limit: usize,
    /// Otherwise try this many seeded subsets (and tear the last writes).
    pub samples: usize,
    /// Check at most this many crash points per workload (evenly spread).
    pub max_points: usize,
    /// Check every `every`-th crash state (1: all) besides the first two of each point
    /// (lose every cached write, keep them all), which are always checked.
    pub every: usize,
    /// Seed of the sampled subsets (`--seed`).
    pub seed: u64,
    /// Crash the journal replay at every point of its history for every `n`-th distinct
    /// crash image whose replay writes (0: never; the point before its last write is
    /// crashed for every one).
    pub replay_crash_every: usize,
    /// Run `e2fsck -fn` on every `n`-th distinct recovered volume (0: only on failures).
    pub e2fsck_every: usize,
    /// Small caches and transactions: commits and checkpoints all the time.
    pub tight: bool,
    /// Write failing crash states here (None: not written).
    pub out_dir: Option<PathBuf>,
    /// Check only this state (and write its image out, pass or fail).
    pub only_state: Option<StateId>,
    /// Go on after a failing workload (else stop at the first).
    pub keep_going: bool,
    /// A deliberately broken file system (tests only: see `fs::breakage`).
    pub breakage: Breakage,
    /// Options the reproducer line repeats (the CLI's stack, say).
    pub reproduce_options: String,
}

impl Default for FsConfig {
    fn default() -> FsConfig {
        FsConfig {
            image_size: 8 << 20,
            sector_size: 512,
            exhaustive_limit: 6,
            samples: 16,
            max_points: 2000,
            every: 1,
            seed: 1,
            replay_crash_every: 16,
            e2fsck_every: 250,
            tight: false,
            out_dir: None,
            only_state: None,
            keep_going: false,
            breakage: Breakage::NONE,
            reproduce_options: String::new(),
        }
    }
}

/// A fixed clock: the same workload writes the same bytes on every run.
fn fixed_clock() -> Timestamp {
    Timestamp { secs: 1_767_225_600, nanos: 0 }
}

impl FsConfig {
    /// How the workloads mount (and recovery replays).
    pub fn mount_options(&self) -> MountOptions {
        let mut o = MountOptions {
            clock: fixed_clock,
            // Commits come from persistence calls and full transactions, not from time:
            // the same workload gives the same disk history however slow the machine.
            commit_interval: Duration::from_secs(86_400),
            breakage: self.breakage,
            ..MountOptions::default()
        };
        if self.tight {
            o.cache_blocks = 16;
            o.pinned_blocks = 24;
            o.max_transaction_blocks = 8;
        }
        o
    }
}

/// The starting image every workload runs on: a fresh volume with the starting tree,
/// unmounted cleanly.
#[derive(Debug, Clone)]
pub struct Base {
    /// The image.
    pub image: Arc<[u8]>,
    /// The model of its tree.
    pub tree: model::Tree,
}

impl Base {
    /// Formats and builds the starting tree ([`ace::starting_tree`]), checking that the
    /// file system built what the model says.
    pub fn build(config: &FsConfig) -> Result<Base, CheckError> {
        let setup = |what: &str, e: String| CheckError::Setup(format!("starting image: {what}: {e}"));
        let dev = Arc::new(MemoryDevice::new(config.image_size));
        let mut mk = MkfsOptions::from_seed(0x1CE_5EED);
        mk.time = fixed_clock().secs as u32;
        mk.journal_blocks = Some(1024);
        mkfs(&*dev, &mk).map_err(|e| setup("mkfs", e.to_string()))?;
        let opts = MountOptions { breakage: Breakage::NONE, ..config.mount_options() };
        let fs = Filesystem::mount(Arc::clone(&dev) as Arc<dyn BlockDevice>, opts)
            .map_err(|e| setup("mount", e.to_string()))?;
        let steps = ace::starting_tree();
        for (i, step) in steps.iter().enumerate() {
            run::exec(&fs, step, ace::tag_of_setup(i))
                .map_err(|e| setup(&step.to_string(), format!("errno {e}")))?;
        }
        let tree = ace::starting_model();
        let seen = observe::observe(&fs).map_err(|e| setup("reading it back", e))?;
        let history = history::History::new(tree.clone(), &[]);
        let bounds = history.bounds(&[], u64::MAX);
        oracle::check(&history, &bounds, &seen).map_err(|v| setup("the model disagrees", v.what))?;
        fs.unmount().map_err(|e| setup("unmount", e.to_string()))?;
        Ok(Base { image: Arc::from(dev.image()), tree })
    }
}

/// Progress of a long run, after each workload.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Workloads done.
    pub done: usize,
    /// Workloads in all.
    pub total: usize,
    /// Crash states checked so far.
    pub states: usize,
    /// Failures so far.
    pub failures: usize,
    /// Since the start.
    pub elapsed: Duration,
}

/// Runs every workload through `build(crash disk)` and checks its crash states; calls
/// `progress` after each workload. Failures are in the report; an error means the check
/// could not run.
pub fn check(
    workloads: &[Workload],
    config: &FsConfig,
    build: &StackBuilder<'_>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<FsReport, CheckError> {
    let started = Instant::now();
    if config.sector_size < 512 || !config.sector_size.is_power_of_two() || config.sector_size > 4096 {
        return Err(CheckError::Setup(format!(
            "sector size {} is not 512..4096, a power of two",
            config.sector_size
        )));
    }
    let base = Base::build(config)?;
    let mut report = FsReport { e2fsck_missing: None, ..FsReport::default() };
    let e2fsck = e2fsck::find();
    if e2fsck.is_none() {
        report.e2fsck_missing = Some("e2fsck not installed: not run".into());
    }
    if let Some(dir) = &config.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| CheckError::Setup(format!("{}: {e}", dir.display())))?;
    }
    for (i, w) in workloads.iter().enumerate() {
        let failed = explore::workload(w, i, &base, config, build, e2fsck.as_deref(), &mut report)?;
        report.workloads += 1;
        report.elapsed = started.elapsed();
        progress(&Progress {
            done: i + 1,
            total: workloads.len(),
            states: report.states,
            failures: report.failures.len(),
            elapsed: report.elapsed,
        });
        if failed && !config.keep_going {
            break;
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
