//! `irpstack`: the command-line front end of the irpstack I/O manager and driver stack.

mod alloc_counter;
mod bench;
mod crash_test;
mod crash_test_fs;
mod docs;
mod fs_tool;
mod fsck;
mod malloc;
mod mkfs;
mod mount;
mod mount_daemon;
mod mount_signals;
mod progress;
mod serve;
mod stats;
mod sync;
mod volume_stack;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: alloc_counter::CountingAllocator = alloc_counter::CountingAllocator;

const LONG_ABOUT: &str = "\
irpstack is a user-space I/O manager and driver stack built on the Windows NT I/O model.

A request travels as an I/O request packet (IRP) down a stack of drivers (filters over a
device), each with its own stack location, and completes bottom-up through completion
routines. A FlushBuffers IRP is the promise that everything written before it is durable.

Logging goes to stderr: warnings and errors by default, -v for what happens (connections,
mounts, recovery), -vv for debugging, -vvv for everything, -q for errors only. RUST_LOG, when
set, overrides them (e.g. RUST_LOG=nbd_server=debug). The I/O verifier is controlled by
IRPSTACK_VERIFIER=off|record|strict (default: strict in debug builds, off in release builds).";

/// A user-space I/O manager and driver stack built on the NT I/O model.
#[derive(Debug, Parser)]
#[command(name = "irpstack", version, long_about = LONG_ABOUT, arg_required_else_help = true)]
struct Cli {
    /// More log output on stderr: -v info, -vv debug, -vvv trace (RUST_LOG overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Only errors on stderr (RUST_LOG overrides).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure the I/O path: IRP dispatch through driver stacks, cache flushes for persistence.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(docs::CompletionsArgs),
    /// Prove the flush promise of a stack (or, with --fs, the file system's crash
    /// consistency): run workloads over a crash-simulation disk, crash at every point, and
    /// check what survives.
    CrashTest(crash_test::CrashTestArgs),
    /// List every driver a stack spec can name, with its parameters and defaults.
    Drivers,
    /// Use the ext4 file system on a stack without a kernel mount: ls, stat, cat, get.
    Fs(fs_tool::FsArgs),
    /// Check the ext4 volume on a stack, read-only (exit status as e2fsck: 0, 4, 8).
    Fsck(fsck::FsckArgs),
    /// Write man pages (irpstack.1 and one per command) into a directory.
    Man(docs::ManArgs),
    /// Format the device of a stack as ext4.
    Mkfs(mkfs::MkfsArgs),
    /// Mount the file system of a stack in the kernel (FUSE): every request becomes IRPs.
    Mount(mount::MountArgs),
    /// Serve device stacks over NBD (qemu-io, nbdinfo, nbdcopy, fio, a VM can connect).
    Serve(serve::ServeArgs),
    /// Show the report a `stats(file=FILE)` layer writes while it runs and at shutdown.
    Stats(stats::StatsArgs),
    /// Make everything written on irpstack mounts durable (the kernel sends FUSE no syncfs).
    Sync(sync::SyncArgs),
}

fn main() -> ExitCode {
    // Usage errors, --help and --version are reported by clap (exit code 2, or 0).
    let cli = Cli::parse();
    init_tracing(log_level(cli.verbose, cli.quiet));
    malloc::tune();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Fsck(args) => return fsck_exit(fsck::run(&args, &mut out), &mut out),
        Command::Bench(command) => bench::run(command, &mut out),
        Command::Completions(args) => docs::completions::<Cli>(&args, &mut out),
        Command::CrashTest(args) => crash_test::run(&args, &mut out),
        Command::Drivers => {
            write!(out, "{}", stack::DriverRegistry::builtin().help()).map_err(anyhow::Error::from)
        }
        Command::Fs(args) => fs_tool::run(&args, &mut out),
        Command::Man(args) => docs::man_pages::<Cli>(&args, &mut out),
        Command::Mkfs(args) => mkfs::run(&args, &mut out),
        Command::Mount(args) => mount::run(&args, &mut out),
        Command::Serve(args) => serve::run(&args, &mut out),
        Command::Stats(args) => stats::run(&args, &mut out),
        Command::Sync(args) => sync::run(&args, &mut out),
    }
    .and_then(|()| out.flush().map_err(anyhow::Error::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // Spec errors carry their own "error: " (they print like a compiler's).
            let text = format!("{error:#}");
            eprintln!("irpstack: error: {}", text.strip_prefix("error: ").unwrap_or(&text));
            ExitCode::FAILURE
        }
    }
}

/// `fsck`'s exit status: its verdict (0 clean, 4 errors), or 8 when it could not check.
fn fsck_exit(result: anyhow::Result<u8>, out: &mut dyn Write) -> ExitCode {
    let result = result.and_then(|code| out.flush().map(|()| code).map_err(anyhow::Error::from));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let text = format!("{error:#}");
            eprintln!("irpstack: error: {}", text.strip_prefix("error: ").unwrap_or(&text));
            ExitCode::from(fs::fsck::EXIT_OPERATIONAL as u8)
        }
    }
}

/// The log level `-v` (repeated) and `-q` ask for: warn by default.
fn log_level(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    }
}

/// Logs to stderr with the filter in `RUST_LOG`, or at `level` when it is unset or invalid;
/// up to info, fuser's session only at `error` (it warns of a failed unmount at every end of
/// a mount that `fusermount3 -u` or `umount` already unmounted).
fn init_tracing(level: &str) {
    let quiet_fuser = matches!(level, "error" | "warn" | "info");
    let default = if quiet_fuser { format!("{level},fuser::session=error") } else { level.to_owned() };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Whether the output was cut short by its reader (`irpstack ... | head`): not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
