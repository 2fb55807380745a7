//! What the fault filter injects, and when: rules, and their key=value form.

use std::path::PathBuf;
use std::time::Duration;

use irp::{MajorFunction, Status};

use irp::units;

/// Errors configuring a fault filter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// A key the fault filter does not know.
    #[error("fault: unknown key {key:?} (known: {})", KEYS.join(", "))]
    UnknownKey {
        /// The key given.
        key: String,
    },
    /// A value that cannot be read.
    #[error("fault: {key}={value:?}: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong with it, and what is accepted.
        reason: String,
    },
    /// Settings that contradict each other, or a rule out of range.
    #[error("fault: {0}")]
    Invalid(String),
    /// The device could not be built.
    #[error(transparent)]
    Device(#[from] irp::DeviceError),
}

/// The longest `delay=` [`FaultOptions::from_params`] accepts.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// The keys [`FaultOptions::from_params`] accepts.
pub const KEYS: &[&str] =
    &["op", "ops", "error", "delay", "flush", "flushes", "rate", "nth", "after", "trigger", "seed"];

/// The errno names `error=` accepts, with the status each becomes
/// ([`Status::from_errno`]).
pub const ERRNO_NAMES: &[(&str, i32)] = &[
    ("EIO", libc::EIO),
    ("ENOSPC", libc::ENOSPC),
    ("EDQUOT", libc::EDQUOT),
    ("EPERM", libc::EPERM),
    ("EACCES", libc::EACCES),
    ("EROFS", libc::EROFS),
    ("ENOMEM", libc::ENOMEM),
    ("EINVAL", libc::EINVAL),
    ("ESHUTDOWN", libc::ESHUTDOWN),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("EBUSY", libc::EBUSY),
    ("EAGAIN", libc::EAGAIN),
    ("ENODEV", libc::ENODEV),
    ("ENXIO", libc::ENXIO),
    ("EBADMSG", libc::EBADMSG),
    ("EFBIG", libc::EFBIG),
    ("ECANCELED", libc::ECANCELED),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
];

/// The status `error=NAME` selects: an errno name from [`ERRNO_NAMES`], any case.
pub fn status_for_errno_name(name: &str) -> Option<Status> {
    let upper = name.trim().to_ascii_uppercase();
    ERRNO_NAMES.iter().find(|(n, _)| *n == upper).map(|&(_, errno)| Status::from_errno(errno))
}

/// A set of major functions a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct OpSet(u32);

impl OpSet {
    /// No request.
    pub const NONE: OpSet = OpSet(0);
    /// The data path: read, write, flush, discard and write-zeroes (`op=all`).
    pub const ALL: OpSet = OpSet::NONE
        .with(MajorFunction::Read)
        .with(MajorFunction::Write)
        .with(MajorFunction::FlushBuffers)
        .with(MajorFunction::Discard)
        .with(MajorFunction::WriteZeroes);

    /// The set holding only `major`.
    pub const fn only(major: MajorFunction) -> OpSet {
        OpSet::NONE.with(major)
    }

    /// This set and `major`.
    pub const fn with(self, major: MajorFunction) -> OpSet {
        OpSet(self.0 | 1 << (major as u8))
    }

