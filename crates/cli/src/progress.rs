//! Progress on long work, for people: a bar on a terminal (indicatif, on stderr), plain
//! lines on stderr when it is not one (a log, CI). stdout stays the command's output
//! (tables, JSON), untouched.
//!
//! - [`Steps`]: work in counted steps (benchmark rows).
//! - [`Ticker`]: when a long loop prints its next progress line.
//! - [`WriteBack`]: the write-back of every cache of an I/O manager's stacks while they shut
//!   down, in bytes, polled from the caches' dirty counts.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use filters::cache::Cache;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use irp::{DeviceRef, IoManager};

/// Whether progress is drawn as a bar (stderr is a terminal) or printed as lines.
fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Says when a progress line is due: every 2 s, or every `IRPSTACK_PROGRESS_MS`
/// milliseconds when that is set (tests use it).
pub struct Ticker {
    every: Duration,
    last: Instant,
}

impl Ticker {
    /// A ticker whose first line is due one period from now.
    pub fn new() -> Ticker {
        let every = std::env::var("IRPSTACK_PROGRESS_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(2), Duration::from_millis);
        Ticker { every, last: Instant::now() }
    }

    /// Whether a period has passed since the last line (and a line is now printed).
    pub fn due(&mut self) -> bool {
        if self.last.elapsed() < self.every {
            return false;
        }
        self.last = Instant::now();
        true
    }
}

/// Work in `total` steps: `what` names it (`bench io`).
pub struct Steps {
    what: &'static str,
    total: u64,
    done: u64,
    bar: Option<ProgressBar>,
}

impl Steps {
    /// Starts showing progress of `total` steps.
    pub fn new(what: &'static str, total: u64) -> Steps {
        let bar = on_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:24}] {pos}/{len} {wide_msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(what);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Steps { what, total, done: 0, bar }
    }

    /// Begins the next step, described by `msg`.
    pub fn begin(&mut self, msg: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.done);
                bar.set_message(msg.to_owned());
            }
            None => eprintln!("irpstack {}: [{}/{}] {msg}", self.what, self.done + 1, self.total),
        }
        self.done += 1;
    }

    /// Clears the bar (lines stay).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Shows the write-back of dirty caches while `manager`'s stacks shut down: start it
/// just before `IoManager::shutdown`, drop it after. Shows nothing when no cache is dirty
/// or the write-back is over within half a second.
pub struct WriteBack {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Every cache in the stacks registered with `manager`.
fn caches(manager: &IoManager) -> Vec<DeviceRef> {
    let mut found = Vec::new();
    for name in manager.names() {
        let mut device = manager.device(&name).ok();
        while let Some(d) = device {
            if d.driver_as::<Cache>().is_some() && !found.iter().any(|f: &DeviceRef| Arc::ptr_eq(f, &d)) {
                found.push(d.clone());
            }
            device = d.lower().cloned();
        }
    }
    found
}

fn dirty(caches: &[DeviceRef]) -> u64 {
    caches.iter().filter_map(|d| d.driver_as::<Cache>()).map(|c| c.usage().1).sum()
}

impl WriteBack {
    /// Starts watching the caches of `manager`'s stacks.
    pub fn watch(manager: &IoManager) -> WriteBack {
        let caches = caches(manager);
        let stop = Arc::new(AtomicBool::new(false));
        let initial = dirty(&caches);
        if initial == 0 {
            return WriteBack { stop, thread: None };
        }
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("irpstack-progress".into())
            .spawn(move || show(&caches, initial, &flag))
            .ok();
        WriteBack { stop, thread }
    }
}

fn show(caches: &[DeviceRef], initial: u64, stop: &AtomicBool) {
    let started = Instant::now();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let mut bar: Option<ProgressBar> = None;
    let mut last_line = started;
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(100));
        let left = dirty(caches).min(initial);
        let elapsed = started.elapsed();
        if elapsed < Duration::from_millis(500) {
            continue;
        }
        if on_terminal() {
            let b = bar.get_or_insert_with(|| {
                let b = ProgressBar::with_draw_target(Some(initial), ProgressDrawTarget::stderr());
                b.set_style(
                    ProgressStyle::with_template(
                        "writing caches back [{bar:24}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b
            });
            b.set_position(initial - left);
        } else if last_line.elapsed() >= Duration::from_secs(1) {
            last_line = Instant::now();
            eprintln!(
                "irpstack: writing caches back: {:.0} of {:.0} MiB written, {:.1} s",
                mib(initial - left),
                mib(initial),
                elapsed.as_secs_f64()
            );
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

impl Drop for WriteBack {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
