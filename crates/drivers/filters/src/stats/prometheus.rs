//! The snapshot in the Prometheus text exposition format (version 0.0.4), as
//! node_exporter's textfile collector reads it: one family per measure, labelled with the
//! stats device and the major function; latency as a histogram in seconds.

use std::fmt::Write as _;

use super::histogram::{BUCKETS, bucket_upper_ns};
use super::report::{OpSnapshot, StatsSnapshot, op_name};

impl StatsSnapshot {
    /// The counters as Prometheus metrics: `irpstack_requests_total`,
    /// `irpstack_request_errors_total`, `irpstack_bytes_total`, `irpstack_requests_in_flight`,
    /// `irpstack_request_duration_seconds` (histogram) per major function that was used (the
    /// data path always), and `irpstack_uptime_seconds`.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let device = escape_label(&self.device);
        let shown: Vec<&OpSnapshot> = self.shown_ops().collect();
        let family = |out: &mut String,
                      name: &str,
                      kind: &str,
                      help: &str,
                      value: &dyn Fn(&OpSnapshot) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for op in &shown {
                let _ =
                    writeln!(out, "{name}{{device=\"{device}\",op=\"{}\"}} {}", op_name(op.major), value(op));
            }
        };
        family(
            &mut out,
            "irpstack_requests_total",
            "counter",
            "Requests completed, by major function.",
            &|o| o.count,
        );
        family(
            &mut out,
            "irpstack_request_errors_total",
            "counter",
            "Requests that completed with a failure status.",
            &|o| o.errors,
        );
        family(
            &mut out,
            "irpstack_bytes_total",
            "counter",
            "Bytes moved by successful requests (the range for discards and write-zeroes).",
            &|o| o.bytes,
        );
        family(
            &mut out,
            "irpstack_requests_in_flight",
            "gauge",
            "Requests sent down, not completed yet.",
            &|o| o.in_flight,
        );
        let name = "irpstack_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} Time from this filter's dispatch to completion below it.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for op in &shown {
            let labels = format!("device=\"{device}\",op=\"{}\"", op_name(op.major));
            let mut cumulative = 0u64;
            for i in 0..BUCKETS {
                cumulative += op.latency.buckets[i];
                let le = bucket_upper_ns(i).map_or("+Inf".to_owned(), seconds);
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", seconds(op.latency.sum_ns));
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", op.latency.count);
        }
        let _ = writeln!(out, "# HELP irpstack_uptime_seconds Time since the stats filter was created.");
        let _ = writeln!(out, "# TYPE irpstack_uptime_seconds gauge");
        let _ =
            writeln!(out, "irpstack_uptime_seconds{{device=\"{device}\"}} {:.3}", self.elapsed.as_secs_f64());
        out
    }
}

/// Nanoseconds as seconds, exactly (no float rounding in bucket bounds).
fn seconds(ns: u64) -> String {
    let s = format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_owned()
}

/// A label value with `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::LatencySnapshot;
    use irp::MajorFunction;
    use std::time::Duration;

    #[test]
    fn families_buckets_and_labels() {
        let mut flush = OpSnapshot::empty(MajorFunction::FlushBuffers);
        flush.count = 3;
        flush.latency =
            LatencySnapshot { count: 3, sum_ns: 3_000_000, min_ns: 1, max_ns: 2, ..Default::default() };
        flush.latency.buckets[0] = 1;
        flush.latency.buckets[10] = 2;
        let mut ops: Vec<OpSnapshot> = MajorFunction::ALL.iter().map(|&m| OpSnapshot::empty(m)).collect();
        let at = ops.iter().position(|o| o.major == MajorFunction::FlushBuffers).unwrap();
        ops[at] = flush;
        let s = StatsSnapshot { device: "st\"0".into(), elapsed: Duration::from_millis(1500), ops };
        let text = s.to_prometheus();
        assert!(text.contains("irpstack_requests_total{device=\"st\\\"0\",op=\"flush\"} 3\n"), "{text}");
        assert!(text.contains(
            "irpstack_request_duration_seconds_bucket{device=\"st\\\"0\",op=\"flush\",le=\"0.000001024\"} 1\n"
        ));
        assert!(text.contains("le=\"+Inf\"} 3\n"));
        assert!(
            text.contains("irpstack_request_duration_seconds_sum{device=\"st\\\"0\",op=\"flush\"} 0.003\n")
        );
        assert!(text.contains("irpstack_uptime_seconds{device=\"st\\\"0\"} 1.500\n"));
        // Unused functions off the data path are left out.
        assert!(!text.contains("op=\"create\""));
        assert_eq!(seconds(1_000_000_000), "1");
        assert_eq!(seconds(0), "0");
    }
}
