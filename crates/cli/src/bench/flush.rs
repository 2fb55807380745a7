//! `irpstack bench flush`: write + flush per second from many threads, through the
//! write-back cache (whose concurrent flushes share one device sync) vs `pwrite` +
//! `fdatasync` on the file itself.
//!
//! Every thread loops over 4 KiB writes to its own 1 MiB region (a new block each time,
//! wrapping) each followed by a flush, for a fixed time. The regions are written once
//! before (untimed), so no write lands in a hole. The baseline runs first on the same
//! image with the same threads, offsets and duration; then the stack
//! `cache(size=256M) / stats / file(path=IMG,direct=true,engine=uring)` does. The stats
//! filter under the cache counts the flushes that reach the file disk: its `fdatasync`s,
//! the device syncs.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use filters::cache::Cache;
use filters::stats::Stats;
use irp::{Access, DeviceRef, IoManager, MajorFunction, Mdl, RequestFlags};
use serde::Serialize;
use stack::{BuildContext, DriverRegistry};

use super::io::{BenchDir, open_direct, parse_seconds, pattern_buffer};
use super::{CommonArgs, profile_line, write_json_line};

/// Target: the stack completes this many times the baseline's flushes per second.
const TARGET_RATIO: f64 = 4.0;
/// Bytes per write.
const BLOCK: usize = 4096;
/// Each thread writes within its own region of this many bytes.
const REGION: u64 = 1 << 20;
/// The image's size.
const IMAGE_SIZE: u64 = 1 << 30;

/// Flags of `bench flush`.
#[derive(Debug, Args)]
pub struct FlushArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Threads, each doing 4 KiB write + flush in a loop.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,
    /// How long each side runs, in seconds.
    #[arg(long, default_value = "3", value_parser = parse_seconds)]
    seconds: f64,
    /// Where to create the bench directory (removed afterwards). Default: `./target` if it
    /// exists, else the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

/// The result (one JSON object).
#[derive(Debug, Serialize)]
struct Report {
    threads: u32,
    seconds: f64,
    flushes_per_s: f64,
    baseline_flushes_per_s: f64,
    ratio: f64,
    /// Flushes that reached the file disk (its `fdatasync`s) during the run.
    device_syncs: u64,
    flushes_per_device_sync: f64,
    /// Flushes the cache sent down (its group commits); equals `device_syncs`.
    cache_lower_flushes: u64,
    /// Mean time between group commits (the run's time / device syncs), in microseconds.
    round_us: f64,
    /// Mean latency of a device sync and of a block write below the cache, in microseconds.
    device_sync_us: f64,
    device_write_us: f64,
}

/// What a run through the stack measured.
#[derive(Debug)]
struct StackRun {
    flushes: u64,
    elapsed: Duration,
    device_syncs: u64,
    lower_flushes: u64,
    sync_us: f64,
    write_us: f64,
}