    /// Whether `major` is in the set.
    pub const fn contains(self, major: MajorFunction) -> bool {
        self.0 & 1 << (major as u8) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses `write`, `read|flush`, `write+flush`, `all` (names: read, write,
    /// flush, discard or trim, zero or write-zeroes, all).
    pub fn parse(text: &str) -> Option<OpSet> {
        let mut set = OpSet::NONE;
        for name in text.split(['|', '+']).map(str::trim) {
            set = match name.to_ascii_lowercase().as_str() {
                "read" => set.with(MajorFunction::Read),
                "write" => set.with(MajorFunction::Write),
                "flush" => set.with(MajorFunction::FlushBuffers),
                "discard" | "trim" => set.with(MajorFunction::Discard),
                "zero" | "zeroes" | "write-zeroes" | "write_zeroes" => set.with(MajorFunction::WriteZeroes),
                "all" => OpSet(set.0 | OpSet::ALL.0),
                _ => return None,
            };
        }
        Some(set)
    }
}

/// What a rule does to a request it fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Complete the request with this status without forwarding it.
    Fail(Status),
    /// Wait this long, then forward the request.
    Delay(Duration),
    /// Complete a flush with success **without forwarding it**: the device lies about
    /// durability (`flush=drop`), for testing what an application or a crash checker
    /// makes of it. Flushes only.
    DropFlush,
}

/// Which flushes a rule over `op=flush` sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FlushKinds {
    /// Flushes that sync the device (no flags, or `FileDataSyncOnly`): what a client's
    /// flush (NBD `FLUSH`, `fsync`, `fdatasync`) is, and what `nth=3` means to a user.
    #[default]
    Syncing,
    /// Every flush, also those that ask for no device sync (`NoSync`, `FileDataOnly`):
    /// the cache's own write-behind flushes (eager write-behind, the lazy writer).
    All,
}

/// One rule: which requests, what to do, and when.
///
/// The rule numbers the requests it sees (its op set, while the filter is enabled and
/// the trigger file exists) 1, 2, 3...; request `n` fires when all of these hold:
/// `nth` is unset or `n == nth`; `after` is unset or `n > after`; and a draw from the
/// rule's seeded generator for `n` is below `rate`. The draw depends only on the seed
/// and `n`, so a run is reproducible for a given arrival order.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    /// The requests the rule applies to.
    pub ops: OpSet,
    /// Which flushes it applies to (when `ops` has flushes): by default only those that
    /// sync the device; the others pass as if the rule were not there.
    pub flushes: FlushKinds,
    /// What it does.
    pub action: FaultAction,
    /// Probability of firing, 0 to 1 (default 1).
    pub rate: f64,
    /// Fire only on the `nth` request (counted from 1).
    pub nth: Option<u64>,
    /// Fire only after the first `after` requests.
    pub after: Option<u64>,
    /// Active only while this file exists (checked on every request the rule sees).
    pub trigger: Option<PathBuf>,
    /// Seed of the generator behind `rate`.
    pub seed: u64,
}

impl FaultRule {
    /// Fail `ops` with `status`, every time (refine with the `with_*` builders).
    pub fn fail(ops: OpSet, status: Status) -> FaultRule {
        FaultRule {
            ops,
            flushes: FlushKinds::Syncing,
            action: FaultAction::Fail(status),
            rate: 1.0,
            nth: None,
            after: None,
            trigger: None,
            seed: 0,
        }
    }

    /// Delay `ops` by `delay`, every time.
    pub fn delay(ops: OpSet, delay: Duration) -> FaultRule {
        FaultRule { action: FaultAction::Delay(delay), ..FaultRule::fail(ops, Status::IO_DEVICE_ERROR) }
    }

    /// Complete every flush with success without forwarding it (see [`FaultAction::DropFlush`]).
    pub fn drop_flush() -> FaultRule {
        FaultRule {
            action: FaultAction::DropFlush,
            ..FaultRule::fail(OpSet::only(MajorFunction::FlushBuffers), Status::SUCCESS)
        }
    }

    /// Sets the probability of firing.
    pub fn with_rate(self, rate: f64) -> FaultRule {
        FaultRule { rate, ..self }
    }

    /// Fires only on the `nth` request.
    pub fn with_nth(self, nth: u64) -> FaultRule {
        FaultRule { nth: Some(nth), ..self }
    }

    /// Fires only after the first `after` requests.
    pub fn with_after(self, after: u64) -> FaultRule {
        FaultRule { after: Some(after), ..self }
    }

    /// Active only while `path` exists.
    pub fn with_trigger(self, path: impl Into<PathBuf>) -> FaultRule {
        FaultRule { trigger: Some(path.into()), ..self }
    }

