//! `irpstack fs`: use the file system on a stack without mounting it in the kernel, as
//! debugfs does — through the `fs` driver and I/O manager handles.

mod cat;
mod format;
mod ls;
mod stat;

use std::io::Write;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use irp::file::{CreateOptions, CreateRequest};
use irp::{Access, Handle, IoManager};

use crate::volume_stack::{VOLUME, mount};

const AFTER_HELP: &str = "\
The stack is mounted read-only by the `fs` driver (added on top when --stack has no `fs`
layer); paths are inside the volume, from its root. A journal that needs recovery is
replayed into memory: what is shown is the recovered volume, and the device is not written.

Examples:
  irpstack fs ls -l --stack 'file(path=disk.img,read-only=true)' /etc
  irpstack fs stat --stack 'file(path=disk.img)' /etc/passwd
  irpstack fs cat --stack 'cache(size=64M) / file(path=disk.img)' /etc/hostname
  irpstack fs get --stack 'file(path=disk.img)' /var/log/syslog syslog.copy

Times are shown in the local time zone (TZ), as debugfs shows them.";

/// Arguments of `fs`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct FsArgs {
    /// The stack holding the volume, top first (`fs / ...` or just the device).
    #[arg(long, value_name = "SPEC", global = true)]
    stack: Option<String>,
    #[command(subcommand)]
    command: FsCommand,
}

#[derive(Debug, Subcommand)]
enum FsCommand {
    /// List directories (`-l`: inode, mode, type, owner, size, time, as debugfs `ls -l`).
    Ls(ls::LsArgs),
    /// Show what stat reports for paths (a final symbolic link itself unless -L).
    Stat(stat::StatArgs),
    /// Write files to standard output.
    Cat(cat::CatArgs),
    /// Copy a file out of the volume (debugfs `dump`).
    Get(cat::GetArgs),
}

pub fn run(args: &FsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(spec) = &args.stack else { bail!("--stack SPEC is required: the stack holding the volume") };
    let (io, _top) = mount(spec)?;
    let result = match &args.command {
        FsCommand::Ls(a) => ls::run(&io, a, out),
        FsCommand::Stat(a) => stat::run(&io, a, out),
        FsCommand::Cat(a) => cat::run_cat(&io, a, out),
        FsCommand::Get(a) => cat::run_get(&io, a, out),
    };
    io.shutdown().context("shutting the stack down")?;
    result
}

/// Opens `path` in the volume with `access` and `options`.
pub(crate) fn open(
    io: &IoManager,
    path: &str,
    access: Access,
    options: CreateOptions,
) -> anyhow::Result<Handle> {
    io.create(VOLUME, &CreateRequest::open(path, access).options(options)).map_err(|e| match e.status() {
        Some(status) => anyhow::anyhow!("{path}: {status}"),
        None => anyhow::Error::from(e).context(path.to_owned()),
    })
}
