//! `irpstack fsck`: the read-only structural check of the volume on a stack, with e2fsck's
//! exit codes.

use std::io::Write;

use anyhow::anyhow;
use clap::Args;
use fs::fsck::{self, FsckReport, Severity};
use fs::lower_device::LowerDevice;
use stack::BuildContext;

use crate::volume_stack::build_device;

const AFTER_HELP: &str = "\
Checks the ext4 volume on the device of --stack (everything below a top `fs` layer) without
changing it: a journal that needs recovery is replayed into memory first (the device is not
written), then e2fsck's five passes are checked — superblock and group descriptors, every
inode (checksum, extent tree or block map inside the volume, i_blocks, xattr blocks), blocks
claimed twice, directories ('.', '..', entries, checksums, htree), connectivity, link counts,
block and inode bitmaps, free counts. Nothing is repaired.

Exit status, as e2fsck's: 0 the volume is clean (warnings, such as the superblock's lazily
updated free counts, do not count), 4 errors were found and left uncorrected, 8 the volume
could not be checked (no ext4 superblock, an unsupported feature, a device error).

Examples:
  irpstack fsck --stack 'file(path=disk.img,read-only=true)'
  irpstack fsck --stack 'fs / cache(size=64M) / file(path=disk.img)' --json";

/// Arguments of `fsck`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct FsckArgs {
    /// The stack whose volume to check, top first (a top `fs` layer is ignored).
    #[arg(long, value_name = "SPEC")]
    stack: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Checks; returns the exit code (0 or 4), or an error (exit 8).
pub fn run(args: &FsckArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let device = build_device(&args.stack, &BuildContext::new())?;
    let dev = LowerDevice::new(&device).map_err(|e| anyhow!("{e}"))?;
    let started = std::time::Instant::now();
    let report = fsck::check(&dev)?;
    let elapsed = started.elapsed();
    if args.json {
        write_json(&report, elapsed, out)?;
    } else {
        write_text(&report, elapsed, out)?;
    }
    Ok(report.exit_code() as u8)
}

fn write_text(r: &FsckReport, elapsed: std::time::Duration, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(replay) = &r.replay {
        writeln!(
            out,
            "journal: replayed {} transactions ({} blocks) into memory; the device was not written",
            replay.transactions, replay.blocks_written
        )?;
    }
    for p in &r.problems {
        writeln!(out, "{p}")?;
    }
    for (area, n) in &r.suppressed {
        writeln!(out, "... and {n} more {area:?} problems")?;
    }
    let errors = r.errors().count() + r.suppressed.iter().map(|&(_, n)| n as usize).sum::<usize>();
    let verdict = if r.is_clean() { "clean".to_owned() } else { format!("{errors} errors left uncorrected") };
    writeln!(
        out,
        "{}/{} inodes, {}/{} blocks, {} directories: {verdict} ({:.3} s)",
        r.inodes.0,
        r.inodes.1,
        r.blocks.0,
        r.blocks.1,
        r.directories,
        elapsed.as_secs_f64()
    )?;
    Ok(())
}

fn write_json(r: &FsckReport, elapsed: std::time::Duration, out: &mut dyn Write) -> anyhow::Result<()> {
    let problems: Vec<serde_json::Value> = r
        .problems
        .iter()
        .map(|p| {
            serde_json::json!({
                "severity": if p.severity == Severity::Error { "error" } else { "warning" },
                "area": format!("{:?}", p.area),
                "detail": p.detail,
            })
        })
        .collect();
    let value = serde_json::json!({
        "result": if r.is_clean() { "clean" } else { "errors" },
        "exit_code": r.exit_code(),
        "problems": problems,
        "suppressed": r.suppressed.iter().map(|(a, n)| serde_json::json!({"area": format!("{a:?}"), "count": n})).collect::<Vec<_>>(),
        "journal_replayed": r.replay.as_ref().map(|j| serde_json::json!({"transactions": j.transactions, "blocks": j.blocks_written})),
        "inodes_used": r.inodes.0,
        "inodes": r.inodes.1,
        "blocks_used": r.blocks.0,
        "blocks": r.blocks.1,
        "directories": r.directories,
        "seconds": elapsed.as_secs_f64(),
    });
    writeln!(out, "{value}")?;
    Ok(())
}
