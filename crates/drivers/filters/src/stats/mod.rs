//! `stats`: counts requests, bytes, errors and latency per major function, flush
//! included (nbdkit's stats filter and QEMU's `flush_operations` /
//! `flush_total_time_ns` report flushes; SPDK's bdev stats do not).
//!
//! Latency runs from this filter's dispatch to the IRP's completion below it: the
//! dispatch routine copies its location to the next, registers its completion routine
//! ([`Driver::completion`]) with the start time as context, and forwards. The routine
//! runs in whatever thread completes the IRP, so IRPs a lower driver pends and
//! completes later are measured too. Counters are per-major-function atomics (no lock
//! on the data path); histograms have log2 buckets from 1 µs to ~100 s (see
//! [`BUCKETS`]).
//!
//! With a `file`, a JSON report ([`StatsSnapshot::to_json`]) is written there every
//! `interval` by a background thread, when `IRP_MJ_SHUTDOWN` completes, and when the
//! filter is dropped — atomically (a temporary file renamed over it). At shutdown and
//! drop the table ([`StatsSnapshot`]'s `Display`) also goes to the log. With `prometheus`,
//! the same counters go to that file in the Prometheus text exposition format
//! ([`StatsSnapshot::to_prometheus`]), at the same times: point node_exporter's textfile
//! collector at its directory.

mod histogram;
mod prometheus;
mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use irp::{
    Characteristics, Completion, DeviceBuilder, DeviceRef, Driver, InvokeOn, Irp, MajorFunction, Parameters,
    Status, default_dispatch,
};

pub use histogram::{BUCKETS, LatencySnapshot, bucket_upper_ns};
pub use report::{OpSnapshot, StatsSnapshot, op_name};

/// Stats settings.
#[derive(Clone, Debug)]
pub struct StatsOptions {
    /// Write a JSON report here every `interval`, at shutdown and when dropped.
    pub file: Option<PathBuf>,
    /// Write the counters in the Prometheus text exposition format here, at the same times
    /// ([`StatsSnapshot::to_prometheus`]).
    pub prometheus: Option<PathBuf>,
    /// How often to write the file; zero writes it only at shutdown and drop.
    pub interval: Duration,
}

impl Default for StatsOptions {
    fn default() -> Self {
        StatsOptions { file: None, prometheus: None, interval: Duration::from_secs(10) }
    }
}

impl StatsOptions {
    /// Reads `file=PATH` and `interval=DURATION` (`10s`, `500ms`, `0`).
    pub fn from_params<I, K, V>(params: I) -> Result<StatsOptions, StatsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut options = StatsOptions::default();
        for (key, value) in params {
            let (key, value) = (key.as_ref().trim(), value.as_ref().trim());
            let bad = |reason: String| StatsError::BadValue {
                key: key.to_owned(),
                value: value.to_owned(),
                reason,
            };
            match key {
                "file" if value.is_empty() => return Err(bad("expected a path".into())),
                "file" => options.file = Some(PathBuf::from(value)),
                "prometheus" if value.is_empty() => return Err(bad("expected a path".into())),
                "prometheus" => options.prometheus = Some(PathBuf::from(value)),
                "interval" => {
                    let interval = crate::fault::parse_duration(value).map_err(bad)?;
                    if !interval.is_zero()
                        && !(Duration::from_millis(1)..=Duration::from_secs(24 * 3600)).contains(&interval)
                    {
                        return Err(bad("expected 1ms to 24h, or 0 (only at shutdown)".into()));
                    }
                    options.interval = interval;
                }
                _ => return Err(StatsError::UnknownKey { key: key.to_owned() }),
            }
        }
        Ok(options)
    }
}

/// Errors creating a stats filter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// A key the stats filter does not know.
    #[error("stats: unknown key {key:?} (known: file, prometheus, interval)")]
    UnknownKey {
        /// The key given.
        key: String,
    },
    /// A value that cannot be read.
    #[error("stats: {key}={value:?}: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The report file cannot be written.
    #[error("stats: cannot write the report file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The device could not be built.
    #[error(transparent)]
    Device(#[from] irp::DeviceError),
}

/// Major function codes fit below this (`IRP_MJ_WRITE_ZEROES` is 0x1d).
const CODES: usize = 32;

/// One major function's counters, on its own cache lines.
#[derive(Debug, Default)]
#[repr(align(64))]
struct OpStats {
    dispatched: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    latency: histogram::Histogram,
}

#[derive(Debug)]
struct Inner {
    name: String,
    file: Option<PathBuf>,
    prometheus: Option<PathBuf>,
    created: Instant,
    ops: [OpStats; CODES],
}

/// Nanoseconds since the first call in this process, as a completion context
/// (truncated to `usize`; differences stay right for spans under ~4 s on 32-bit).
fn clock() -> usize {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as usize
}

impl Inner {
    fn snapshot(&self) -> StatsSnapshot {
        let ops = MajorFunction::ALL
            .iter()
            .map(|&major| {
                let o = &self.ops[major as usize];
                let latency = o.latency.snapshot();
                let dispatched = o.dispatched.load(Ordering::Relaxed);
                OpSnapshot {
                    major,
                    count: latency.count,
                    in_flight: dispatched.saturating_sub(latency.count),
                    bytes: o.bytes.load(Ordering::Relaxed),
                    errors: o.errors.load(Ordering::Relaxed),
                    latency,
                }
            })
            .collect();
        StatsSnapshot { device: self.name.clone(), elapsed: self.created.elapsed(), ops }
    }

