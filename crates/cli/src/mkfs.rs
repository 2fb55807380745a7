//! `irpstack mkfs`: formats the device of a stack as ext4.

use std::io::Write;

use anyhow::{Context, anyhow};
use clap::Args;
use fs::lower_device::LowerDevice;
use fs::mkfs::{MkfsOptions, mkfs};
use irp::{FlushFlags, IoManager, units};
use stack::BuildContext;

use crate::volume_stack::build_device;

const AFTER_HELP: &str = "\
Formats the device at the bottom of --stack (everything below a top `fs` layer, through any
cache or filter above the disk) as ext4 with the Debian defaults but resize_inode: 4 KiB
blocks, a journal, metadata_csum, 64bit, flex_bg, extents, htree directories. e2fsck, debugfs
and the Linux kernel read the result. The device is flushed and shut down before the command
exits, so every cache in the stack is written back.

Examples:
  irpstack mkfs --stack 'file(path=disk.img)' --size 1G
  irpstack mkfs --stack 'cache(size=64M) / file(path=/dev/loop0)' --label data";

/// Arguments of `mkfs`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct MkfsArgs {
    /// The stack whose device to format, top first (a top `fs` layer is ignored).
    #[arg(long, value_name = "SPEC")]
    stack: String,
    /// Size of an image file the stack creates (a `file(...)` layer without size=).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    size: Option<u64>,
    /// Volume label (at most 16 bytes).
    #[arg(long, value_name = "LABEL")]
    label: Option<String>,
    /// Seed of the UUID and directory hash seed (the same seed gives the same identifiers;
    /// default: the time and process id).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Journal size in 4 KiB blocks (default: mke2fs's for the volume size).
    #[arg(long, value_name = "BLOCKS")]
    journal_blocks: Option<u64>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    units::parse_size(text).map_err(|e| e.to_string())
}

/// The UUID as text.
pub fn uuid_text(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..].concat()
    )
}

pub fn run(args: &MkfsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut ctx = BuildContext::new();
    if let Some(size) = args.size {
        ctx = ctx.with_default_size(size);
    }
    let device = build_device(&args.stack, &ctx)?;
    let seed = args.seed.unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        now.as_nanos() as u64 ^ u64::from(std::process::id()) << 32
    });
    let mut options = MkfsOptions::from_seed(seed);
    options.journal_blocks = args.journal_blocks;
    if let Some(label) = &args.label {
        let bytes = label.as_bytes();
        anyhow::ensure!(bytes.len() <= 16, "the label {label:?} is longer than 16 bytes");
        options.volume_name[..bytes.len()].copy_from_slice(bytes);
    }
    let sb = format(&device, &options)?;
    writeln!(
        out,
        "{}: ext4, {} blocks of {} bytes, {} inodes in {} groups, UUID {}",
        device.name(),
        sb.blocks_count,
        sb.block_size(),
        sb.inodes_count,
        sb.group_count(),
        uuid_text(&sb.uuid)
    )?;
    Ok(())
}

/// Formats the stack `device` tops as ext4, flushes it and shuts the stack down (its caches
/// written back); the superblock written.
pub fn format(
    device: &irp::DeviceRef,
    options: &MkfsOptions,
) -> anyhow::Result<fs::ondisk::superblock::Superblock> {
    let dev = LowerDevice::new(device).map_err(|e| anyhow!("{e}"))?;
    let sb = mkfs(&dev, options).with_context(|| format!("formatting {}", device.name()))?;
    irp::block::lower::flush(device, FlushFlags::Full)
        .ok()
        .map_err(|s| anyhow!("flushing the device: {s}"))?;
    let io = IoManager::new();
    io.register("device", device).context("registering the device")?;
    io.shutdown().context("shutting the stack down")?;
    Ok(sb)
}
