//! `irpstack bench dispatch`: the cost of sending an IRP down a stack of filters.
//!
//! Each stack is a null device under L pass-through filters (`filters::passthrough::stack_over`); a
//! FlushBuffers IRP is allocated, sent with `call_and_wait` and completed, N times per
//! repeat. The null device alone (L = 0) is the baseline: ns per layer is
//! `(ns(L) - ns(0)) / L`.

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use irp::{DeviceRef, Irp, MajorFunction, VerifierMode};
use serde::Serialize;

use super::{CommonArgs, MAX_REPEATS, median, profile_line, write_json_line};
use crate::alloc_counter;

/// The stacks measured: the baseline, then 1, 4 and 16 filters.
const LAYERS: [usize; 4] = [0, 1, 4, 16];
/// Target: each pass-through filter adds at most this many nanoseconds.
const TARGET_NS_PER_LAYER: f64 = 20.0;
/// Target: at most this many heap allocations per IRP.
const TARGET_ALLOCS_PER_IRP: f64 = 1.0;

/// Flags of `bench dispatch`.
#[derive(Debug, Args)]
pub struct DispatchArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// How many times each stack is measured, after a warm-up; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=MAX_REPEATS))]
    repeats: u32,
    /// IRPs sent per repeat and per stack (a warm-up of a tenth of that comes first).
    #[arg(long, default_value_t = 500_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    irps: u64,
}

/// One result row (one JSON line).
#[derive(Debug, Serialize)]
struct Row {
    layers: usize,
    ns_per_irp: f64,
    /// 0 for the baseline.
    ns_per_layer: f64,
    allocs_per_irp: f64,
}

pub fn run(args: &DispatchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let repeats = args.repeats;
    let mut rows = Vec::with_capacity(LAYERS.len());
    let mut verifier = VerifierMode::Off;
    for layers in LAYERS {
        let top = filters::passthrough::stack_over(disks::null::NullDevice::create("null"), layers)
            .with_context(|| format!("cannot build a null device under {layers} pass-through filters"))?;
        verifier = top.verifier().mode();
        let (ns_per_irp, allocs_per_irp) = measure(&top, layers, args.irps, repeats)?;
        let ns_per_layer = match rows.first() {
            Some(Row { ns_per_irp: base, .. }) if layers > 0 => {
                ((ns_per_irp - base) / layers as f64).max(0.0)
            }
            _ => 0.0,
        };
        rows.push(Row { layers, ns_per_irp, ns_per_layer, allocs_per_irp });
    }
    if args.common.json {
        for row in &rows {
            write_json_line(out, row)?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "FlushBuffers IRP through N pass-through filters over the null device \
         ({} IRPs per repeat, median of {repeats})",
        args.irps
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>6}  {:>10}  {:>12}  {:>13}  target",
        "layers", "ns per IRP", "ns per layer", "allocs per IRP"
    )?;
    for row in &rows {
        let (per_layer, target) = if row.layers == 0 {
            ("(baseline)".to_owned(), "")
        } else {
            let met = row.ns_per_layer <= TARGET_NS_PER_LAYER && row.allocs_per_irp <= TARGET_ALLOCS_PER_IRP;
            (format!("{:.2}", row.ns_per_layer), if met { "met" } else { "MISSED" })
        };
        writeln!(
            out,
            "{:>6}  {:>10.1}  {:>12}  {:>13.3}   {target}",
            row.layers, row.ns_per_irp, per_layer, row.allocs_per_irp
        )?;
    }
    writeln!(out)?;
    writeln!(out, "targets: <= {TARGET_NS_PER_LAYER} ns per layer, 0 or 1 allocation per IRP")?;
    writeln!(out, "verifier: {} (IRPSTACK_VERIFIER=off|record|strict)", verifier_name(verifier))?;
    writeln!(out, "{}", profile_line())?;
    Ok(())
}

/// Sends `irps` IRPs `repeats` times after a warm-up; returns the median ns per IRP and the
/// allocations per IRP over all timed repeats.
fn measure(top: &DeviceRef, layers: usize, irps: u64, repeats: u32) -> anyhow::Result<(f64, f64)> {
    send(top, layers, (irps / 10).max(1))?;
    let mut ns = Vec::with_capacity(repeats as usize);
    let mut allocations = 0;
    for _ in 0..repeats {
        let before = alloc_counter::allocations();
        let start = Instant::now();
        send(top, layers, irps)?;
        let elapsed = start.elapsed();
        allocations += alloc_counter::allocations() - before;
        ns.push(elapsed.as_nanos() as f64 / irps as f64);
    }
    let allocs_per_irp = allocations as f64 / (irps as f64 * f64::from(repeats));
    Ok((median(&mut ns), allocs_per_irp))
}

/// Sends `n` FlushBuffers IRPs to `top`, one at a time; fails if any did not succeed.
fn send(top: &DeviceRef, layers: usize, n: u64) -> anyhow::Result<()> {
    let mut failures = 0u64;
    let mut last_failure = None;
    for _ in 0..n {
        let done = top.call_and_wait(Irp::for_device(top, MajorFunction::FlushBuffers));
        let status = done.status();
        if !status.is_success() {
            failures += 1;
            last_failure = Some(status);
        }
        drop(black_box(done));
    }
    if let Some(status) = last_failure {
        bail!(
            "{failures} of {n} FlushBuffers IRPs through {layers} filters failed (last status: {status:?})"
        );
    }
    Ok(())
}

fn verifier_name(mode: VerifierMode) -> &'static str {
    match mode {
        VerifierMode::Off => "off",
        VerifierMode::Record => "on (record)",
        VerifierMode::Strict => "on (strict)",
    }
}
