//! `irpstack bench`: micro-benchmarks of the I/O path, with human or JSON-lines output.

mod cacheflush;
mod dispatch;
mod flush;
mod fs;
mod io;

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
    /// Flushes per second from many threads through the write-back cache vs fdatasync.
    ///
    /// Each of --threads threads loops over a 4 KiB write to its own offsets and a flush,
    /// for --seconds, through the stack `cache(size=256M) / stats / file(...)` over a 1 GiB
    /// image (`direct=true,engine=uring`); the baseline is the same threads doing pwrite
    /// (O_DIRECT) + fdatasync on the same file. The cache coalesces concurrent flushes into
    /// one device sync (group commit); device syncs are the flushes the stats filter sees
    /// reach the file disk. Target: ratio >= 4. With --json, one object: flushes_per_s,
    /// baseline_flushes_per_s, ratio, device_syncs, and threads, seconds,
    /// flushes_per_device_sync, cache_lower_flushes, round_us (time per group commit),
    /// device_sync_us and device_write_us (mean latencies below the cache). The image lives
    /// in a new directory under --dir, removed afterwards. Use --release.
    Flush(flush::FlushArgs),
    /// The ext4 file system through the driver API beside the kernel's ext4 on a loop device.
    ///
    /// Rows: create --files files in one directory, look each up (open + close), stat each,
    /// unlink each; 4 KiB random writes into a --write-file file with a flush every 16, for
    /// --seconds; --durable small-file creates (create + 4 KiB write + flush of the file +
    /// flush of the directory). Ours: `fs` over --stack (mkfs first), through IRPs on handles
    /// (no FUSE). The kernel: `mkfs.ext4` on a sparse image in the bench directory, a loop
    /// device, a mount, the same rows with std::fs and fsync (root and loop devices needed;
    /// --no-kernel skips it). Targets: >= 1.0x the kernel on every row, >= 3x on durable
    /// creates. With --json, one object per row: row, ours_per_s, kernel_per_s, ratio. Use
    /// --release.
    Fs(fs::FsArgs),
    /// Write IOPS and GB/s through a stack at queue depth, side by side with fio.
    ///
    /// Workloads: 4 KiB random writes with 32 IRPs in flight (randwrite-4k-qd32) and 1 MiB
    /// sequential writes with 8 in flight (write-1m-qd8), --seconds each, on an image
    /// written in full first. Default stacks: the file disk with io_uring and O_DIRECT, and
    /// `cache(size=512M,bypass=0)` over it; --stack measures only the one given. Unless --no-fio or
    /// fio is missing, fio runs the same workloads (ioengine=io_uring, direct=1) on the same
    /// image. Targets: the file disk reaches >= 90% of fio's 4 KiB random write IOPS; the
    /// cache absorbs 1 MiB sequential writes at >= 1 GB/s. With --json, one object per
    /// stack and workload: stack, workload, iops, gbps, and fio_iops, fio_gbps, ratio when
    /// fio ran. The image lives in a new directory under --dir, removed afterwards. Use
    /// --release.
    Io(io::IoArgs),
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
        BenchCommand::Flush(args) => flush::run(&args, out),
        BenchCommand::Fs(args) => fs::run(&args, out),
        BenchCommand::Io(args) => io::run(&args, out),
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
