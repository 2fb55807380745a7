//! `irpstack bench cacheflush`: throughput of the persistence flush.
//!
//! For each buffer size and method, every iteration first dirties the whole buffer (writes a
//! new byte value over it, untimed), then times only the flush: the method's write-back of
//! every line followed by `irp::cpu_cache::drain()` (SFENCE). `persist` is `irp::cpu_cache::persist`,
//! the CPUID-chosen method drivers use. `memcpy` times copying the buffer into another one
//! of the same size, for scale.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;
use irp::cpu_cache;
use irp::cpu_cache::FlushMethod;
use serde::Serialize;

use super::{CommonArgs, MAX_REPEATS, profile_line, write_json_line};

/// Buffer sizes measured: 4 KiB, 1 MiB, 64 MiB.
const SIZES: [usize; 3] = [4 << 10, 1 << 20, 64 << 20];
/// Target: the persistence flush writes back 1 MiB at this many GB/s or more.
const TARGET_GBPS_1MIB: f64 = 8.0;

/// Flags of `bench cacheflush`.
#[derive(Debug, Args)]
pub struct CacheflushArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// How many times each size and method is measured, after a warm-up; the best (highest
    /// GB/s) is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=MAX_REPEATS))]
    repeats: u32,
    /// Minimum timed work per size and method, in milliseconds, shared out evenly among the
    /// repeats: small buffers are flushed many times until each repeat has measured its share.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    min_ms: u64,
}

/// What is timed.
#[derive(Debug, Clone, Copy)]
enum Method {
    /// `cpu_cache::flush_with(buf, method)` then `cpu_cache::drain()`.
    Flush(FlushMethod),
    /// `cpu_cache::persist(buf)`: the persistence method chosen by CPUID, then drain.
    Persist,
    /// `copy_from_slice` into a second buffer.
    Memcpy,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Flush(method) => method.name(),
            Method::Persist => "persist",
            Method::Memcpy => "memcpy",
        }
    }
}

/// One result row (one JSON line).
#[derive(Debug, Serialize)]
struct Row {
    bytes: usize,
    method: &'static str,
    gbps: f64,
}

pub fn run(args: &CacheflushArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let methods: Vec<Method> = cpu_cache::available_methods()
        .into_iter()
        .map(Method::Flush)
        .chain([Method::Persist, Method::Memcpy])
        .collect();
    let per_repeat = Duration::from_millis(args.min_ms) / args.repeats;
    let mut rows = Vec::with_capacity(SIZES.len() * methods.len());
    for bytes in SIZES {
        let mut buf = vec![0u8; bytes];
        let mut copy = vec![0u8; bytes];
        let mut value = 0u8;
        for &method in &methods {
            tracing::debug!(bytes, method = method.name(), "measuring");
            // Warm-up: faults the pages in and brings the code into the caches.
            value = value.wrapping_add(1);
            timed_pass(method, &mut buf, &mut copy, value);
            let mut best = 0.0f64;
            for _ in 0..args.repeats {
                let mut timed = Duration::ZERO;
                let mut done = 0u64;
                let wall = Instant::now();
                while done == 0 || timed < per_repeat {
                    value = value.wrapping_add(1);
                    timed += timed_pass(method, &mut buf, &mut copy, value);
                    done += bytes as u64;
                }
                // At least one nanosecond, so that a coarse clock never yields infinity.
                let gbps = done as f64 / timed.as_nanos().max(1) as f64;
                tracing::debug!(iterations = done / bytes as u64, ?timed, wall = ?wall.elapsed(), gbps, "repeat");
                best = best.max(gbps);
            }
            rows.push(Row { bytes, method: method.name(), gbps: best });
        }
    }
    if args.common.json {
        for row in &rows {
            write_json_line(out, row)?;
        }
        return Ok(());
    }
    write_table(out, args, &methods, &rows)
}

/// Dirties `buf` with `value`, then times `method` over it.
fn timed_pass(method: Method, buf: &mut [u8], copy: &mut [u8], value: u8) -> Duration {
    buf.fill(value);
    let buf = black_box(&*buf);
    let start = Instant::now();
    match method {
        Method::Flush(method) => {
            cpu_cache::flush_with(buf, method);
            cpu_cache::drain();
        }
        Method::Persist => cpu_cache::persist(buf),
        Method::Memcpy => {
            copy.copy_from_slice(buf);
            black_box(&mut *copy);
        }
    }
    start.elapsed()
}

fn write_table(
    out: &mut dyn Write,
    args: &CacheflushArgs,
    methods: &[Method],
    rows: &[Row],
) -> anyhow::Result<()> {
    writeln!(
        out,
        "GB/s (1e9 bytes/s) flushing a dirty buffer: write back every line, then drain (SFENCE); \
         best of {} repeats, >= {} ms timed in all",
        args.repeats, args.min_ms
    )?;
    writeln!(out)?;
    write!(out, "{:>8}", "size")?;
    for method in methods {
        write!(out, "  {:>10}", method.name())?;
    }
    writeln!(out)?;
    for bytes in SIZES {
        write!(out, "{:>8}", size_name(bytes))?;
        for row in rows.iter().filter(|row| row.bytes == bytes) {
            write!(out, "  {:>10.2}", row.gbps)?;
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "persistence method (chosen by CPUID, used by drivers and `persist`): {}",
        cpu_cache::persistence_method().name()
    )?;
    let persist_1mib = rows.iter().find(|row| row.bytes == 1 << 20 && row.method == "persist");
    if let Some(row) = persist_1mib {
        let verdict = if row.gbps >= TARGET_GBPS_1MIB { "met" } else { "MISSED" };
        writeln!(
            out,
            "target: persist >= {TARGET_GBPS_1MIB} GB/s on 1 MiB: {verdict} ({:.2} GB/s)",
            row.gbps
        )?;
    }
    writeln!(out, "{}", profile_line())?;
    Ok(())
}

fn size_name(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}
