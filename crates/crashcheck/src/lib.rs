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

#![warn(missing_docs)]

pub mod oracle;
pub mod pattern;
pub mod replay;
mod report;
pub mod states;
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

fn setup<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> CheckError + '_ {
    move |e| CheckError::Setup(format!("{what}: {e}"))
}

/// Runs the workload once through `build(crash disk)` and checks every crash state.
pub fn check(config: &Config, build: &StackBuilder<'_>) -> Result<Report, CheckError> {
    let sector = u64::from(config.sector_size);
    let sectors = config.disk_size / sector;
    if config.threads == 0 || sectors < config.threads as u64 * 4 {
        return Err(CheckError::Setup(format!(
            "{} threads need at least {} sectors; the disk has {sectors}",
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
    let per_thread = sectors / config.threads as u64;
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

    // Crash at every point p (before event p; p == events.len() is after the last).
    let points = events.len() + 1;
    let stride = points.div_ceil(config.max_points.max(1));
    let sector_size = config.sector_size as usize;
    let mut state = replay::DiskState::new(config.disk_size as usize);
    // `work` is the durable image, with one crash plan applied at a time and undone
    // after; `durable_found` is what every sector of the durable image decodes to.
    let mut work = state.durable.clone();
    let mut durable_found = vec![pattern::Found::Zero; sectors as usize];
    let mut touched = vec![false; sectors as usize];
    let mut rng = workload::Rng::new(config.seed ^ 0x5EED);
    for p in 0..points {
        if p > 0 {
            let event = &events[p - 1];
            if let disks::crash::DiskEvent::Write { offset, data, .. } = event {
                let first = *offset as usize / sector_size;
                let last = (*offset as usize + data.len()).div_ceil(sector_size);
                touched[first..last].iter_mut().for_each(|t| *t = true);
            }
            let mut changed = Vec::new();
            state.apply(event, p as u64, |o, len| changed.push((o, len)));
            for (o, len) in changed {
                work[o..o + len].copy_from_slice(&state.durable[o..o + len]);
                let first = o / sector_size;
                let last = (o + len).div_ceil(sector_size);
                for (s, found) in durable_found.iter_mut().enumerate().take(last).skip(first) {
                    let r = s * sector_size..(s + 1) * sector_size;
                    *found = pattern::decode(&state.durable[r], s as u64);
                }
            }
        }
        if p % stride != 0 && p + 1 != points {
            continue;
        }
        let crash_time = events.get(p).map_or(u64::MAX, replay::stamp);
        // Sectors the volatile cache covers: the only ones that differ between the
        // crash states of this point. Every other sector holds its durable value.
        let mut in_cache: Vec<u64> = state
            .cache
            .iter()
            .flat_map(|w| {
                let first = w.offset / sector;
                first..(w.offset + w.data.len() as u64).div_ceil(sector)
            })
            .collect();
        in_cache.sort_unstable();
        in_cache.dedup();
        let plans =
            states::plans(&state.cache, sector_size, config.exhaustive_limit, config.samples, &mut rng);
        let everything = || (0..sectors).filter(|&s| touched[s as usize]);
        for (i, plan) in plans.into_iter().enumerate() {
            plan.apply(&mut work, &state.cache, config.sector_size);
            let restart = report.states.is_multiple_of(config.restart_every.max(1));
            let result = if restart {
                let seen = read_through_restarted_stack(work.clone(), config, build)?;
                oracle.check_sectors(&seen, sector_size, crash_time, everything())
            } else if i == 0 {
                // The first plan of a point (lose-all: the durable image) checks every
                // sector ever written, from the decoded durable image.
                oracle.check_values(crash_time, everything().map(|s| (s, durable_found[s as usize])))
            } else {
                oracle.check_sectors(&work, sector_size, crash_time, in_cache.iter().copied())
            };
            report.states += 1;
            if let Err(m) = result {
                return Err(CheckError::Violation(Box::new(Failure::new(
                    config, &ops, p, crash_time, plan, m, &report,
                ))));
            }
            for &s in &in_cache {
                let r = s as usize * sector_size..(s as usize + 1) * sector_size;
                work[r.clone()].copy_from_slice(&state.durable[r]);
            }
        }
        report.points += 1;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Restarts the stack over `image` (a fresh in-memory crash disk holding it) and reads
/// the whole disk back through it.
fn read_through_restarted_stack(
    image: Vec<u8>,
    config: &Config,
    build: &StackBuilder<'_>,
) -> Result<Vec<u8>, CheckError> {
    let size = image.len();
    let disk = CrashDisk::with_image(image, config.sector_size).map_err(setup("restart disk"))?;
    let bottom = DeviceBuilder::new("crash-restarted")
        .sector_size(config.sector_size)
        .verifier(Verifier::new(VerifierMode::Record))
        .build(irp::block::DiskDriver::new(disk))
        .map_err(setup("restart device"))?;
    let top = build(&bottom).map_err(setup("restart stack"))?;
    let io = IoManager::new();
    io.register("restarted", &top).map_err(setup("register"))?;
    let handle = io.open("restarted", Access::READ).map_err(setup("open"))?;
    let back =
        handle.read(0, size).map_err(|s| CheckError::Setup(format!("reading the restarted stack: {s}")))?;
    Ok(back.bytes().to_vec())
}
