//! `fault`: injects errors and latency per major function, flush included.
//!
//! nbdkit's error filter has per-operation error knobs but none for flush; SPDK's
//! error bdev and QEMU's blkdebug have one. This filter has it, because a flush that
//! fails is exactly what the flush contract (DESIGN.md) must survive.
//!
//! Each [`FaultRule`] names the requests it applies to ([`OpSet`]), what it does
//! ([`FaultAction`]: fail with a status, delay, or drop a flush) and when (`rate`
//! with a seeded generator, `nth`, `after`, a `trigger` file that switches it on
//! while it exists, as nbdkit's `error-file`). A failed request is completed with
//! its status without being forwarded.
//!
//! **Which flushes count.** A rule over flushes sees, by default, only the flushes that
//! sync the device — what a client's flush is (NBD `FLUSH`, `fsync`): a write-back
//! cache above also sends `NoSync` flushes of its own (eager write-behind, the lazy
//! writer), and counting those would make `op=flush,nth=3` hit a flush no client sent.
//! `flushes=all` counts them too ([`FlushKinds`]).
//!
//! **Delays** sleep in the dispatching thread and then forward. That is simple and
//! exact for synchronous callers; an asynchronous submitter sees the delay in its
//! submit call rather than as a pending IRP. Good enough for a test tool; a timer
//! thread that pends and completes later can come when a user needs it.
//!
//! **`flush=drop`** completes flushes with success without forwarding them: the
//! device lies, so that tests can check an application or a crash checker notices.
//! The device is created with [`Characteristics::UNSAFE_FLUSH`], as the cache's
//! `mode=unsafe` is: the lie was asked for by name, so the verifier does not report
//! the flush that never reached the bottom (rule IRPSTACK-V006) — the crash disk
//! and its checker are what must catch it. Creation logs a loud warning.
//!
//! Rules can be switched off and on while running with [`FaultControl::set_enabled`];
//! [`FaultControl::counts`] says per major function what was seen, matched, failed,
//! delayed and dropped.

mod options;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use irp::{Characteristics, DeviceBuilder, DeviceRef, Driver, Irp, MajorFunction, Status, default_dispatch};

pub(crate) use options::parse_duration;
pub use options::{
    ERRNO_NAMES, FaultAction, FaultError, FaultOptions, FaultRule, FlushKinds, KEYS, OpSet,
    status_for_errno_name,
};

/// Major function codes fit below this (`IRP_MJ_WRITE_ZEROES` is 0x1d).
const CODES: usize = 32;

#[derive(Debug, Default)]
struct OpCounters {
    seen: AtomicU64,
    matched: AtomicU64,
    failed: AtomicU64,
    delayed: AtomicU64,
    dropped: AtomicU64,
}

/// What the fault filter did with one major function so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests that reached the filter.
    pub seen: u64,
    /// Requests a rule looked at (in its op set, filter enabled, trigger present).
    pub matched: u64,
    /// Requests failed.
    pub failed: u64,
    /// Requests delayed (then forwarded, or failed by a later rule).
    pub delayed: u64,
    /// Flushes completed without being forwarded (`flush=drop`).
    pub dropped: u64,
}

#[derive(Debug)]
struct RuleState {
    rule: FaultRule,
    /// How many requests the rule has seen.
    seen: AtomicU64,
}

/// The run-time side of a fault filter, shared with tests: switch it, read counters.
#[derive(Debug)]
pub struct FaultControl {
    enabled: AtomicBool,
    rules: Vec<RuleState>,
    counters: [OpCounters; CODES],
}

/// What to do with one request.
#[derive(Debug, Default)]
struct Verdict {
    delay: Duration,
    end: Option<FaultAction>,
}

impl FaultControl {
    fn new(options: FaultOptions) -> FaultControl {
        FaultControl {
            enabled: AtomicBool::new(true),
            rules: options
                .rules
                .into_iter()
                .map(|rule| RuleState { rule, seen: AtomicU64::new(0) })
                .collect(),
            counters: std::array::from_fn(|_| OpCounters::default()),
        }
    }

