//! File times: seconds and nanoseconds since the Unix epoch.

/// Seconds between 1601-01-01 (NT's epoch) and 1970-01-01 (Unix's).
const NT_EPOCH_OFFSET_SECS: i64 = 11_644_473_600;

/// A file time: seconds since 1970-01-01 UTC (negative before) and nanoseconds, as POSIX
/// `struct timespec` and ext4 keep them. NT counts 100-nanosecond intervals since 1601
/// (`LARGE_INTEGER` times of `FILE_BASIC_INFORMATION`); [`FileTime::to_nt`] converts.
#[doc(alias = "LARGE_INTEGER")]
#[doc(alias = "timespec")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds, below 1 000 000 000.
    pub nanos: u32,
}

impl FileTime {
    /// The Unix epoch.
    pub const EPOCH: FileTime = FileTime { secs: 0, nanos: 0 };

    /// `secs` seconds and `nanos` nanoseconds (nanoseconds above a second carry over).
    pub const fn new(secs: i64, nanos: u32) -> FileTime {
        FileTime { secs: secs + (nanos / 1_000_000_000) as i64, nanos: nanos % 1_000_000_000 }
    }

    /// The current time.
    pub fn now() -> FileTime {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => FileTime { secs: d.as_secs() as i64, nanos: d.subsec_nanos() },
            Err(e) => {
                let d = e.duration();
                FileTime::new(-(d.as_secs() as i64) - 1, 1_000_000_000 - d.subsec_nanos())
            }
        }
    }

    /// NT's form: 100-nanosecond intervals since 1601-01-01 UTC (saturating).
    pub fn to_nt(self) -> i64 {
        (self.secs.saturating_add(NT_EPOCH_OFFSET_SECS))
            .saturating_mul(10_000_000)
            .saturating_add(i64::from(self.nanos / 100))
    }

    /// From NT's form (100-nanosecond intervals since 1601).
    pub fn from_nt(nt: i64) -> FileTime {
        let secs = nt.div_euclid(10_000_000) - NT_EPOCH_OFFSET_SECS;
        let nanos = (nt.rem_euclid(10_000_000) * 100) as u32;
        FileTime { secs, nanos }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_times_round_trip_at_100ns() {
        for t in [FileTime::EPOCH, FileTime::new(1_700_000_000, 123_456_700), FileTime::new(-1, 999_999_900)]
        {
            assert_eq!(FileTime::from_nt(t.to_nt()), t);
        }
        assert_eq!(FileTime::EPOCH.to_nt(), 116_444_736_000_000_000);
        assert_eq!(FileTime::new(1, 1_500_000_000), FileTime { secs: 2, nanos: 500_000_000 });
        assert!(FileTime::now() > FileTime::new(1_600_000_000, 0));
    }
}
