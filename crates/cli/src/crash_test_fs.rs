//! `irpstack crash-test --fs`: the file-system crash checker (`crashcheck::fs`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use crashcheck::fs::{FsConfig, FsReport, Progress, StateId, Workload, ace, random};
use irp::DeviceRef;
use stack::factories::crash_options;
use stack::{BuildContext, DriverRegistry, StackSpec};

use crate::crash_test::CrashTestArgs;

/// The stack `--fs` runs on when none is given: the bare crash disk, 512-byte sectors.
pub const DEFAULT_FS_STACK: &str = "crash(size=8M,sector=512)";

/// The options of `crash-test` only `--fs` reads.
#[derive(Debug, Args)]
pub struct FsModeArgs {
    /// Check the ext4 file system (fs::Filesystem over the stack) instead of a block stack.
    #[arg(long)]
    pub fs: bool,
    /// --fs: every ACE workload of N operations (1: 52 workloads; 2: 676).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=2), conflicts_with = "workload", requires = "fs")]
    pub ace: Option<u64>,
    /// --fs: one workload, in the checker's text form ('create A/x; write A/x 0 4096; fsync A/x').
    #[arg(long, value_name = "STEPS", requires = "fs")]
    pub workload: Option<String>,
    /// --fs: check only this crash state (POINT.PLAN, from a failure's reproducer) and write
    /// its image out.
    #[arg(long, value_name = "POINT.PLAN", requires = "fs")]
    pub state: Option<StateId>,
    /// --fs: check every Nth crash state (besides losing and keeping every cached write,
    /// always checked).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
    /// --fs: run e2fsck -fn on every Nth distinct recovered volume (0: only on failures).
    #[arg(long, value_name = "N", default_value_t = 250)]
    pub e2fsck_every: u64,
    /// --fs: crash the journal replay at every point of its history for every Nth distinct
    /// crash image (0: only at the point before its last write).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub replay_crash_every: u64,
    /// --fs: small caches and transactions, so commits and checkpoints happen all the time.
    #[arg(long, requires = "fs")]
    pub tight: bool,
    /// --fs: write failing crash states (and the --state one) here as image files.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// --fs: go on after a failing workload (else stop at the first).
    #[arg(long, requires = "fs")]
    pub keep_going: bool,
}

fn workloads(args: &CrashTestArgs) -> anyhow::Result<Vec<Workload>> {
    let fs = &args.fs;
    if let Some(text) = &fs.workload {
        if args.ops.is_some() {
            bail!("--workload names the steps: --ops is for a random history");
        }
        return Ok(vec![Workload::parse("given", text)?]);
    }
    match (fs.ace, args.ops) {
        (Some(_), Some(_)) => bail!("--ace runs the ACE set: --ops is for a random history"),
        (Some(n), None) => Ok(ace::workloads(n as usize)),
        (None, Some(ops)) => Ok(vec![random::workload(args.seed, ops as usize)]),
        (None, None) => Ok(ace::workloads(1)),
    }
}

/// What the reproducer line must repeat besides the workload, the seed and the state.
fn reproduce_options(args: &CrashTestArgs, config: &FsConfig) -> String {
    let mut o = String::new();
    if let Some(stack) = &args.stack {
        o += &format!(" --stack '{stack}'");
    }
    let d = FsConfig::default();
    if config.exhaustive_limit != d.exhaustive_limit {
        o += &format!(" --exhaustive {}", config.exhaustive_limit);
    }
    if config.samples != d.samples {
        o += &format!(" --samples {}", config.samples);
    }
    if config.tight {
        o += " --tight";
    }
    if let Some(out) = &args.fs.out {
        o += &format!(" --out '{}'", out.display());
    }
    o
}