    /// Seeds the generator behind `rate`.
    pub fn with_seed(self, seed: u64) -> FaultRule {
        FaultRule { seed, ..self }
    }

    /// Sets which flushes the rule applies to.
    pub fn with_flushes(self, flushes: FlushKinds) -> FaultRule {
        FaultRule { flushes, ..self }
    }

    /// Whether the rule looks at a request of `major` (a flush that syncs the device or
    /// not, `syncs_device`).
    pub(super) fn applies_to(&self, major: MajorFunction, syncs_device: bool) -> bool {
        self.ops.contains(major)
            && (major != MajorFunction::FlushBuffers || syncs_device || self.flushes == FlushKinds::All)
    }

    /// Checks the rule is consistent.
    pub fn validate(&self) -> Result<(), FaultError> {
        let invalid = |m: String| Err(FaultError::Invalid(m));
        if self.ops.is_empty() {
            return invalid("a rule needs at least one request type".into());
        }
        if !(0.0..=1.0).contains(&self.rate) {
            return invalid(format!("rate {} is not between 0 and 1", self.rate));
        }
        if self.nth == Some(0) {
            return invalid("nth counts from 1".into());
        }
        match self.action {
            FaultAction::DropFlush if self.ops != OpSet::only(MajorFunction::FlushBuffers) => {
                invalid("flush=drop applies to flushes only (op=flush)".into())
            }
            FaultAction::Fail(status) if status.is_success() => {
                invalid(format!("cannot fail a request with the success status {status}"))
            }
            _ => Ok(()),
        }
    }

    /// Whether the rule fires on the `n`th request it sees (from 1).
    pub(super) fn fires(&self, n: u64) -> bool {
        self.nth.is_none_or(|nth| n == nth)
            && self.after.is_none_or(|after| n > after)
            && (self.rate >= 1.0 || (self.rate > 0.0 && uniform(self.seed, n) < self.rate))
    }
}

/// A uniform draw in [0, 1) for request `n` of a rule seeded with `seed` (SplitMix64
/// of the `n`th state, so concurrent requests need no shared generator state).
fn uniform(seed: u64, n: u64) -> f64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The settings of a fault filter: its rules, applied in order. Delays add up; the
/// first rule that fails or drops a request ends it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultOptions {
    /// The rules.
    pub rules: Vec<FaultRule>,
}

impl FaultOptions {
    /// Options with one rule.
    pub fn rule(rule: FaultRule) -> FaultOptions {
        FaultOptions { rules: vec![rule] }
    }

