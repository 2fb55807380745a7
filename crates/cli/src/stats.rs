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

fn row(out: &mut dyn Write, width: usize, name: &str, op: &Value) -> std::io::Result<()> {
    let n = |k: &str| op.get(k).and_then(Value::as_u64);
    let lat = &op["latency_ns"];
    writeln!(
        out,
        "{name:<width$}{:>10}{:>14}{:>8}{:>10}{:>10}{:>10}{:>10}",
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
    table(&report, out).with_context(|| format!("{} is not a stats report", args.file.display()))
}

/// The report as a table: one row per operation (the flush among them), the first column as
/// wide as the longest name.
fn table(report: &Value, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(ops) = report.get("ops").and_then(Value::as_object) else {
        bail!("it has no \"ops\"");
    };
    let elapsed = Duration::from_nanos(report["elapsed_ns"].as_u64().unwrap_or(0));
    writeln!(
        out,
        "device {} — {:.1} s of traffic",
        report["device"].as_str().unwrap_or("?"),
        elapsed.as_secs_f64()
    )?;
    let width = ops.keys().map(String::len).max().unwrap_or(0).max("op".len()) + 2;
    writeln!(
        out,
        "{:<width$}{:>10}{:>14}{:>8}{:>10}{:>10}{:>10}{:>10}",
        "op", "count", "bytes", "errors", "mean", "p50", "p99", "max"
    )?;
    // `ops` holds the flush too; the report's separate "flush" record is the same numbers.
    for (name, op) in ops {
        row(out, width, name, op)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_keep_the_columns_and_flush_is_one_row() {
        let op = |count: u64| {
            serde_json::json!({"count": count, "bytes": 4096, "errors": 0,
            "latency_ns": {"mean": 1500, "p50": 1000, "p99": 9000, "max": 12000}})
        };
        let report = serde_json::json!({"device": "stats0", "elapsed_ns": 1_000_000_000u64,
            "ops": {"read": op(1), "flush": op(2), "query_information": op(3)}, "flush": op(2)});
        let mut out = Vec::new();
        table(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(lines.len(), 4, "a header and three rows:\n{text}");
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "columns shifted:\n{text}");
        assert_eq!(text.matches("\nflush ").count(), 1, "one flush row:\n{text}");
    }
}
