//! Support for the workspace's test suites: reporting a skipped test, knowing the
//! emulator a cross-built test runs under, and injecting panics into driver threads
//! ([`panics`]).
//!
//! libtest has no "skipped" outcome and captures what passing tests print, so a test that
//! cannot run (a tool is not installed, the file system lacks a feature, emulation cannot do
//! it) would pass silently. [`skip`] makes it visible: `scripts/test.sh` sets
//! [`SKIP_LOG_ENV`] to a file, every skip appends a line to it, and the script lists them
//! after the run ("N tests skipped:").

use std::fmt::Display;
use std::io::Write;

/// The environment variable naming the file [`skip`] appends its line to.
pub const SKIP_LOG_ENV: &str = "IRPSTACK_SKIP_LOG";

/// The environment variable holding the emulator command (program and arguments, separated
/// by spaces) a cross-built test runs under: `scripts/test.sh` sets it to its
/// `qemu-aarch64 ...` runner for the aarch64 run.
pub const EMULATOR_ENV: &str = "IRPSTACK_EMULATOR";

/// The emulator command this test runs under ([`EMULATOR_ENV`]), program first; `None` when
/// it runs natively. A test that starts its own binary again must start it through this
/// (user-mode qemu cannot `exec` a foreign binary without binfmt_misc).
pub fn emulator() -> Option<Vec<String>> {
    let command = std::env::var(EMULATOR_ENV).ok()?;
    let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
    if words.is_empty() { None } else { Some(words) }
}

/// Reports that the calling test skips its checks because of `reason`; the test then
/// returns (and passes, as libtest knows no other way).
///
/// Prints `SKIP: <test binary> <test>: <reason>` (shown with `--nocapture`) and appends the
/// same line to the file [`SKIP_LOG_ENV`] names, if it is set. The test's name is its
/// thread's name, which libtest sets to the test path.
pub fn skip(reason: impl Display) {
    let line = format!("SKIP: {} {}: {reason}", test_binary(), std::thread::current().name().unwrap_or("?"));
    println!("{line}");
    let Some(path) = std::env::var_os(SKIP_LOG_ENV) else { return };
    // One `write` per line with O_APPEND: lines from parallel tests and test binaries do not
    // interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        eprintln!("{SKIP_LOG_ENV}={}: {e}", path.to_string_lossy());
    }
}

/// The running test binary's name without cargo's hash (`file_disk` for
/// `file_disk-0123abcd`).
fn test_binary() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe.as_deref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned());
    let stem = stem.unwrap_or_else(|| "?".to_owned());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
        _ => stem,
    }
}

/// Panics injected by tests: the places where threads that hold IRPs (a disk's workers,
/// the NBD client's reader and writer, a cache's lazy writer, the NBD server's connection
/// threads) call [`panic_point`](panics::panic_point), so that a test can prove a panic
/// there completes every IRP the thread holds with an error and leaves no caller waiting.
///
/// Nothing is armed outside tests; an unarmed point costs one relaxed atomic load.
pub mod panics {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, PoisonError};

    /// Whether any point is armed (the fast path of [`panic_point`]).
    static ARMED: AtomicBool = AtomicBool::new(false);
    /// Armed points: (point, instance, panics left).
    static POINTS: Mutex<Vec<(String, String, usize)>> = Mutex::new(Vec::new());

    /// Makes the next `times` passes through `panic_point(point, instance)` panic. Tests
    /// pass an `instance` only their own objects carry (a device name) so that tests
    /// running in parallel do not trip over each other's points.
    pub fn arm(point: &str, instance: &str, times: usize) {
        let mut points = POINTS.lock().unwrap_or_else(PoisonError::into_inner);
        points.push((point.to_owned(), instance.to_owned(), times));
        ARMED.store(true, Ordering::SeqCst);
    }

    /// How many armed panics of `point`/`instance` have not fired yet.
    pub fn pending(point: &str, instance: &str) -> usize {
        let points = POINTS.lock().unwrap_or_else(PoisonError::into_inner);
        points.iter().filter(|(p, i, _)| p == point && i == instance).map(|(_, _, n)| n).sum()
    }

    /// A place where a test may inject a panic: panics if `point` is armed for `instance`.
    #[track_caller]
    pub fn panic_point(point: &str, instance: &str) {
        if !ARMED.load(Ordering::Relaxed) {
            return;
        }
        let fire = {
            let mut points = POINTS.lock().unwrap_or_else(PoisonError::into_inner);
            let found = points.iter_mut().find(|(p, i, n)| p == point && i == instance && *n > 0);
            let fire = found.map(|(_, _, n)| *n -= 1).is_some();
            points.retain(|(_, _, n)| *n > 0);
            if points.is_empty() {
                ARMED.store(false, Ordering::SeqCst);
            }
            fire
        };
        if fire {
            panic!("injected panic at {point} ({instance})");
        }
    }
}
