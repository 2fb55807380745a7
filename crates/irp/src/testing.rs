//! Support for the workspace's test suites: reporting a skipped test, and knowing the
//! emulator a cross-built test runs under.
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