pub fn run(args: &FlushArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = BenchDir::create(args.dir.as_deref())?;
    let image = dir.path().join("bench-flush.img");
    let threads = args.threads as usize;
    let duration = Duration::from_secs_f64(args.seconds);
    prepare_image(&image, threads)?;

    let (baseline_flushes, baseline_time) = baseline(&image, threads, duration)?;
    let stack = "cache(size=256M) / stats / file(path=bench-flush.img,size=1G,direct=true,engine=uring)";
    let ctx = BuildContext::new().with_base_dir(dir.path());
    let top = DriverRegistry::builtin().build_str(stack, &ctx).map_err(|e| anyhow!("{e}"))?;
    let run = through_stack(&top, threads, duration)?;
    drop(top);

    let flushes_per_s = run.flushes as f64 / run.elapsed.as_secs_f64();
    let baseline_flushes_per_s = baseline_flushes as f64 / baseline_time.as_secs_f64();
    let report = Report {
        threads: args.threads,
        seconds: args.seconds,
        flushes_per_s,
        baseline_flushes_per_s,
        ratio: if baseline_flushes_per_s > 0.0 { flushes_per_s / baseline_flushes_per_s } else { 0.0 },
        device_syncs: run.device_syncs,
        flushes_per_device_sync: run.flushes as f64 / run.device_syncs.max(1) as f64,
        cache_lower_flushes: run.lower_flushes,
        round_us: run.elapsed.as_secs_f64() * 1e6 / run.device_syncs.max(1) as f64,
        device_sync_us: run.sync_us,
        device_write_us: run.write_us,
    };
    if args.common.json {
        return write_json_line(out, &report);
    }
    let r = &report;
    writeln!(
        out,
        "4 KiB write + flush in a loop, {} threads, {} s per side, 1 GiB image",
        r.threads, r.seconds
    )?;
    writeln!(out, "stack: {}", stack.replace("path=", "path=DIR/"))?;
    writeln!(out)?;
    writeln!(out, "{:<40}  {:>10}  {:>12}  {:>16}", "", "flushes/s", "device syncs", "flushes per sync")?;
    let per_sync = format!("{:.1}", r.flushes_per_device_sync);
    writeln!(
        out,
        "{:<40}  {:>10.0}  {:>12}  {per_sync:>16}",
        "irpstack (the stack)", r.flushes_per_s, r.device_syncs
    )?;
    let baseline = "baseline: pwrite (O_DIRECT) + fdatasync";
    writeln!(out, "{baseline:<40}  {:>10.0}  {:>12}  {:>16}", r.baseline_flushes_per_s, "-", "-")?;
    writeln!(out)?;
    let verdict = if r.ratio >= TARGET_RATIO { "met" } else { "MISSED" };
    writeln!(out, "ratio: {:.2} (stack / baseline)", r.ratio)?;
    writeln!(out, "target: ratio >= {TARGET_RATIO}: {verdict}")?;
    writeln!(out, "device syncs: flushes the stats filter saw reach the file disk (fdatasyncs)")?;
    writeln!(
        out,
        "group commit: one every {:.0} us; below the cache a sync took {:.0} us, a block write {:.0} us (means)",
        r.round_us, r.device_sync_us, r.device_write_us
    )?;
    writeln!(out, "{}", profile_line())?;
    Ok(())
}

/// Creates the image and writes every thread's region once, so no timed write lands in a
/// hole or an unwritten extent.
fn prepare_image(image: &Path, threads: usize) -> anyhow::Result<()> {
    let file = std::fs::File::create(image).with_context(|| format!("cannot create {}", image.display()))?;
    file.set_len(IMAGE_SIZE).with_context(|| format!("cannot size {}", image.display()))?;
    drop(file);
    let file = open_direct(image)?;
    let buf = pattern_buffer(REGION as usize, 0)?;
    for t in 0..threads as u64 {
        file.write_all_at(buf.as_slice(), t * REGION)
            .with_context(|| format!("cannot fill {}", image.display()))?;
    }
    file.sync_data().with_context(|| format!("cannot sync {}", image.display()))
}

/// The offset of thread `t`'s `i`th write.
fn offset(t: usize, i: u64) -> u64 {
    t as u64 * REGION + (i % (REGION / BLOCK as u64)) * BLOCK as u64
}

