//! `irpstack mount` without `-f`: the command starts itself again in the foreground, in a
//! session of its own with its standard streams on /dev/null (or the log), and returns when
//! that process says on a pipe that the mount is ready — or why it failed.
//!
//! Re-executing rather than forking keeps the rule simple: the serving process is a fresh
//! one, which blocks its stop signals before any thread starts.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use super::mount::MountArgs;

/// The serving process's end of the pipe.
#[derive(Debug)]
pub struct Ready {
    pipe: std::sync::Mutex<Option<File>>,
}

impl Ready {
    /// The pipe the starting process passed as descriptor `fd` (which must be a pipe other
    /// than the standard streams: `--ready-fd` is not for people to set).
    pub fn from_fd(fd: i32) -> anyhow::Result<Ready> {
        if fd <= 2 || !is_pipe(fd) {
            bail!("--ready-fd {fd} is not a pipe (it is set by `irpstack mount` without -f for itself)");
        }
        // SAFETY: `fd` is an open pipe (checked above) that `start` below passed for this
        // process to own; nothing else here uses it.
        let file = unsafe { File::from_raw_fd(fd) };
        Ok(Ready { pipe: std::sync::Mutex::new(Some(file)) })
    }

    fn say(&self, line: &str) {
        let taken = self.pipe.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(mut pipe) = taken {
            let _ = pipe.write_all(line.as_bytes());
        }
    }

    /// The mount is ready: the starting process returns.
    pub fn ready(&self) {
        self.say("ready\n");
        // Keep no directory of the caller's busy.
        let _ = std::env::set_current_dir("/");
    }

    /// The mount failed with `message`.
    pub fn failed(&self, message: &str) {
        self.say(&format!("error: {message}\n"));
    }
}

/// Starts the serving process and waits for its word.
pub fn start(args: &MountArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (read_end, write_end) = pipe()?;
    let exe = std::env::current_exe().context("finding the irpstack binary")?;
    let fd = write_end.as_raw_fd();
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1)).arg("-f").arg("--ready-fd").arg(fd.to_string());
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    match &args.log_file() {
        Some(path) => {
            let log = File::options()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--log {}", path.display()))?;
            cmd.stderr(log);
        }
        None => {
            cmd.stderr(Stdio::null());
        }
    }
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // async-signal-safe functions (setsid, fcntl) on the descriptor number it captured.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("starting the serving process")?;
    drop(write_end);
    let mut word = String::new();
    File::from(read_end).read_to_string(&mut word).context("waiting for the mount")?;
    let pid = child.id();
    match word.lines().next() {
        Some("ready") => {
            let mp = args.mountpoint_shown();
            writeln!(
                out,
                "mounted {} on {mp} (pid {pid}); unmount with `fusermount3 -u {mp}` or `kill {pid}`",
                args.stack_shown()
            )?;
            Ok(())
        }
        Some(line) => {
            let _ = child.wait();
            bail!("{}", line.strip_prefix("error: ").unwrap_or(line))
        }
        None => {
            let status = child.wait().context("waiting for the serving process")?;
            bail!("the serving process ended before the mount was ready ({status}); see --log FILE")
        }
    }
}

/// Whether descriptor `fd` is open and a pipe.
fn is_pipe(fd: i32) -> bool {
    // SAFETY: all-zero is a valid `stat` to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into `st`, a live stat; a bad descriptor is an error return.
    unsafe { libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO }
}

/// A pipe, both ends close-on-exec.
fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("creating a pipe");
    }
    // SAFETY: pipe2 succeeded: both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