fn json(report: &FsReport) -> serde_json::Value {
    serde_json::json!({
        "result": if report.passed() { "pass" } else { "fail" },
        "workloads": report.workloads,
        "disk_events": report.events,
        "crash_points": report.points,
        "crash_states": report.states,
        "sampled_out": report.sampled_out,
        "distinct_images": report.replayed,
        "recovered_volumes": report.recovered,
        "replay_crash_states": report.replay_states,
        "e2fsck_runs": report.e2fsck_runs,
        "seconds": report.elapsed.as_secs_f64(),
        "states_per_second": report.states_per_second(),
        "failures": report.failures.iter().map(|f| serde_json::json!({
            "workload": f.workload,
            "state": f.state.map(|s| s.to_string()),
            "what": f.what,
            "e2fsck": f.e2fsck,
            "image": f.image.as_ref().map(|p| p.display().to_string()),
            "reproduce": f.reproducer(),
        })).collect::<Vec<_>>(),
    })
}

pub fn run(args: &CrashTestArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let registry = DriverRegistry::builtin();
    let text = args.stack.as_deref().unwrap_or(DEFAULT_FS_STACK);
    let spec = StackSpec::from_arg(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    registry.check(&spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut bottom = spec.layers.last().cloned().context("empty stack")?;
    if bottom.driver != "crash" {
        bail!("the last layer of a crash-test stack must be `crash(size=...)`, not `{}`", bottom.driver);
    }
    if spec.layers.iter().any(|l| l.driver == "fs") {
        bail!("--fs drives the file system itself over the stack: leave `fs(...)` out of it");
    }
    let ctx = BuildContext::new();
    let options = crash_options(&mut bottom, &ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
    if options.path.is_some() || options.control_file.is_some() || options.on_sigusr1 {
        bail!(
            "crash-test builds its own in-memory crash disk: remove path=, control= and sigusr1= from `crash(...)`"
        );
    }
    let workloads = workloads(args)?;
    let mut config = FsConfig {
        image_size: options.size.context("crash(size=...) is required")?,
        sector_size: options.sector_size.unwrap_or(4096),
        exhaustive_limit: args.exhaustive as usize,
        samples: args.samples.map_or(FsConfig::default().samples, |s| s as usize),
        max_points: args.max_points as usize,
        every: args.fs.every as usize,
        seed: args.seed,
        replay_crash_every: args.fs.replay_crash_every as usize,
        e2fsck_every: args.fs.e2fsck_every as usize,
        tight: args.fs.tight,
        out_dir: Some(args.fs.out.clone().unwrap_or_else(|| std::env::temp_dir().join("irpstack-crash-fs"))),
        only_state: args.fs.state,
        keep_going: args.fs.keep_going,
        ..FsConfig::default()
    };
    config.reproduce_options = reproduce_options(args, &config);
    let build = |lower: &DeviceRef| registry.build_over(&spec, lower, &ctx).map_err(|e| e.to_string());
    let mut ticker = crate::progress::Ticker::new();
    let mut progress = |p: &Progress| {
        if p.done < p.total && ticker.due() {
            let rate = p.states as f64 / p.elapsed.as_secs_f64().max(1e-9);
            eprintln!(
                "crash-test --fs: {}/{} workloads, {} crash states ({rate:.0}/s), {} failure(s)",
                p.done, p.total, p.states, p.failures
            );
        }
    };
    // The file system's own warnings about the states it recovers (torn superblocks it
    // repairs, say) are expected by the thousand here: shown only when RUST_LOG asks.
    let mut check = || crashcheck::fs::check(&workloads, &config, &build, &mut progress);
    let report = if std::env::var_os("RUST_LOG").is_some() {
        check()?
    } else {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), check)?
    };
    if args.json {
        writeln!(out, "{}", json(&report))?;
    } else {
        writeln!(out, "stack: {text}")?;
        write!(out, "{report}")?;
        if let Some(state) = config.only_state
            && report.passed()
        {
            let dir =
                config.out_dir.as_ref().map_or(String::new(), |d| format!(" (image in {})", d.display()));
            writeln!(out, "state {state} passes{dir}")?;
        }
    }
    out.flush()?;
    if !report.passed() {
        bail!("the file system broke a crash-consistency promise ({} failure(s))", report.failures.len());
    }
    if config.only_state.is_some() && report.states == 0 {
        bail!("the workload has no crash state {}", args.fs.state.map_or(String::new(), |s| s.to_string()));
    }
    Ok(())
}
