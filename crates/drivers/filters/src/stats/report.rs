//! A stats snapshot and its two renderings: a table for people, JSON for tools.

use std::fmt::{self, Write as _};
use std::time::Duration;

use irp::MajorFunction;

use super::histogram::{BUCKETS, LatencySnapshot, bucket_upper_ns};

/// What the stats filter measured for one major function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpSnapshot {
    /// The major function.
    pub major: MajorFunction,
    /// Requests completed.
    pub count: u64,
    /// Requests sent down and not completed yet.
    pub in_flight: u64,
    /// Bytes moved by successful requests: transferred for reads and writes, the range
    /// length for discards and write-zeroes.
    pub bytes: u64,
    /// Requests that completed with a failure status.
    pub errors: u64,
    /// Latency from dispatch to completion.
    pub latency: LatencySnapshot,
}

impl OpSnapshot {
    /// An empty record for `major`.
    pub fn empty(major: MajorFunction) -> OpSnapshot {
        OpSnapshot { major, count: 0, in_flight: 0, bytes: 0, errors: 0, latency: LatencySnapshot::default() }
    }

    fn is_idle(&self) -> bool {
        self.count == 0 && self.in_flight == 0
    }
}

/// The short name used in the table and as JSON key (`read`, `write`, `flush`,
/// `discard`, `write_zeroes`, `shutdown`, ...).
pub fn op_name(major: MajorFunction) -> &'static str {
    match major {
        MajorFunction::Create => "create",
        MajorFunction::Close => "close",
        MajorFunction::Read => "read",
        MajorFunction::Write => "write",
        MajorFunction::QueryInformation => "query_information",
        MajorFunction::SetInformation => "set_information",
        MajorFunction::FlushBuffers => "flush",
        MajorFunction::QueryVolumeInformation => "query_volume_information",
        MajorFunction::DirectoryControl => "directory_control",
        MajorFunction::FileSystemControl => "file_system_control",
        MajorFunction::DeviceControl => "device_control",
        MajorFunction::InternalDeviceControl => "internal_device_control",
        MajorFunction::Shutdown => "shutdown",
        MajorFunction::Cleanup => "cleanup",
        MajorFunction::Discard => "discard",
        MajorFunction::WriteZeroes => "write_zeroes",
    }
}

/// The data path, always shown: the other major functions appear once used.
const ALWAYS_SHOWN: [MajorFunction; 5] = [
    MajorFunction::Read,
    MajorFunction::Write,
    MajorFunction::FlushBuffers,
    MajorFunction::Discard,
    MajorFunction::WriteZeroes,
];

/// Everything a stats filter measured, at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// The stats device's name.
    pub device: String,
    /// Time since the filter was created.
    pub elapsed: Duration,
    /// One record per major function, in [`MajorFunction::ALL`] order.
    pub ops: Vec<OpSnapshot>,
}

impl StatsSnapshot {
    /// The record of `major` (empty if absent).
    pub fn op(&self, major: MajorFunction) -> OpSnapshot {
        self.ops.iter().find(|o| o.major == major).copied().unwrap_or_else(|| OpSnapshot::empty(major))
    }

    /// The flush record.
    pub fn flush(&self) -> OpSnapshot {
        self.op(MajorFunction::FlushBuffers)
    }

    pub(super) fn shown_ops(&self) -> impl Iterator<Item = &OpSnapshot> {
        self.ops.iter().filter(|o| ALWAYS_SHOWN.contains(&o.major) || !o.is_idle())
    }

