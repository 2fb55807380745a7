//! # crashcheck — proving the flush promise
//!
//! Runs a seeded workload (writes, overwrites, FUA writes, discards, flushes; several
//! threads) through a stack whose bottom is the crash-simulation disk, which records
//! everything that reaches it. Then, for every point of that record (all of them for
//! small workloads, a sample for large ones) and every crash state the disk could be
//! left in there (lose all unflushed writes, keep any subset, tear a write at sector
//! boundaries), it restarts the stack over the surviving image and checks the oracle
//! of DESIGN.md. The first violation comes back as a reproducer: seed, crash point,
//! crash plan, sector, expected vs found.
//!
//! [`fs`] is the file-system checker on the same walk: ACE's bounded workloads and random
//! histories with `fs::Filesystem` over the stack, every crash state recovered, read and
//! checked against a model of the tree (`irpstack crash-test --fs`).

#![warn(missing_docs)]

pub mod cost;
mod durable;
mod explore;
pub mod fs;
pub mod oracle;
pub mod pattern;
pub mod replay;
mod report;
mod restart;
pub mod states;
pub mod walk;
pub mod workload;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use disks::crash::{CrashDisk, CrashDiskOptions};
use irp::{Access, DeviceBuilder, DeviceRef, IoManager, Verifier, VerifierMode};

pub use report::{Failure, Report};

/// What to run and how hard to look.
#[derive(Clone, Debug)]
pub struct Config {
    /// Operations in total (split over the threads).
    pub ops: usize,
    /// Workload seed.
    pub seed: u64,
    /// Threads, each writing its own sectors and flushing.
    pub threads: usize,
    /// Disk size in bytes.
    pub disk_size: u64,
    /// The workload writes only the first this-many bytes of the disk (default: all of
    /// it); the same span on a larger disk gives the same workload.
    pub span: Option<u64>,
    /// Sector size in bytes.
    pub sector_size: u32,
    /// Try every subset of the cache when it holds at most this many writes.
    pub exhaustive_limit: usize,
    /// Otherwise try this many seeded subsets.
    pub samples: usize,
    /// Check at most this many crash points (all when there are fewer).
    pub max_points: usize,
    /// Restart the stack and read through it for every `restart_every`-th state (1 =
    /// every state); the others are checked on the raw surviving image.
    pub restart_every: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ops: 200,
            seed: 1,
            threads: 4,
            disk_size: 1 << 20,
            span: None,
            sector_size: 4096,
            exhaustive_limit: 6,
            samples: 24,
            max_points: 4000,
            restart_every: 64,
        }
    }
}

/// Why a check could not run, or what it found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The configuration or the stack could not be set up.
    #[error("crash-test setup: {0}")]
    Setup(String),
    /// The flush contract was broken.
    #[error("{0}")]
    Violation(Box<Failure>),
}

/// Builds the stack under test on top of the crash disk's device.
pub type StackBuilder<'a> = dyn Fn(&DeviceRef) -> Result<DeviceRef, String> + 'a;

pub(crate) fn setup<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> CheckError + '_ {
    move |e| CheckError::Setup(format!("{what}: {e}"))
}

/// How far [`check_with_progress`] is: crash points of the record walked so far (sampled
/// ones included), of how many, and crash states checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Crash points walked.
    pub point: usize,
    /// Crash points in the record.
    pub points: usize,
    /// Crash states checked so far.
    pub states: usize,
}

/// Runs the workload once through `build(crash disk)` and checks every crash state.
pub fn check(config: &Config, build: &StackBuilder<'_>) -> Result<Report, CheckError> {
    check_with_progress(config, build, &mut |_| {})
}

/// [`check`], calling `progress` after every crash point walked.
pub fn check_with_progress(
    config: &Config,
    build: &StackBuilder<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, CheckError> {
    let sector = u64::from(config.sector_size);
    let sectors = config.disk_size / sector;
    let span = config.span.map_or(sectors, |bytes| (bytes / sector).min(sectors));
    if config.threads == 0 || span < config.threads as u64 * 4 {
        return Err(CheckError::Setup(format!(
            "{} threads need at least {} sectors; the disk (or the workload's span) has {span}",
            config.threads,
            config.threads * 4
        )));
    }
    let started = Instant::now();
    let verifier = Verifier::new(VerifierMode::Record);
    let disk = CrashDisk::new(&CrashDiskOptions {
        size: Some(config.disk_size),
        sector_size: Some(config.sector_size),
        ..Default::default()
    })
    .map_err(setup("crash disk"))?;
    let clock = Arc::new(AtomicU64::new(1));
    disk.start_recording(Arc::clone(&clock));
    let bottom = DeviceBuilder::new("crash")
        .sector_size(config.sector_size)
        .verifier(Arc::clone(&verifier))
        .characteristics(irp::Characteristics::VOLATILE_CACHE)
        .build(irp::block::DiskDriver::new(Arc::clone(&disk)))
        .map_err(setup("crash disk device"))?;
    let top = build(&bottom).map_err(setup("stack"))?;

    // Run the workload: each thread owns a slice of the disk.
    let per_thread = span / config.threads as u64;
    let ops = {
        let io = IoManager::new();
        io.register("under-test", &top).map_err(setup("register"))?;
        let handle = Arc::new(io.open("under-test", Access::READ_WRITE).map_err(setup("open"))?);
        let counts: Vec<usize> = (0..config.threads)
            .map(|t| config.ops / config.threads + usize::from(t < config.ops % config.threads))
            .collect();
        let threads: Vec<_> = (0..config.threads)
            .map(|t| {
                let id_base = 1 + counts[..t].iter().sum::<usize>() as u64;
                let mut ops =
                    workload::generate(config.seed, t, counts[t], t as u64 * per_thread, per_thread, id_base);
                let (handle, clock) = (Arc::clone(&handle), Arc::clone(&clock));
                std::thread::spawn(move || {
                    workload::run(&handle, &mut ops, sector, &clock);
                    ops
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in threads {
            all.extend(t.join().map_err(|_| CheckError::Setup("a workload thread panicked".into()))?);
        }
        // The power goes here: what reached the disk so far is the record. What the
        // stack does when it is dropped below (shutdown) comes too late to count.
        (all, disk.take_events())
    };
    let (mut ops, events) = ops;
    ops.sort_by_key(|o| o.id);
    let oracle = oracle::Oracle::new(&ops, sectors);
    let mut report = Report::new(&ops, events.len(), verifier.take_violations());
    explore::explore(config, build, &ops, &events, &oracle, &mut report, progress)?;
    report.elapsed = started.elapsed();
    Ok(report)
}
