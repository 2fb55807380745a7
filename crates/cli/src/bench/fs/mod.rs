//! `irpstack bench fs`: the file system through the driver API (IRPs on handles, no FUSE)
//! beside the kernel's ext4 on a loop device over a file on the same disk, in one run, as
//! ratios.
//!
//! Rows: create N files in one directory, look each up (open + close), stat each, unlink
//! each; 4 KiB random writes into a file (256 MiB) with a flush every 16; durable small-file
//! creates (create + 4 KiB write + flush of the file + flush of the directory). Both sides
//! start from a fresh `mkfs` of an image of the same size in the bench directory.

mod kernel;
mod ours;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::io::BenchDir;
use super::{CommonArgs, profile_line, write_json_line};

/// Arguments of `bench fs`.
#[derive(Debug, Args)]
pub struct FsArgs {
    /// Files created, looked up, stat'ed and unlinked in one directory.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    files: u64,
    /// How long the random-write row runs, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Size of the file the random writes go to (written in full first).
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    write_file: u64,
    /// Durable small-file creates (each: create, 4 KiB write, flush file, flush directory).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    durable: u64,
    /// The stack under the file system on our side; `DIR` stands for the bench directory.
    #[arg(long, default_value = "cache(size=256M) / file(path=DIR/ours.img,size=4G)")]
    stack: String,
    /// Image size of the kernel's side (sparse; match the stack's).
    #[arg(long, default_value = "4G", value_parser = parse_size)]
    kernel_size: u64,
    /// Do not run the kernel's side (no loop device, no mount).
    #[arg(long)]
    no_kernel: bool,
    /// Where to create the bench directory (removed afterwards). Default: `./target` if it
    /// exists, else the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

fn parse_size(text: &str) -> Result<u64, String> {
    irp::units::parse_size(text).map_err(|e| e.to_string())
}

/// What each side is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Files in the metadata rows.
    pub files: u64,
    /// Random-write duration.
    pub write_time: Duration,
    /// Durable creates.
    pub durable: u64,
    /// The random-write file's size (a multiple of 1 MiB).
    pub write_file: u64,
}

/// Operations per second of each row, in [`ROWS`] order.
pub type Rates = [f64; ROWS.len()];

/// The rows, in order.
pub const ROWS: [&str; 6] = ["create", "lookup", "stat", "unlink", "randwrite-4k-flush16", "durable-create"];

#[derive(Debug, Serialize)]
struct Row {
    row: &'static str,
    ours_per_s: f64,
    kernel_per_s: Option<f64>,
    ratio: Option<f64>,
}

pub fn run(args: &FsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        anyhow::bail!("--seconds must be more than 0 and at most 3600");
    }
    if args.write_file < 1 << 20 || !args.write_file.is_multiple_of(1 << 20) {
        anyhow::bail!("--write-file must be a whole number of MiB, at least 1M");
    }
    let plan = Plan {
        files: args.files,
        write_time: Duration::from_secs_f64(args.seconds),
        durable: args.durable,
        write_file: args.write_file,
    };
    let dir = BenchDir::create(args.dir.as_deref())?;
    let mut steps = crate::progress::Steps::new("bench fs", 2);
    steps.begin("irpstack: fs over the stack");
    let ours = ours::run(&args.stack, dir.path(), &plan).context("our side")?;
    let kernel = if args.no_kernel {
        None
    } else {
        steps.begin("the kernel: ext4 on a loop device");
        match kernel::run(dir.path(), args.kernel_size, &plan) {
            Ok(rates) => Some(rates),
            Err(e) => {
                tracing::warn!("the kernel's side did not run: {e:#}");
                eprintln!("irpstack bench fs: the kernel's side did not run: {e:#}");
                None
            }
        }
    };
    steps.finish();
    let rows: Vec<Row> = ROWS
        .iter()
        .enumerate()
        .map(|(i, &row)| {
            let k = kernel.map(|k| k[i]);
            Row {
                row,
                ours_per_s: ours[i],
                kernel_per_s: k,
                ratio: k.filter(|&k| k > 0.0).map(|k| ours[i] / k),
            }
        })
        .collect();
    if args.common.json {
        return rows.iter().try_for_each(|r| write_json_line(out, r));
    }
    writeln!(
        out,
        "irpstack bench fs: {} files in one directory, random writes for {} s, {} durable creates",
        plan.files, args.seconds, plan.durable
    )?;
    writeln!(
        out,
        "ours: fs / {}; kernel: ext4 (mkfs.ext4 defaults) on a loop device over a file in the same directory",
        args.stack
    )?;
    writeln!(out)?;
    writeln!(out, "{:<22} {:>14} {:>14} {:>8}", "row", "ours/s", "kernel/s", "ratio")?;
    for r in &rows {
        let k = r.kernel_per_s.map_or("-".to_owned(), |k| format!("{k:.0}"));
        let ratio = r.ratio.map_or("-".to_owned(), |x| format!("{x:.2}x"));
        writeln!(out, "{:<22} {:>14.0} {:>14} {:>8}", r.row, r.ours_per_s, k, ratio)?;
    }
    writeln!(out, "{}", profile_line())?;
    Ok(())
}