    /// The snapshot as one JSON object (for `irpstack stats` and scripts):
    ///
    /// ```text
    /// {"device":"s","elapsed_ns":N,
    ///  "histogram":{"unit":"ns","bucket_upper_ns":[1024,2048,...,null]},
    ///  "ops":{"read":{"count":N,"in_flight":N,"bytes":N,"errors":N,
    ///                 "latency_ns":{"min":N,"max":N,"sum":N,"mean":N,"p50":N,"p90":N,"p99":N,
    ///                               "buckets":[N,...]}}, ...},
    ///  "flush":{"count":N,"in_flight":N,"errors":N,"latency_ns":{...}}}
    /// ```
    ///
    /// Every major function that was used appears in `ops`, and the data path
    /// (read, write, flush, discard, write_zeroes) always does. Latency statistics
    /// are `null` before the first request; the last bucket has no upper bound.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str("{\"device\":");
        json_string(&mut out, &self.device);
        let _ = write!(out, ",\"elapsed_ns\":{},", self.elapsed.as_nanos());
        out.push_str("\"histogram\":{\"unit\":\"ns\",\"bucket_upper_ns\":[");
        for i in 0..BUCKETS {
            let sep = if i == 0 { "" } else { "," };
            let _ = match bucket_upper_ns(i) {
                Some(n) => write!(out, "{sep}{n}"),
                None => write!(out, "{sep}null"),
            };
        }
        out.push_str("]},\"ops\":{");
        for (i, op) in self.shown_ops().enumerate() {
            let _ = write!(out, "{}\"{}\":", if i == 0 { "" } else { "," }, op_name(op.major));
            json_op(&mut out, op, true);
        }
        out.push_str("},\"flush\":");
        json_op(&mut out, &self.flush(), false);
        out.push('}');
        out
    }
}

fn json_op(out: &mut String, op: &OpSnapshot, with_bytes: bool) {
    let _ = write!(out, "{{\"count\":{},\"in_flight\":{},", op.count, op.in_flight);
    if with_bytes {
        let _ = write!(out, "\"bytes\":{},", op.bytes);
    }
    let _ = write!(out, "\"errors\":{},\"latency_ns\":", op.errors);
    json_latency(out, &op.latency);
    out.push('}');
}

fn json_latency(out: &mut String, l: &LatencySnapshot) {
    let ns = |d: Option<Duration>| d.map_or_else(|| "null".to_owned(), |d| d.as_nanos().to_string());
    let some = |n: u64| if l.count == 0 { "null".to_owned() } else { n.to_string() };
    let _ = write!(
        out,
        "{{\"min\":{},\"max\":{},\"sum\":{},\"mean\":{},\"p50\":{},\"p90\":{},\"p99\":{},\"buckets\":[",
        some(l.min_ns),
        some(l.max_ns),
        l.sum_ns,
        ns(l.mean()),
        ns(l.p50()),
        ns(l.p90()),
        ns(l.p99())
    );
    for (i, n) in l.buckets.iter().enumerate() {
        let _ = write!(out, "{}{n}", if i == 0 { "" } else { "," });
    }
    out.push_str("]}");
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `850ns`, `12.3µs`, `4.56ms`, `1.23s`; `-` for none.
fn human(d: Option<Duration>) -> String {
    let Some(d) = d else { return "-".to_owned() };
    let ns = d.as_nanos() as f64;
    let (value, unit) = match ns {
        n if n < 1e3 => return format!("{}ns", d.as_nanos()),
        n if n < 1e6 => (n / 1e3, "µs"),
        n if n < 1e9 => (n / 1e6, "ms"),
        n => (n / 1e9, "s"),
    };
    let digits = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.digits$}{unit}")
}

/// The human table: one line per major function (count, bytes, errors, mean, p50,
/// p99 latency) and a flush line.
impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "stats {:?} over {:.3}s", self.device, self.elapsed.as_secs_f64())?;
        writeln!(
            f,
            "{:<18} {:>10} {:>14} {:>8} {:>9} {:>9} {:>9}",
            "op", "count", "bytes", "errors", "mean", "p50", "p99"
        )?;
        for op in self.shown_ops() {
            let l = &op.latency;
            writeln!(
                f,
                "{:<18} {:>10} {:>14} {:>8} {:>9} {:>9} {:>9}",
                op_name(op.major),
                op.count,
                op.bytes,
                op.errors,
                human(l.mean()),
                human(l.p50()),
                human(l.p99())
            )?;
        }
        let fl = self.flush();
        let l = &fl.latency;
        write!(
            f,
            "flush: {} completed, {} failed, {} in flight; latency mean {}, p50 {}, p90 {}, p99 {}, max {}",
            fl.count,
            fl.errors,
            fl.in_flight,
            human(l.mean()),
            human(l.p50()),
            human(l.p90()),
            human(l.p99()),
            human((l.count > 0).then(|| Duration::from_nanos(l.max_ns)))
        )
    }
}
