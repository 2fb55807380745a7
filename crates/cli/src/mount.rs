//! `irpstack mount`: the file system of a stack mounted in the kernel through FUSE.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use fuse::{MountConfig, Unmount};

use crate::mount_daemon::{self, Ready};
use crate::mount_signals;
use crate::volume_stack::{MountPlan, VOLUME, mount_checked};

const AFTER_HELP: &str = "\
Mounts the ext4 volume of --stack at MOUNTPOINT: every request the kernel sends becomes IRPs
on the stack (fsync is IRP_MJ_FLUSH_BUFFERS on that file, fdatasync the same with
FILE_DATA_SYNC_ONLY, a directory's fsync a flush of the directory). An `fs` layer is added on
top when the spec has none. The volume is checked first (as `irpstack fsck` does) and refused
when it has errors; --no-check skips that.

Without -f the command returns once the mount is ready, leaving the file system served by a
process of its own (its pid is printed; its log goes to --log). Unmount with
`fusermount3 -u MOUNTPOINT`, `umount MOUNTPOINT`, or SIGINT/SIGTERM to that process: the
process then closes every open file and sends IRP_MJ_SHUTDOWN down the stack, so every cache
writes back and the volume is left clean, and exits. If files are still open, a signal
detaches the mount (it goes when they are closed); a second signal aborts it.

Options (-o, comma separated):
  ro                    read-only, in the kernel and in the file system (fs ro=true)
  allow_other           other users may use the mount
  default_permissions   the kernel checks permissions from the mode bits
  writeback_cache       the kernel buffers writes (faster small writes; errors come at fsync/close)

The kernel sends no syncfs to a FUSE mount: `sync` writes the kernel's cache back to the file
system but does not make it durable. `irpstack sync MOUNTPOINT` does: it flushes the volume.

Examples:
  irpstack mount /mnt/x --stack 'file(path=disk.img)'
  irpstack mount -f /mnt/x --stack 'fs / cache(size=256M) / file(path=disk.img)' --threads 4
  irpstack mount /mnt/ro -o ro,allow_other --stack 'file(path=disk.img,read-only=true)'
  irpstack sync /mnt/x && fusermount3 -u /mnt/x";

/// Arguments of `mount`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct MountArgs {
    /// Where to mount: a directory that is not a mount point already.
    #[arg(value_name = "MOUNTPOINT")]
    mountpoint: PathBuf,
    /// The stack holding the volume, top first (`fs / ...` or just the device).
    #[arg(long, value_name = "SPEC")]
    stack: String,
    /// Stay in the foreground until the file system is unmounted.
    #[arg(short = 'f', long)]
    foreground: bool,
    /// Mount options, comma separated: ro, allow_other, default_permissions,
    /// writeback_cache.
    #[arg(short = 'o', value_name = "OPTIONS")]
    options: Vec<String>,
    /// Threads serving requests, each on its own /dev/fuse descriptor [default: the
    /// processors, 2 to 8].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: Option<u16>,
    /// Mount without checking the volume first.
    #[arg(long)]
    no_check: bool,
    /// Where the background process logs (RUST_LOG sets what) [default: nowhere].
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Set by the background start: the descriptor to say "ready" on.
    #[arg(long, hide = true, value_name = "FD")]
    ready_fd: Option<i32>,
}

impl MountArgs {
    /// `--log`.
    pub fn log_file(&self) -> Option<&std::path::Path> {
        self.log.as_deref()
    }

    /// The mount point as given.
    pub fn mountpoint_shown(&self) -> String {
        self.mountpoint.display().to_string()
    }

    /// The spec as given.
    pub fn stack_shown(&self) -> &str {
        &self.stack
    }
}

/// What `-o` asks for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    read_only: bool,
    allow_other: bool,
    default_permissions: bool,
    writeback_cache: bool,
}

