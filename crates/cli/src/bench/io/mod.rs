//! `irpstack bench io`: write IOPS and GB/s through a stack, side by side with fio.
//!
//! Two workloads per stack, each for a fixed time: 4 KiB writes at random 4 KiB-aligned
//! offsets (seeded xorshift) with 32 IRPs in flight, and 1 MiB sequential writes (wrapping
//! at the end of the disk) with 8 in flight. One thread keeps the queue full: every IRP is
//! sent with [`irp::Device::submit_to`] and completes into one channel; each completion
//! resubmits its MDL at the next offset until the time is up, then the rest drain. The image
//! is written once in full first (untimed), so no write lands in a hole.
//!
//! fio runs the same two workloads with io_uring and `O_DIRECT` on the same image: right
//! after each irpstack workload when the stack is a file disk alone (it keeps nothing in
//! memory, so both sides meet the device in the same state, close in time), else after the
//! stack is shut down. Rows on that image get fio's figures and the ratio irpstack / fio.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use irp::{Access, Handle, IoManager, MajorFunction, Mdl, Parameters};
use serde::Serialize;
use stack::{BuildContext, DriverRegistry, LayerSpec, Params, StackSpec};

use super::{CommonArgs, profile_line, write_json_line};

mod files;
mod fio;

pub(crate) use files::XorShift;
use files::fill_image;
pub(super) use files::{BenchDir, open_direct, pattern_buffer};

/// Target: the plain file disk reaches this share of fio's 4 KiB random write IOPS.
const TARGET_FIO_SHARE: f64 = 0.9;
/// Target: the write-back cache absorbs 1 MiB sequential writes at this many GB/s.
const TARGET_CACHE_GBPS: f64 = 1.0;

/// Flags of `bench io`.
#[derive(Debug, Args)]
pub struct IoArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The stack to measure, top first; `DIR` in a value stands for the bench directory and
    /// relative paths are resolved against it. Default: both
    /// `file(path=DIR/bench-io.img,size=SIZE,direct=true,engine=uring)` and
    /// `cache(size=512M,bypass=0) / ` over it (every write cached, none going around).
    /// The benchmark overwrites the whole disk.
    #[arg(long, value_name = "SPEC")]
    stack: Option<String>,
    /// How long each workload runs, in seconds (fio too).
    #[arg(long, default_value = "5", value_parser = parse_seconds)]
    seconds: f64,
    /// Where to create the bench directory (removed afterwards). Default: `./target` if it
    /// exists, else the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Size of the default stacks' image (K, M, G suffixes).
    #[arg(long, default_value = "1G", value_parser = parse_image_size)]
    size: u64,
    /// Do not run fio.
    #[arg(long)]
    no_fio: bool,
}

/// A workload: block size, IRPs in flight, pattern.
#[derive(Debug, Clone, Copy)]
struct Workload {
    name: &'static str,
    block: usize,
    depth: usize,
    random: bool,
}

const WORKLOADS: [Workload; 2] = [
    Workload { name: "randwrite-4k-qd32", block: 4096, depth: 32, random: true },
    Workload { name: "write-1m-qd8", block: 1 << 20, depth: 8, random: false },
];

/// One result row (one JSON line).
#[derive(Debug, Serialize)]
struct Row {
    stack: String,
    workload: &'static str,
    iops: f64,
    gbps: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    fio_iops: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fio_gbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
    #[serde(skip)]
    image: Option<PathBuf>,
    /// The stack is a `file(...)` disk alone; its 4 KiB random writes have a target.
    #[serde(skip)]
    plain_file: bool,
    /// The top of the stack is a `cache`; its 1 MiB writes have a target.
    #[serde(skip)]
    cached: bool,
}