/// Runs `body(thread, stop)` on `threads` threads started together; stops them after
/// `duration`. Returns the sum of what they return and the time until the last one ended.
fn race<F>(threads: usize, duration: Duration, body: F) -> anyhow::Result<(u64, Duration)>
where
    F: Fn(usize, &AtomicBool) -> anyhow::Result<u64> + Sync,
{
    let stop = AtomicBool::new(false);
    // Held for writing until every thread is started: the threads wait for a read lock.
    let gate = RwLock::new(());
    let (sum, elapsed) = std::thread::scope(|scope| {
        let closed = gate.write().unwrap_or_else(PoisonError::into_inner);
        let mut workers = Vec::with_capacity(threads);
        let mut spawn_error = None;
        for t in 0..threads {
            let (body, stop, gate) = (&body, &stop, &gate);
            let spawned =
                std::thread::Builder::new().name(format!("bench-flush-{t}")).spawn_scoped(scope, move || {
                    drop(gate.read().unwrap_or_else(PoisonError::into_inner));
                    let result = body(t, stop);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    result
                });
            match spawned {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    // The started threads stop at once, then the error is returned.
                    stop.store(true, Ordering::Relaxed);
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        drop(closed);
        let start = Instant::now();
        while !stop.load(Ordering::Relaxed) && start.elapsed() < duration {
            std::thread::sleep(Duration::from_millis(5).min(duration));
        }
        stop.store(true, Ordering::Relaxed);
        let mut sum = 0;
        let mut first_error = spawn_error.map(|e| anyhow::Error::new(e).context("cannot start a thread"));
        for worker in workers {
            match worker.join() {
                Ok(Ok(n)) => sum += n,
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error.get_or_insert(anyhow!("a benchmark thread panicked"));
                }
            }
        }
        first_error.map_or(Ok((sum, start.elapsed())), Err)
    })?;
    if sum == 0 {
        bail!("no flush completed in {duration:?}");
    }
    Ok((sum, elapsed))
}

/// `pwrite` (`O_DIRECT`) + `fdatasync` per thread, each thread with its own descriptor.
fn baseline(image: &Path, threads: usize, duration: Duration) -> anyhow::Result<(u64, Duration)> {
    race(threads, duration, |t, stop| {
        let file = open_direct(image)?;
        let buf = pattern_buffer(BLOCK, t as u64)?;
        let mut done = 0;
        while !stop.load(Ordering::Relaxed) {
            file.write_all_at(buf.as_slice(), offset(t, done)).context("baseline pwrite")?;
            file.sync_data().context("baseline fdatasync")?;
            done += 1;
        }
        Ok(done)
    })
}

/// Write + flush through the stack, each thread on its own handle.
fn through_stack(top: &DeviceRef, threads: usize, duration: Duration) -> anyhow::Result<StackRun> {
    let stats = stack_driver::<Stats>(top).context("the stack has no stats filter")?;
    let cache = stack_driver::<Cache>(top).context("the stack has no cache")?;
    let lower_flushes = || cache.counters().lower_flushes;
    let (before, lower_before) = (stats.snapshot(), lower_flushes());
    let manager = IoManager::new();
    manager.register("bench", top)?;
    let (flushes, elapsed) = race(threads, duration, |t, stop| {
        let handle = manager.open("bench", Access::WRITE)?;
        let mut mdl = Mdl::try_new(pattern_buffer(BLOCK, t as u64)?).map_err(|(e, _)| anyhow!("{e}"))?;
        let mut done = 0;
        while !stop.load(Ordering::Relaxed) {
            let (back, written) = handle.write_mdl(offset(t, done), mdl, RequestFlags::NONE);
            mdl = back;
            written.map_err(|status| anyhow!("write through the stack failed: {status}"))?;
            handle.flush_buffers().map_err(|status| anyhow!("flush through the stack failed: {status}"))?;
            done += 1;
        }
        Ok(done)
    })?;
    let (after, lower_after) = (stats.snapshot(), lower_flushes());
    manager.shutdown().context("shutting the stack down")?;
    let mean_us = |major: MajorFunction| {
        let (a, b) = (after.op(major).latency, before.op(major).latency);
        let count = a.count.saturating_sub(b.count).max(1);
        a.sum_ns.saturating_sub(b.sum_ns) as f64 / count as f64 / 1e3
    };
    Ok(StackRun {
        flushes,
        elapsed,
        device_syncs: after.flush().count.saturating_sub(before.flush().count),
        lower_flushes: lower_after.saturating_sub(lower_before),
        sync_us: mean_us(MajorFunction::FlushBuffers),
        write_us: mean_us(MajorFunction::Write),
    })
}

/// The first driver of type `D` from the top of the stack down.
fn stack_driver<D: irp::Driver>(top: &DeviceRef) -> Option<&D> {
    let mut device = Some(top);
    while let Some(d) = device {
        if let Some(driver) = d.driver_as::<D>() {
            return Some(driver);
        }
        device = d.lower();
    }
    None
}