    /// Builds one rule from key/value pairs (what a stack spec such as
    /// `fault(op=write,error=ENOSPC,nth=3)` gives). Keys:
    ///
    /// | key | value | default |
    /// |---|---|---|
    /// | `op` / `ops` | `read`, `write`, `flush`, `discard`, `zero`, `all`, joined by `\|` or `+` | `all` (`flush` with `flush=drop`) |
    /// | `error` | an errno name: EIO, ENOSPC, EPERM, EROFS, ... ([`ERRNO_NAMES`]) | EIO, when nothing else is asked |
    /// | `delay` | a duration: `5ms`, `1.5s`, `200us` | — |
    /// | `flush` | `drop`: lie about flushes | — |
    /// | `flushes` | `sync`: only flushes that sync the device (client flushes); `all`: also the `NoSync` / `FileDataOnly` flushes a cache sends on its own | `sync` |
    /// | `rate` | `0.1` or `10%` | `1` |
    /// | `nth`, `after` | counts | — |
    /// | `trigger` | a path | — |
    /// | `seed` | an integer (decimal or `0x` hex) | `0` |
    ///
    /// One rule per filter: stack two fault filters for two rules. `error`, `delay`
    /// and `flush=drop` exclude each other.
    pub fn from_params<I, K, V>(params: I) -> Result<FaultOptions, FaultError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut seen: Vec<String> = Vec::new();
        let (mut ops, mut error, mut delay, mut drop_flush) = (None, None, None, false);
        let mut rule = FaultRule::fail(OpSet::ALL, Status::IO_DEVICE_ERROR);
        for (key, value) in params {
            let (key, value) = (key.as_ref().trim(), value.as_ref().trim());
            let bad = |reason: &str| FaultError::BadValue {
                key: key.to_owned(),
                value: value.to_owned(),
                reason: reason.to_owned(),
            };
            let canonical = if key == "ops" { "op" } else { key };
            if seen.iter().any(|k| k == canonical) {
                return Err(bad("given twice"));
            }
            seen.push(canonical.to_owned());
            match canonical {
                "op" => {
                    ops = Some(OpSet::parse(value).ok_or_else(|| {
                        bad("expected read, write, flush, discard, zero or all, joined by | or +")
                    })?);
                }
                "error" => {
                    let names: Vec<&str> = ERRNO_NAMES.iter().map(|(n, _)| *n).collect();
                    let reason = format!("unknown errno name (accepted: {})", names.join(", "));
                    error = Some(status_for_errno_name(value).ok_or_else(|| bad(&reason))?);
                }
                "delay" => {
                    let d = parse_duration(value).map_err(|r| bad(&r))?;
                    if d > MAX_DELAY {
                        return Err(bad("at most 1h: a delay sleeps in the sender's thread"));
                    }
                    delay = Some(d);
                }
                "flush" if value.eq_ignore_ascii_case("drop") => drop_flush = true,
                "flush" => {
                    return Err(bad("only flush=drop exists; to fail flushes write op=flush error=EIO"));
                }
                "flushes" => {
                    rule.flushes = match value.to_ascii_lowercase().as_str() {
                        "sync" | "syncing" => FlushKinds::Syncing,
                        "all" => FlushKinds::All,
                        _ => return Err(bad("expected sync (flushes that sync the device) or all")),
                    }
                }
                "rate" => {
                    rule.rate = parse_rate(value).ok_or_else(|| bad("expected 0 to 1, or 0% to 100%"))?
                }
                "nth" => match parse_u64(value) {
                    Some(n) if n > 0 => rule.nth = Some(n),
                    _ => return Err(bad("expected a count from 1")),
                },
                "after" => rule.after = Some(parse_u64(value).ok_or_else(|| bad("expected a count"))?),
                "trigger" if value.is_empty() => return Err(bad("expected a path")),
                "trigger" => rule.trigger = Some(PathBuf::from(value)),
                "seed" => rule.seed = parse_u64(value).ok_or_else(|| bad("expected an integer"))?,
                _ => return Err(FaultError::UnknownKey { key: key.to_owned() }),
            }
        }
        rule.action = match (error, delay, drop_flush) {
            (Some(status), None, false) => FaultAction::Fail(status),
            (None, Some(d), false) => FaultAction::Delay(d),
            (None, None, true) => FaultAction::DropFlush,
            (None, None, false) => FaultAction::Fail(Status::IO_DEVICE_ERROR),
            _ => {
                return Err(FaultError::Invalid(
                    "error, delay and flush=drop exclude each other; stack two fault filters for two rules"
                        .into(),
                ));
            }
        };
        rule.ops = match (ops, drop_flush) {
            (Some(ops), _) => ops,
            (None, true) => OpSet::only(MajorFunction::FlushBuffers),
            (None, false) => OpSet::ALL,
        };
        rule.validate()?;
        Ok(FaultOptions::rule(rule))
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_rate(s: &str) -> Option<f64> {
    let (number, scale) = match s.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (s, 1.0),
    };
    let rate = number.parse::<f64>().ok()? / scale;
    (0.0..=1.0).contains(&rate).then_some(rate)
}

/// Parses a duration with its unit, as stack specs do ([`units::parse_duration`]: `5ms`,
/// `1.5s`, `200us`; a bare `0` is accepted).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    units::parse_duration(s).map_err(|e| e.0)
}