pub fn run(args: &IoArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = BenchDir::create(args.dir.as_deref())?;
    let duration = Duration::from_secs_f64(args.seconds);
    let stacks = match &args.stack {
        Some(stack) => vec![stack.clone()],
        None => {
            let file =
                format!("file(path=DIR/bench-io.img,size={},direct=true,engine=uring)", size_text(args.size));
            vec![file.clone(), format!("cache(size=512M,bypass=0) / {file}")]
        }
    };
    let mut fio = fio::FioSide::new(!args.no_fio);
    let mut steps = crate::progress::Steps::new("bench io", (stacks.len() * WORKLOADS.len()) as u64);
    let mut rows = Vec::new();
    let mut filled: Vec<PathBuf> = Vec::new();
    for text in &stacks {
        let spec = resolve_spec(text, dir.path())?;
        let ctx = BuildContext::new().with_base_dir(dir.path()).with_default_size(args.size);
        let image = image_path(&spec, &ctx);
        let plain_file = spec.layers.len() == 1 && image.is_some();
        let cached = spec.layers.first().is_some_and(|l| l.driver == "cache");
        let top = DriverRegistry::builtin().build(&spec, &ctx).map_err(|e| anyhow!("{e}"))?;
        let manager = IoManager::new();
        manager.register("bench", &top)?;
        let handle = manager.open("bench", Access::READ_WRITE)?;
        let size = handle.query_size().map_err(|s| anyhow!("cannot query the size of `{text}`: {s}"))?;
        if let Some(image) = image.as_ref().filter(|&image| !filled.contains(image)) {
            tracing::info!(image = %image.display(), size, "writing the whole image once before measuring");
            fill_image(image, size)?;
            filled.push(image.clone());
        }
        for workload in WORKLOADS {
            steps.begin(&format!("{} through `{text}`", workload.name));
            let (ops, elapsed) = run_workload(&handle, size, workload, duration)
                .with_context(|| format!("{} through `{text}`", workload.name))?;
            let iops = ops as f64 / elapsed.as_secs_f64();
            let gbps = iops * workload.block as f64 / 1e9;
            rows.push(Row {
                stack: text.clone(),
                workload: workload.name,
                iops,
                gbps,
                fio_iops: None,
                fio_gbps: None,
                ratio: None,
                image: image.clone(),
                plain_file,
                cached,
            });
            // A file disk alone keeps nothing in memory and is idle now: fio runs the same
            // workload right after, so both sides see the device in the same state.
            if let Some(image) = image.as_ref().filter(|_| plain_file) {
                fio.measure(image, workload, args.seconds);
            }
        }
        drop(handle);
        let progress = crate::progress::WriteBack::watch(&manager);
        let shut = manager.shutdown();
        drop(progress);
        shut.with_context(|| format!("shutting down `{text}`"))?;
        drop((manager, top));
        if let Some(image) = &image {
            WORKLOADS.into_iter().for_each(|workload| fio.measure(image, workload, args.seconds));
        }
    }
    steps.finish();
    for row in &mut rows {
        if let Some((iops, gbps)) = fio.result(row.image.as_deref(), row.workload) {
            (row.fio_iops, row.fio_gbps) = (Some(iops), Some(gbps));
            row.ratio = Some(if iops > 0.0 { row.iops / iops } else { 0.0 });
        }
    }
    let fio_note = fio.note();
    if args.common.json {
        return rows.iter().try_for_each(|row| write_json_line(out, row));
    }
    write_table(out, args, &rows, &fio_note)
}

