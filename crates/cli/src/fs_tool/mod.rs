//! `irpstack fs`: use the file system on a stack without mounting it in the kernel, as
//! debugfs and mtools do — through the `fs` driver and I/O manager handles. One file per
//! command; each ends with the stack shut down (a changed volume is left clean: journal
//! checkpointed, `needs_recovery` cleared).

mod cat;
mod format;
mod ln;
mod ls;
mod mkdir;
mod mv;
mod paths;
mod put;
mod rm;
mod stat;

use std::io::Write;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use irp::file::{CreateOptions, CreateRequest};
use irp::{Access, Handle, IoManager, Status};

use crate::volume_stack::{Mode, VOLUME, mount};

const AFTER_HELP: &str = "\
The `fs` driver mounts the stack's volume (an `fs` layer is added on top when --stack has
none); paths are inside the volume, from its root.

ls, stat, cat and get mount it read-only (unless the spec's `fs` layer says ro=false): the
device is not written, and a journal that needs recovery is replayed into memory, so what is
shown is the recovered volume.

put, mkdir, rm, mv and ln mount it read-write: the journal is replayed onto the device, each
change is journaled, and the volume is shut down clean at the end (e2fsck -fn passes it, the
kernel mounts it). A read-only device or volume makes them fail, saying why.

Examples:
  irpstack fs ls -l --stack 'file(path=disk.img,read-only=true)' /etc
  irpstack fs stat --stack 'file(path=disk.img)' /etc/passwd
  irpstack fs cat --stack 'cache(size=64M) / file(path=disk.img)' /etc/hostname
  irpstack fs get --stack 'file(path=disk.img)' /var/log/syslog syslog.copy
  irpstack fs mkdir -p --stack 'file(path=disk.img)' /srv/www/static
  irpstack fs put --stack 'file(path=disk.img)' index.html /srv/www/
  tar c dir | irpstack fs put --stack 'file(path=disk.img)' - /backup/dir.tar
  irpstack fs mv --stack 'file(path=disk.img)' /srv/www /srv/www.old
  irpstack fs ln -s --stack 'file(path=disk.img)' www.old /srv/current
  irpstack fs rm -r --stack 'file(path=disk.img)' /srv/www.old

Exit status: 0 done; 1 an error, reported with the path it concerns (for rm -r and several
paths, the first error; the rest of the work is still done where it can be).

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
    /// Copy a host file (or standard input) into the volume (debugfs `write`, mtools `mcopy`).
    Put(put::PutArgs),
    /// Make directories (`-p`: with their parents, no error if they exist).
    Mkdir(mkdir::MkdirArgs),
    /// Remove files, symbolic links and (with -r, their contents first) directories.
    Rm(rm::RmArgs),
    /// Rename or move a file or directory (into DEST if it is a directory), atomically.
    Mv(mv::MvArgs),
    /// Make a hard link, or with -s a symbolic link.
    Ln(ln::LnArgs),
}

impl FsCommand {
    fn mode(&self) -> Mode {
        match self {
            FsCommand::Ls(_) | FsCommand::Stat(_) | FsCommand::Cat(_) | FsCommand::Get(_) => Mode::Read,
            FsCommand::Put(_)
            | FsCommand::Mkdir(_)
            | FsCommand::Rm(_)
            | FsCommand::Mv(_)
            | FsCommand::Ln(_) => Mode::Write,
        }
    }
}

pub fn run(args: &FsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(spec) = &args.stack else { bail!("--stack SPEC is required: the stack holding the volume") };
    let mode = args.command.mode();
    let (io, top) = mount(spec, mode)?;
    if mode == Mode::Write
        && let Some(reason) = top
            .driver_as::<fs::driver::FsDriver>()
            .and_then(|d| d.vcb().read_only_reason().map(str::to_owned))
    {
        io.shutdown().context("shutting the stack down")?;
        bail!("the volume is mounted read-only ({reason}): nothing can be changed");
    }
    let result = match &args.command {
        FsCommand::Ls(a) => ls::run(&io, a, out),
        FsCommand::Stat(a) => stat::run(&io, a, out),
        FsCommand::Cat(a) => cat::run_cat(&io, a, out),
        FsCommand::Get(a) => cat::run_get(&io, a, out),
        FsCommand::Put(a) => put::run(&io, a, out),
        FsCommand::Mkdir(a) => mkdir::run(&io, a, out),
        FsCommand::Rm(a) => rm::run(&io, a, out),
        FsCommand::Mv(a) => mv::run(&io, a, out),
        FsCommand::Ln(a) => ln::run(&io, a, out),
    };
    let shutdown = io.shutdown().context("shutting the volume down (it may need recovery at its next mount)");
    result.and(shutdown)
}

/// Runs `each` over `paths`, going on after a failure. With one path its error is the
/// result; with several, each error is printed as it happens and the result counts them.
pub(crate) fn for_each_path(
    command: &str,
    paths: &[String],
    mut each: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if let [path] = paths {
        return each(path);
    }
    let mut failures = 0;
    for path in paths {
        if let Err(e) = each(path) {
            eprintln!("irpstack: fs {command}: {e:#}");
            failures += 1;
        }
    }
    if failures > 0 {
        bail!("fs {command}: {failures} of {} paths failed", paths.len());
    }
    Ok(())
}

/// A status as a person reads it: the NT name and POSIX's words for it.
pub(crate) fn describe(status: Status) -> String {
    let errno = status.to_errno();
    if errno == 0 {
        return status.to_string();
    }
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    format!("{status}: {text}")
}

/// A request about a path failed with a status.
#[derive(Debug)]
pub(crate) struct Failed {
    pub path: String,
    pub status: Status,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, describe(self.status))
    }
}

impl std::error::Error for Failed {}

/// The error of a request about `path`.
pub(crate) fn failed(path: &str, status: Status) -> anyhow::Error {
    anyhow::Error::new(Failed { path: path.to_owned(), status })
}

/// The status of a failed request, if the error is one.
pub(crate) fn status_of(e: &anyhow::Error) -> Option<Status> {
    e.downcast_ref::<Failed>().map(|f| f.status)
}

/// Opens or creates as `request` asks; errors name the path.
pub(crate) fn create(io: &IoManager, request: &CreateRequest) -> anyhow::Result<Handle> {
    io.create(VOLUME, request).map_err(|e| match e.status() {
        Some(status) => failed(&request.path, status),
        None => anyhow::Error::from(e).context(request.path.clone()),
    })
}

/// Opens `path` in the volume with `access` and `options`.
pub(crate) fn open(
    io: &IoManager,
    path: &str,
    access: Access,
    options: CreateOptions,
) -> anyhow::Result<Handle> {
    create(io, &CreateRequest::open(path, access).options(options))
}
