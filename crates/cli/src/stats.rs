//! `irpstack stats FILE`: reads the report a `stats(file=...)` layer writes (every
//! interval while it runs, and at shutdown) and prints it as a table.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The report file a `stats(file=FILE)` layer writes.
    file: PathBuf,
    /// Print the file's JSON unchanged instead of a table.
    #[arg(long)]
    json: bool,
}

fn fmt_ns(v: &Value) -> String {
    match v.as_u64() {
        None => "-".into(),
        Some(ns) if ns >= 1_000_000_000 => format!("{:.2}s", ns as f64 / 1e9),
        Some(ns) if ns >= 1_000_000 => format!("{:.2}ms", ns as f64 / 1e6),
        Some(ns) if ns >= 1_000 => format!("{:.1}us", ns as f64 / 1e3),
        Some(ns) => format!("{ns}ns"),
    }
}

fn row(out: &mut dyn Write, name: &str, op: &Value) -> std::io::Result<()> {
    let n = |k: &str| op.get(k).and_then(Value::as_u64);
    let lat = &op["latency_ns"];
    writeln!(
        out,
        "{name:<14}{:>10}{:>14}{:>8}{:>10}{:>10}{:>10}{:>10}",
        n("count").unwrap_or(0),
        n("bytes").map_or_else(|| "-".into(), |b| b.to_string()),
        n("errors").unwrap_or(0),
        fmt_ns(&lat["mean"]),
        fmt_ns(&lat["p50"]),
        fmt_ns(&lat["p99"]),
        fmt_ns(&lat["max"]),
    )
}

pub fn run(args: &StatsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading the stats file {}", args.file.display()))?;
    let report: Value = serde_json::from_str(&text).with_context(|| {
        format!("{} is not a stats report (JSON written by a stats layer)", args.file.display())
    })?;
    if args.json {
        writeln!(out, "{text}")?;
        return Ok(());
    }
    let Some(ops) = report.get("ops").and_then(Value::as_object) else {
        bail!("{} has no \"ops\": not a stats report", args.file.display());
    };
    let elapsed = Duration::from_nanos(report["elapsed_ns"].as_u64().unwrap_or(0));
    writeln!(
        out,
        "device {} — {:.1} s of traffic",
        report["device"].as_str().unwrap_or("?"),
        elapsed.as_secs_f64()
    )?;
    writeln!(
        out,
        "{:<14}{:>10}{:>14}{:>8}{:>10}{:>10}{:>10}{:>10}",
        "op", "count", "bytes", "errors", "mean", "p50", "p99", "max"
    )?;
    for (name, op) in ops {
        row(out, name, op)?;
    }
    row(out, "flush", &report["flush"])?;
    Ok(())
}