fn write_table(out: &mut dyn Write, args: &IoArgs, rows: &[Row], fio_note: &str) -> anyhow::Result<()> {
    writeln!(
        out,
        "Writes through irpstack stacks vs fio on the same pre-written image, {} s per workload",
        args.seconds
    )?;
    writeln!(out)?;
    let width = rows.iter().map(|r| r.stack.len()).max().unwrap_or(5).max(5);
    writeln!(
        out,
        "{:<width$}  {:<17}  {:>9}  {:>6}  {:>9}  {:>8}  {:>5}",
        "stack", "workload", "IOPS", "GB/s", "fio IOPS", "fio GB/s", "ratio"
    )?;
    for r in rows {
        let fio = |v: Option<f64>, prec: usize| v.map_or("-".to_owned(), |v| format!("{v:.prec$}"));
        writeln!(
            out,
            "{:<width$}  {:<17}  {:>9.0}  {:>6.3}  {:>9}  {:>8}  {:>5}",
            r.stack,
            r.workload,
            r.iops,
            r.gbps,
            fio(r.fio_iops, 0),
            fio(r.fio_gbps, 3),
            fio(r.ratio, 2)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "fio: {fio_note}")?;
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    for r in rows.iter().filter(|r| r.plain_file && r.workload == WORKLOADS[0].name) {
        let result = match r.ratio {
            Some(ratio) => format!("{} ({:.0}%)", verdict(ratio >= TARGET_FIO_SHARE), ratio * 100.0),
            None => "not checked (fio did not run)".to_owned(),
        };
        writeln!(
            out,
            "target: file disk {} >= {:.0}% of fio's IOPS: {result}",
            r.workload,
            TARGET_FIO_SHARE * 100.0
        )?;
    }
    for r in rows.iter().filter(|r| r.cached && r.workload == WORKLOADS[1].name) {
        let met = verdict(r.gbps >= TARGET_CACHE_GBPS);
        writeln!(
            out,
            "target: write-back cache {} >= {TARGET_CACHE_GBPS} GB/s: {met} ({:.2} GB/s)",
            r.workload, r.gbps
        )?;
    }
    writeln!(out, "GB/s is 1e9 bytes/s; ratio is irpstack / fio")?;
    writeln!(out, "{}", profile_line())?;
    Ok(())
}

/// Keeps `workload.depth` writes in flight for `duration`; returns the writes completed
/// and the time until the last one completed.
fn run_workload(
    handle: &Handle,
    size: u64,
    workload: Workload,
    duration: Duration,
) -> anyhow::Result<(u64, Duration)> {
    let Workload { block, depth, random, .. } = workload;
    let blocks = size / block as u64;
    if blocks == 0 {
        bail!("the disk ({size} bytes) is smaller than one {block}-byte write");
    }
    let length = u32::try_from(block).context("block too large")?;
    let (tx, rx) = mpsc::channel();
    let mut rng = XorShift::new(0);
    let mut sequence = 0u64;
    let mut next_offset = || {
        let index = if random { rng.next() % blocks } else { sequence % blocks };
        sequence += 1;
        index * block as u64
    };
    let submit = |mdl: Mdl, offset: u64, slot: u64| {
        let irp = handle
            .new_irp(MajorFunction::Write)
            .with_parameters(Parameters::Write { offset, length })
            .with_mdl(mdl)
            .with_user_data(slot);
        let _ = handle.device().submit_to(irp, tx.clone());
    };
    let start = Instant::now();
    let deadline = start + duration;
    for slot in 0..depth as u64 {
        submit(pattern_mdl(block, slot)?, next_offset(), slot);
    }
    let (mut in_flight, mut completed, mut failure) = (depth, 0u64, None);
    let mut ready = Vec::with_capacity(depth);
    while in_flight > 0 {
        // Wait for one completion, then take every one already there: their writes go
        // back down together, so the engine is woken once per batch, not once per write.
        ready.push(rx.recv().context("a write was dropped without completing")?);
        ready.extend(rx.try_iter());
        in_flight -= ready.len();
        let resubmit = Instant::now() < deadline;
        for mut done in ready.drain(..) {
            if let Err(status) = done.status().ok() {
                failure.get_or_insert(status);
                continue;
            }
            completed += 1;
            if resubmit && failure.is_none() {
                let mdl = done.take_mdl().context("a write completed without its MDL")?;
                submit(mdl, next_offset(), done.user_data());
                in_flight += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    if let Some(status) = failure {
        bail!("a {block}-byte write failed: {status}");
    }
    Ok((completed, elapsed))
}

/// A `len`-byte MDL over a page-aligned buffer holding a non-zero pattern.
fn pattern_mdl(len: usize, seed: u64) -> anyhow::Result<Mdl> {
    let buf = pattern_buffer(len, seed)?;
    Mdl::try_new(buf).map_err(|(e, _)| anyhow!("{e}"))
}

/// Parses `text`, replacing a leading `DIR` in every value by `dir`, and checks it.
pub(super) fn resolve_spec(text: &str, dir: &Path) -> anyhow::Result<StackSpec> {
    let spec: StackSpec = text.parse().map_err(|e| anyhow!("{e}"))?;
    let uses_dir = |v: &str| v == "DIR" || v.starts_with("DIR/");
    let spec = if spec.layers.iter().any(|l| l.params.iter().any(|(_, v)| uses_dir(v))) {
        let mut layers = Vec::with_capacity(spec.layers.len());
        for layer in &spec.layers {
            let mut params = Params::new();
            for (key, value) in layer.params.iter() {
                let value = match value.strip_prefix("DIR") {
                    Some(rest) if uses_dir(value) => format!("{}{rest}", dir.display()),
                    _ => value.to_owned(),
                };
                params.insert(key, value).map_err(|e| anyhow!("{e}"))?;
            }
            layers.push(LayerSpec::new(layer.driver.clone(), params));
        }
        StackSpec::new(layers)
    } else {
        spec
    };
    DriverRegistry::builtin().check(&spec).map_err(|e| anyhow!("{e}"))?;
    Ok(spec)
}

/// The file under a stack whose disk is `file(path=...)`.
fn image_path(spec: &StackSpec, ctx: &BuildContext) -> Option<PathBuf> {
    let bottom = spec.layers.last().filter(|l| l.driver == "file")?;
    bottom.params.peek("path").map(|path| ctx.resolve_path(path))
}

/// A seconds value: finite, above 0, at most an hour.
pub(super) fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err(format!("expected a number of seconds above 0 and at most 3600, not {text:?}")),
    }
}

fn parse_image_size(text: &str) -> Result<u64, String> {
    let size = irp::units::parse_size(text).map_err(|e| e.0)?;
    if size < 1 << 20 || size % 4096 != 0 {
        return Err(format!("{text:?}: the image must be at least 1M and a multiple of 4K"));
    }
    Ok(size)
}

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b % (1 << 30) == 0 => format!("{}G", b >> 30),
        b if b % (1 << 20) == 0 => format!("{}M", b >> 20),
        b => b.to_string(),
    }
}