    /// Writes the report files (JSON, Prometheus) there are; the path of the one that
    /// failed with its error.
    fn write_file(&self) -> Result<(), (PathBuf, std::io::Error)> {
        if self.file.is_none() && self.prometheus.is_none() {
            return Ok(());
        }
        let snapshot = self.snapshot();
        if let Some(path) = &self.file {
            write_atomically(path, &snapshot.to_json()).map_err(|e| (path.clone(), e))?;
        }
        if let Some(path) = &self.prometheus {
            write_atomically(path, &snapshot.to_prometheus()).map_err(|e| (path.clone(), e))?;
        }
        Ok(())
    }

    /// The final report: the table to the log, and the file.
    fn report(&self, why: &str) {
        tracing::info!(device = %self.name, "stats at {why}:\n{}", self.snapshot());
        if let Err((path, e)) = self.write_file() {
            tracing::warn!(device = %self.name, "stats: cannot write the report file {}: {e}", path.display());
        }
    }

    fn record(&self, irp: &Irp, elapsed_ns: u64) {
        let o = &self.ops[irp.major_function() as usize];
        let st = irp.io_status();
        if st.status.is_success() {
            let bytes = match *irp.parameters() {
                Parameters::Read { .. } | Parameters::Write { .. } => st.information,
                Parameters::Discard { length, .. } | Parameters::WriteZeroes { length, .. } => length,
                _ => 0,
            };
            if bytes > 0 {
                o.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
        } else {
            o.errors.fetch_add(1, Ordering::Relaxed);
        }
        o.latency.record(elapsed_ns);
    }
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Stops the periodic writer.
#[derive(Debug, Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

#[derive(Debug)]
struct Writer {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts a thread that writes the file every `interval`; it holds the stats only
    /// weakly, while writing.
    fn start(inner: &Arc<Inner>, interval: Duration) -> std::io::Result<Writer> {
        let stop = Arc::new(Stop::default());
        let weak: Weak<Inner> = Arc::downgrade(inner);
        let signal = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("stats-writer".into()).spawn(move || {
            loop {
                {
                    // The flag is tested before waiting: a stop that came while the
                    // report was being written is not waited out for a whole interval.
                    let stopped = signal.stopped.lock().unwrap_or_else(PoisonError::into_inner);
                    let (stopped, _) = signal
                        .wake
                        .wait_timeout_while(stopped, interval, |stopped| !*stopped)
                        .unwrap_or_else(PoisonError::into_inner);
                    if *stopped {
                        return;
                    }
                }
                let Some(inner) = weak.upgrade() else { return };
                if let Err((path, e)) = inner.write_file() {
                    tracing::warn!(device = %inner.name, "stats: cannot write the report file {}: {e}", path.display());
                }
            }
        })?;
        Ok(Writer { stop, thread: Some(thread) })
    }

    fn stop(&mut self) {
        *self.stop.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.stop.wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("stats: the report writer panicked");
        }
    }
}

/// The statistics filter driver.
#[derive(Debug)]
pub struct Stats {
    inner: Arc<Inner>,
    writer: Option<Writer>,
}

impl Stats {
    /// Creates a stats filter called `name` and attaches it on top of `lower`'s stack.
    /// With a file, writes a first report at once, so that an unwritable path fails
    /// here rather than at shutdown.
    pub fn create(name: &str, options: StatsOptions, lower: &DeviceRef) -> Result<DeviceRef, StatsError> {
        let inner = Arc::new(Inner {
            name: name.to_owned(),
            file: options.file.clone(),
            prometheus: options.prometheus.clone(),
            created: Instant::now(),
            ops: std::array::from_fn(|_| OpStats::default()),
        });
        inner.write_file().map_err(|(path, source)| StatsError::File { path, source })?;
        let writes = options.file.is_some() || options.prometheus.is_some();
        let writer = if writes && !options.interval.is_zero() {
            let path = options.file.clone().or_else(|| options.prometheus.clone()).unwrap_or_default();
            Some(
                Writer::start(&inner, options.interval)
                    .map_err(|source| StatsError::File { path, source })?,
            )
        } else {
            None
        };
        let stats = Stats { inner, writer };
        // SHUTDOWN_NOTIFY: the final report is written when IRP_MJ_SHUTDOWN completes.
        Ok(DeviceBuilder::new(name).characteristics(Characteristics::SHUTDOWN_NOTIFY).attach(stats, lower)?)
    }

    /// What was measured so far (readable while requests are in flight).
    pub fn snapshot(&self) -> StatsSnapshot {
        self.inner.snapshot()
    }

    /// Writes the report files now (nothing without one).
    pub fn write_report(&self) -> std::io::Result<()> {
        self.inner.write_file().map_err(|(_, e)| e)
    }

    fn handle(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        let Some(lower) = device.lower() else { return default_dispatch(device, irp) };
        self.inner.ops[irp.major_function() as usize].dispatched.fetch_add(1, Ordering::Relaxed);
        irp.copy_current_location_to_next();
        irp.set_completion_routine(device, clock(), InvokeOn::ALWAYS);
        lower.call(irp)
    }
}

impl Drop for Stats {
    fn drop(&mut self) {
        if let Some(writer) = &mut self.writer {
            writer.stop();
        }
        self.inner.report("drop");
    }
}

impl Driver for Stats {
    /// Every major function is counted and timed the same way.
    fn dispatch(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.handle(device, irp)
    }

    fn completion(&self, _: &DeviceRef, irp: Irp, context: usize) -> Completion {
        let elapsed = clock().wrapping_sub(context) as u64;
        self.inner.record(&irp, elapsed);
        if irp.major_function() == MajorFunction::Shutdown {
            self.inner.report("shutdown");
        }
        Completion::Continue(irp)
    }
}