fn parse_options(list: &[String]) -> anyhow::Result<Options> {
    let mut o = Options::default();
    for word in list.iter().flat_map(|l| l.split(',')).map(str::trim).filter(|w| !w.is_empty()) {
        match word {
            "ro" => o.read_only = true,
            "rw" => o.read_only = false,
            "allow_other" => o.allow_other = true,
            "default_permissions" => o.default_permissions = true,
            "writeback_cache" => o.writeback_cache = true,
            other => bail!(
                "unknown mount option {other:?} (known: ro, rw, allow_other, default_permissions, writeback_cache)"
            ),
        }
    }
    Ok(o)
}

pub fn run(args: &MountArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let options = parse_options(&args.options)?;
    if !args.foreground && args.ready_fd.is_none() {
        return mount_daemon::start(args, out);
    }
    let ready = args.ready_fd.map(Ready::from_fd).transpose()?;
    match serve(args, &options, ready.as_ref(), out) {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Some(r) = &ready {
                r.failed(&format!("{e:#}"));
            }
            Err(e)
        }
    }
}

/// Mounts and serves until the file system is unmounted, then shuts the stack down.
fn serve(
    args: &MountArgs,
    options: &Options,
    ready: Option<&Ready>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // Before any thread exists (the stack starts some): every thread then has SIGINT and
    // SIGTERM blocked, and only the signal thread takes them.
    let signals = mount_signals::block()?;
    fuse::check_mountpoint(&args.mountpoint)?;
    let plan = MountPlan { read_only: options.read_only, check: !args.no_check };
    let (io, _top) = mount_checked(&args.stack, plan)?;
    let mut config = MountConfig {
        read_only: options.read_only,
        allow_other: options.allow_other,
        default_permissions: options.default_permissions,
        ..MountConfig::default()
    };
    config.fs.writeback_cache = options.writeback_cache;
    if let Some(n) = args.threads {
        config.threads = usize::from(n);
    }
    let mounted = fuse::mount(std::sync::Arc::clone(&io), VOLUME, &args.mountpoint, &config)?;
    let unmounter = mounted.unmounter();
    let mode = if mounted.is_read_only() { "read-only" } else { "read-write" };
    let where_ = unmounter.mountpoint().display().to_string();
    mount_signals::spawn_handler(signals, unmounter)?;
    match ready {
        Some(r) => r.ready(),
        None => {
            writeln!(
                out,
                "mounted {} on {where_} ({mode}); unmount with `fusermount3 -u {where_}` or Ctrl-C",
                args.stack
            )?;
            out.flush()?;
        }
    }
    let served = mounted.run();
    tracing::info!(mountpoint = %where_, "unmounted; shutting the stack down");
    let shutdown = io.shutdown();
    served.with_context(|| format!("serving {where_}"))?;
    shutdown.map_err(|e| anyhow!("{e}")).context("shutting the stack down (the volume may not be clean)")?;
    if ready.is_none() {
        writeln!(out, "unmounted {where_}; the stack is shut down")?;
    }
    Ok(())
}

/// What an unmount did, for the log.
pub fn describe(u: &Unmount) -> &'static str {
    match u {
        Unmount::Done => "unmounted",
        Unmount::Detached => {
            "the mount is busy: detached; it ends when its open files are closed (a second signal aborts it)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_comma_separated_and_checked() {
        let o = parse_options(&["ro,allow_other".into(), "default_permissions".into()]).unwrap();
        assert_eq!(
            o,
            Options { read_only: true, allow_other: true, default_permissions: true, writeback_cache: false }
        );
        assert!(parse_options(&["writeback_cache,rw".into()]).unwrap().writeback_cache);
        let e = parse_options(&["ro,nosuch".into()]).unwrap_err().to_string();
        assert!(e.contains("\"nosuch\"") && e.contains("writeback_cache"), "{e}");
        assert_eq!(parse_options(&[]).unwrap(), Options::default());
    }
}