    /// Switches every rule on or off (a disabled filter forwards everything and
    /// numbers nothing).
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
    }

    /// Whether the rules apply.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// Numbers requests from 1 again, so `nth` and `after` start over.
    pub fn rearm(&self) {
        for r in &self.rules {
            r.seen.store(0, Ordering::SeqCst);
        }
    }

    /// The rules.
    pub fn rules(&self) -> impl Iterator<Item = &FaultRule> {
        self.rules.iter().map(|r| &r.rule)
    }

    /// The counters of `major`.
    pub fn counts(&self, major: MajorFunction) -> FaultCounts {
        let c = &self.counters[major as usize];
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FaultCounts {
            seen: get(&c.seen),
            matched: get(&c.matched),
            failed: get(&c.failed),
            delayed: get(&c.delayed),
            dropped: get(&c.dropped),
        }
    }

    fn decide(&self, major: MajorFunction, syncs_device: bool) -> Verdict {
        let c = &self.counters[major as usize];
        c.seen.fetch_add(1, Ordering::Relaxed);
        let mut verdict = Verdict::default();
        if !self.is_enabled() {
            return verdict;
        }
        let mut matched = false;
        for r in &self.rules {
            if !r.rule.applies_to(major, syncs_device)
                || r.rule.trigger.as_deref().is_some_and(|t| !t.exists())
            {
                continue;
            }
            matched = true;
            let n = r.seen.fetch_add(1, Ordering::SeqCst) + 1;
            if !r.rule.fires(n) {
                continue;
            }
            match r.rule.action {
                FaultAction::Delay(d) => verdict.delay += d,
                end => {
                    verdict.end = Some(end);
                    break;
                }
            }
        }
        let count = |a: &AtomicU64, yes: bool| {
            if yes {
                a.fetch_add(1, Ordering::Relaxed);
            }
        };
        count(&c.matched, matched);
        count(&c.delayed, !verdict.delay.is_zero());
        count(&c.failed, matches!(verdict.end, Some(FaultAction::Fail(_))));
        count(&c.dropped, verdict.end == Some(FaultAction::DropFlush));
        verdict
    }
}

/// The fault-injection filter driver.
#[derive(Debug)]
pub struct Fault {
    control: Arc<FaultControl>,
}

impl Fault {
    /// Creates a fault filter called `name` and attaches it on top of `lower`'s stack.
    /// A rule with [`FaultAction::DropFlush`] makes the device
    /// [`Characteristics::UNSAFE_FLUSH`] (see the module documentation).
    pub fn create(name: &str, options: FaultOptions, lower: &DeviceRef) -> Result<DeviceRef, FaultError> {
        for rule in &options.rules {
            rule.validate()?;
            tracing::info!(device = name, ?rule, "fault: rule");
        }
        let mut characteristics = Characteristics::NONE;
        if options.rules.iter().any(|r| r.action == FaultAction::DropFlush) {
            tracing::warn!(
                device = name,
                "FAULT flush=drop: flushes are completed with success WITHOUT reaching the disk; \
                 data acknowledged by a flush can be lost on a crash"
            );
            characteristics = Characteristics::UNSAFE_FLUSH;
        }
        let fault = Fault { control: Arc::new(FaultControl::new(options)) };
        Ok(DeviceBuilder::new(name).characteristics(characteristics).attach(fault, lower)?)
    }

    /// The run-time control (counters, on/off), shareable with other threads.
    pub fn control(&self) -> &Arc<FaultControl> {
        &self.control
    }

    fn handle(&self, device: &DeviceRef, irp: Irp) -> Status {
        let major = irp.major_function();
        let syncs_device = major != MajorFunction::FlushBuffers || irp.flush_flags().syncs_device();
        let verdict = self.control.decide(major, syncs_device);
        if !verdict.delay.is_zero() {
            std::thread::sleep(verdict.delay);
        }
        match verdict.end {
            Some(FaultAction::Fail(status)) => {
                tracing::debug!(device = device.name(), %major, %status, "fault: failing a request");
                irp.complete(status)
            }
            Some(FaultAction::DropFlush) => {
                tracing::debug!(device = device.name(), "fault: dropping a flush (flush=drop)");
                irp.complete(Status::SUCCESS)
            }
            Some(FaultAction::Delay(_)) | None => default_dispatch(device, irp),
        }
    }
}

impl Driver for Fault {
    /// Every major function goes through the same rules.
    fn dispatch(&self, device: &DeviceRef, irp: Irp) -> Status {
        self.handle(device, irp)
    }
}
