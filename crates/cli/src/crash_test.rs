//! `irpstack crash-test`: the crash checker on a stack spec.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Args;

use crate::crash_test_fs::FsModeArgs;
use crashcheck::{CheckError, Config};
use irp::DeviceRef;
use stack::factories::crash_options;
use stack::{BuildContext, DriverRegistry, StackSpec};

const AFTER_HELP: &str = "\
The stack's last layer must be the crash disk, `crash(size=...,sector=...)`; the checker
builds it in memory and records everything that reaches it. Example:

  irpstack crash-test --stack 'cache(size=1M) / crash(size=1M)' --ops 500 --seed 7

With --fs it checks the ext4 file system instead: fs::Filesystem runs workloads over the
stack (default `crash(size=8M,sector=512)`; 512-byte sectors let a crash tear a 4 KiB block)
and after every crash state the journal is replayed (and the replay crashed and replayed
again: the same volume), the volume must mount, its tree must be the state after some step
between the last persistence point and the crash, holding everything a completed fsync,
fdatasync, fsyncdir or sync covered, with no byte a file never held, and after unmount
fs::fsck must find it clean; e2fsck -fn checks a sample. The file system's own warnings about
the states it recovers are shown only with RUST_LOG set. The workloads:

  --fs                      CrashMonkey/ACE's 52 one-operation workloads (same as --ace 1)
  --fs --ace 2              the 676 two-operation ones
  --fs --seed 3 --ops 60    a seeded random history of 60 steps over a few files
  --fs --workload 'create A/x; write A/x 0 4096; fsync A/x'   one workload, given
  (steps: create mkdir write overwrite append truncate fallocate link unlink rename
   symlink setxattr removexattr fsync fdatasync fsyncdir sync; the starting tree has
   A/foo (8 KiB, attribute user.old), A/bar (100 bytes), B/baz)

A failure prints the crash state's image file (--out DIR, default the temp directory) and
the line that checks that state again:
  irpstack crash-test --fs --workload '...' --seed 1 --state POINT.PLAN

Exit status: 0 when every crash state satisfies the oracle, 1 with a reproducer (seed, crash
point, crash mode, sector, expected vs found) when one does not, 2 on bad arguments.";

/// Arguments of `crash-test`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CrashTestArgs {
    /// The stack to test, top first, ending in `crash(...)` (or a TOML stack file, `*.toml`).
    #[arg(long, value_name = "SPEC", required_unless_present = "fs")]
    pub(crate) stack: Option<String>,
    /// Operations in the workload (writes, overwrites, FUA writes, discards, flushes;
    /// default 200); with --fs, the steps of a seeded random history.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) ops: Option<u64>,
    /// Workload seed: the same seed gives the same operations.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Threads running the workload, each on its own sectors.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: u64,
    /// Try every subset of the disk's volatile cache up to this many writes; sample above.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(0..=16))]
    pub(crate) exhaustive: u64,
    /// Subsets sampled per crash point when the cache holds more writes (default 24; with
    /// --fs, 16).
    #[arg(long)]
    pub(crate) samples: Option<u64>,
    /// Check at most this many crash points (evenly spread); all when there are fewer.
    #[arg(long, default_value_t = 4000)]
    pub(crate) max_points: u64,
    /// Restart the stack and read through it for every Nth crash state (1 = all).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    restart_every: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) fs: FsModeArgs,
}

