//! A lock-free latency histogram: log2 buckets of nanoseconds, plus count, sum,
//! min and max.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Number of buckets. Bucket 0 holds latencies below 1024 ns (~1 µs); bucket `i`
/// (1 ≤ i < 28) holds `[2^(9+i), 2^(10+i))` ns; the last holds everything from
/// 2^37 ns (~137 s) up. Bucket 27 ends at ~137 s, so ~100 s is still resolved.
pub const BUCKETS: usize = 29;

/// The exclusive upper bound of bucket `i` in nanoseconds; `None` for the last,
/// open-ended one.
pub fn bucket_upper_ns(i: usize) -> Option<u64> {
    (i + 1 < BUCKETS).then(|| 1u64 << (10 + i))
}

fn bucket_of(ns: u64) -> usize {
    let log2 = 63 - (ns | 1).leading_zeros() as usize;
    log2.saturating_sub(9).min(BUCKETS - 1)
}

/// The live histogram, updated with relaxed atomics from any thread.
#[derive(Debug)]
pub(super) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub(super) fn record(&self, ns: u64) {
        self.buckets[bucket_of(ns)].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(ns, Ordering::Relaxed);
        self.min.fetch_min(ns, Ordering::Relaxed);
        self.max.fetch_max(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Release);
    }

    pub(super) fn snapshot(&self) -> LatencySnapshot {
        let count = self.count.load(Ordering::Acquire);
        let min = self.min.load(Ordering::Relaxed);
        LatencySnapshot {
            count,
            sum_ns: self.sum.load(Ordering::Relaxed),
            min_ns: if min == u64::MAX { 0 } else { min },
            max_ns: self.max.load(Ordering::Relaxed),
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
        }
    }
}

/// Latencies of one major function at one moment.
///
/// Taken while requests complete, the fields may disagree by the few requests being
/// recorded at that instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySnapshot {
    /// Requests measured.
    pub count: u64,
    /// Sum of their latencies, in nanoseconds.
    pub sum_ns: u64,
    /// The shortest (0 when none).
    pub min_ns: u64,
    /// The longest (0 when none).
    pub max_ns: u64,
    /// Per-bucket counts; see [`BUCKETS`] for the bounds.
    pub buckets: [u64; BUCKETS],
}

impl LatencySnapshot {
    /// The mean latency, `None` before the first request.
    pub fn mean(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_nanos(self.sum_ns / self.count))
    }

    /// The `p`-quantile (`p` in 0..=1) from the buckets: the upper bound of the
    /// bucket holding it, clamped to `[min, max]` — an overestimate by less than a
    /// factor 2. `None` before the first request.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return None;
        }
        // The epsilon keeps 0.9 * 100 from rounding up to rank 91.
        let rank = ((p.clamp(0.0, 1.0) * total as f64 - 1e-9).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let upper = bucket_upper_ns(i).unwrap_or(self.max_ns);
                return Some(Duration::from_nanos(upper.min(self.max_ns).max(self.min_ns)));
            }
        }
        Some(Duration::from_nanos(self.max_ns))
    }

    /// The median.
    pub fn p50(&self) -> Option<Duration> {
        self.percentile(0.50)
    }

    /// The 90th percentile.
    pub fn p90(&self) -> Option<Duration> {
        self.percentile(0.90)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Option<Duration> {
        self.percentile(0.99)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_log2_from_one_microsecond() {
        assert_eq!((bucket_of(0), bucket_of(1023), bucket_of(1024), bucket_of(2047)), (0, 0, 1, 1));
        assert_eq!(bucket_of(1 << 36), 27);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_upper_ns(0), Some(1024));
        assert_eq!(bucket_upper_ns(BUCKETS - 1), None);
    }

    #[test]
    fn percentiles_come_from_buckets_within_a_factor_two() {
        let h = Histogram::default();
        for _ in 0..90 {
            h.record(10_000); // bucket [8192, 16384)
        }
        for _ in 0..10 {
            h.record(5_000_000);
        }
        let s = h.snapshot();
        assert_eq!((s.count, s.min_ns, s.max_ns), (100, 10_000, 5_000_000));
        assert_eq!(s.p50(), Some(Duration::from_nanos(16_384)));
        assert_eq!(s.p90(), Some(Duration::from_nanos(16_384)));
        assert_eq!(s.p99(), Some(Duration::from_nanos(5_000_000)), "clamped to the max");
        assert_eq!(s.mean(), Some(Duration::from_nanos(509_000)));
        assert_eq!(LatencySnapshot::default().p50(), None);
    }
}
