//! `irpstack bench`: micro-benchmarks of the I/O path, with human or JSON-lines output.

mod cacheflush;
mod dispatch;

use std::io::Write;

use clap::{Args, Subcommand};
use serde::Serialize;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Nanoseconds and allocations per IRP through stacks of pass-through filters.
    ///
    /// Sends FlushBuffers IRPs (`call_and_wait`) through 1, 4 and 16 pass-through filters over
    /// the null device, and to the null device alone as the baseline: ns per layer is
    /// (ns per IRP(L) - ns per IRP(0)) / L. Allocations are counted by the binary's global
    /// allocator. Targets: <= 20 ns per layer, 0 or 1 allocation per IRP. With --json, one
    /// object per stack (the baseline has layers 0): layers, ns_per_irp, ns_per_layer,
    /// allocs_per_irp. Numbers from a debug build are meaningless: use --release.
    Dispatch(dispatch::DispatchArgs),
    /// GB/s of the persistence flush over 4 KiB, 1 MiB and 64 MiB dirty buffers.
    ///
    /// Each iteration dirties the whole buffer (untimed), then times only the write-back of
    /// every cache line with one method (each of CLWB, CLFLUSHOPT, CLFLUSH this CPU has) and a
    /// drain (SFENCE). `persist` is the method chosen by CPUID, which drivers use; `memcpy`
    /// copies the buffer into another, for scale. GB/s is 1e9 bytes per second, the best
    /// (highest) of the repeats. Target: persist >= 8 GB/s on 1 MiB. With --json, one object
    /// per size and method: bytes, method, gbps. Numbers from a debug build are meaningless:
    /// use --release.
    Cacheflush(cacheflush::CacheflushArgs),
}

/// Flags every benchmark takes.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Print one JSON object per result row on stdout (JSON Lines) and nothing else.
    #[arg(long)]
    json: bool,
}

/// The most repeats a benchmark takes.
const MAX_REPEATS: i64 = 1000;

/// Runs a benchmark, writing its report to `out`.
pub fn run(command: BenchCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        tracing::warn!("this is a debug build: benchmark numbers are meaningless, build with --release");
    }
    match command {
        BenchCommand::Dispatch(args) => dispatch::run(&args, out),
        BenchCommand::Cacheflush(args) => cacheflush::run(&args, out),
    }
}

/// The build profile line of a human report.
fn profile_line() -> &'static str {
    if cfg!(debug_assertions) {
        "build: debug — WARNING: debug numbers are meaningless, run `cargo run --release -p irpstack -- bench ...`"
    } else {
        "build: release"
    }
}

/// Writes `row` as one line of JSON.
fn write_json_line(out: &mut dyn Write, row: &impl Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, row)?;
    writeln!(out)?;
    Ok(())
}

/// The median of `values` (the mean of the two middle ones for an even count); 0 when empty.
fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
