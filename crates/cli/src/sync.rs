//! `irpstack sync`: makes everything written on irpstack mounts durable.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

const AFTER_HELP: &str = "\
The kernel sends no syncfs to a FUSE mount, so sync(1) and syncfs(2) write the kernel's page
cache back to the file system and stop there: nothing tells the file system to make it
durable. This command does both: syncfs on the mount, then a control (an ioctl on the mount's
root) that makes the mounting process flush the volume — IRP_MJ_FLUSH_BUFFERS on the volume:
every file's data, a journal commit, and the flush of every cache and disk below. When it
returns 0, everything written on the mount before it started is on stable storage.

Examples:
  irpstack sync /mnt/x
  cp -a src /mnt/x/ && irpstack sync /mnt/x";

/// Arguments of `sync`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct SyncArgs {
    /// Mount points of `irpstack mount`.
    #[arg(value_name = "MOUNTPOINT", required = true)]
    mountpoints: Vec<PathBuf>,
}

pub fn run(args: &SyncArgs, _out: &mut dyn Write) -> anyhow::Result<()> {
    for mountpoint in &args.mountpoints {
        fuse::sync_mount(mountpoint)?;
    }
    Ok(())
}