pub fn run(args: &CrashTestArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.fs.fs {
        return crate::crash_test_fs::run(args, out);
    }
    let stack = args.stack.as_deref().context("--stack is required (or --fs)")?;
    let ops = args.ops.unwrap_or(200);
    let samples = args.samples.unwrap_or(24);
    let registry = DriverRegistry::builtin();
    let spec = StackSpec::from_arg(stack).map_err(|e| anyhow::anyhow!("{e}"))?;
    registry.check(&spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut bottom = spec.layers.last().cloned().context("empty stack")?;
    if bottom.driver != "crash" {
        bail!("the last layer of a crash-test stack must be `crash(size=...)`, not `{}`", bottom.driver);
    }
    let ctx = BuildContext::new();
    let options = crash_options(&mut bottom, &ctx).map_err(|e| anyhow::anyhow!("{e}"))?;
    if options.path.is_some() || options.control_file.is_some() || options.on_sigusr1 {
        bail!(
            "crash-test builds its own in-memory crash disk: remove path=, control= and sigusr1= from `crash(...)`"
        );
    }
    let config = Config {
        ops: ops as usize,
        seed: args.seed,
        threads: args.threads as usize,
        disk_size: options.size.context("crash(size=...) is required")?,
        span: None,
        sector_size: options.sector_size.unwrap_or(4096),
        exhaustive_limit: args.exhaustive as usize,
        samples: samples as usize,
        max_points: args.max_points as usize,
        restart_every: args.restart_every as usize,
    };
    let build = |lower: &DeviceRef| registry.build_over(&spec, lower, &ctx).map_err(|e| e.to_string());
    // Progress on stderr every 2 s of a long run (stdout stays the report).
    let started = std::time::Instant::now();
    let mut ticker = crate::progress::Ticker::new();
    let mut progress = |p: crashcheck::Progress| {
        if p.point < p.points && ticker.due() {
            let secs = started.elapsed().as_secs_f64();
            let rate = p.states as f64 / secs.max(1e-9);
            let eta = secs * (p.points - p.point) as f64 / p.point.max(1) as f64;
            eprintln!(
                "crash-test: crash point {} of {} ({:.0}%), {} crash states ({rate:.0}/s), about {eta:.0} s left",
                p.point,
                p.points,
                100.0 * p.point as f64 / p.points.max(1) as f64,
                p.states
            );
        }
    };
    match crashcheck::check_with_progress(&config, &build, &mut progress) {
        Ok(report) => {
            if args.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "result": "pass",
                        "stack": stack,
                        "seed": args.seed,
                        "ops": report.ops,
                        "flushes_acked": report.flushes_acked,
                        "disk_events": report.events,
                        "crash_points": report.points,
                        "crash_states": report.states,
                        "seconds": report.elapsed.as_secs_f64(),
                        "states_per_second": report.states_per_second(),
                        "verifier_reports": report.verifier.len(),
                    })
                )?;
            } else {
                writeln!(out, "stack: {stack}")?;
                write!(out, "{report}")?;
            }
            Ok(())
        }
        Err(CheckError::Violation(failure)) => {
            if args.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "result": "fail",
                        "stack": stack,
                        "seed": failure.seed,
                        "ops": failure.ops,
                        "threads": failure.threads,
                        "crash_point": failure.point,
                        "crash_mode": failure.plan.to_string(),
                        "sector": failure.mismatch.sector,
                        "found": format!("{:?}", failure.mismatch.found),
                        "allowed": failure.mismatch.allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>(),
                    })
                )?;
            } else {
                writeln!(out, "stack: {stack}")?;
                write!(out, "{failure}")?;
                writeln!(
                    out,
                    "  rerun:       {}",
                    rerun_command(args, stack, failure.seed, failure.ops, failure.threads)
                )?;
            }
            out.flush()?;
            bail!("the flush promise was broken (seed {}, crash point {})", failure.seed, failure.point)
        }
        Err(e) => Err(e.into()),
    }
}

/// The command that checks the same workload the same way: every option that changes which
/// crash states are checked is repeated.
fn rerun_command(args: &CrashTestArgs, stack: &str, seed: u64, ops: usize, threads: usize) -> String {
    format!(
        "irpstack crash-test --stack '{stack}' --seed {seed} --ops {ops} --threads {threads} --exhaustive {} \
         --samples {} --max-points {} --restart-every {}",
        args.exhaustive,
        args.samples.unwrap_or(24),
        args.max_points,
        args.restart_every
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CrashTestArgs,
    }

    #[test]
    fn the_rerun_line_keeps_every_option_that_picks_the_states() {
        let cli = Cli::parse_from([
            "x",
            "--stack",
            "crash(size=1M)",
            "--exhaustive",
            "3",
            "--samples",
            "7",
            "--max-points",
            "99",
            "--restart-every",
            "5",
        ]);
        let line = rerun_command(&cli.args, "crash(size=1M)", 11, 200, 2);
        let again =
            Cli::parse_from(["x"].into_iter().chain(shell_words(&line).iter().skip(2).map(String::as_str)));
        assert_eq!(
            (again.args.seed, again.args.ops, again.args.threads, again.args.exhaustive, again.args.samples),
            (11, Some(200), 2, 3, Some(7))
        );
        assert_eq!(
            (again.args.max_points, again.args.restart_every, again.args.stack.as_deref()),
            (99, 5, Some("crash(size=1M)"))
        );
    }

    /// Splits a command line the way a shell would for single-quoted words.
    fn shell_words(line: &str) -> Vec<String> {
        let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
        for c in line.chars() {
            match c {
                '\'' => quoted = !quoted,
                ' ' if !quoted => words.extend((!word.is_empty()).then(|| std::mem::take(&mut word))),
                c => word.push(c),
            }
        }
        words.extend((!word.is_empty()).then_some(word));
        words
    }
}
