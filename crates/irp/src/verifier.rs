//! The verifier (Driver Verifier's analog): checks the IRP rules at run time and
//! names the device and the rule a driver broke.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::device_names;
use crate::function::MajorFunction;

/// A rule the verifier checks. Each has a stable code (`IRPSTACK-Vnnn`), and where
/// NT has one, the Driver Verifier (0xC9) or Static Driver Verifier rule it mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// An IRP was dropped without being completed (0xC9/0x226, IrpProcessingComplete).
    IrpDroppedWithoutCompletion,
    /// A dispatch routine returned PENDING without marking the IRP pending
    /// (0xC9/0x23D, MarkIrpPending2).
    PendingNotMarked,
    /// A dispatch routine marked the IRP pending and returned another status
    /// (0xC9/0x23E, MarkIrpPending).
    MarkedNotPending,
    /// An IRP was completed with PENDING (0xC9/0x06, CompleteRequestStatusCheck).
    CompletedWithPending,
    /// A completion routine or the completing driver turned a lower failure into
    /// success (CompleteRequestStatusCheck); InvalidDeviceRequest → success on a
    /// flush is allowed (fastfat does it).
    FailureTurnedIntoSuccess,
    /// A flush completed with success at the top of the stack without reaching the
    /// bottom device, and its flags do not allow that.
    FlushNotForwarded,
    /// A DMA transfer, in either direction, started on an MDL that was not flushed from the
    /// CPU caches just before (`KeFlushIoBuffers(Mdl, ReadOperation, TRUE)` missing, given
    /// the wrong direction, or followed by CPU writes to the buffer). To the device, the
    /// device reads stale memory; from the device, the CPU's stale lines are read instead
    /// of, or written back over, what the device stored.
    #[doc(alias = "KeFlushIoBuffers")]
    DmaUnflushedMdl,
    /// A DMA transfer ended (its IRP completed, its buffer was unmapped, or the next
    /// transfer on the mapping started) without `FlushAdapterBuffers`, so data may still sit
    /// in the adapter's internal buffers instead of memory or the device.
    #[doc(alias = "FlushAdapterBuffers")]
    DmaAdapterBuffersNotFlushed,
    /// An IRP was sent to a device with no stack location left (NO_MORE_IRP_STACK_LOCATIONS).
    NoMoreStackLocations,
}

impl Rule {
    /// The stable code, e.g. `IRPSTACK-V001`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::IrpDroppedWithoutCompletion => "IRPSTACK-V001",
            Rule::PendingNotMarked => "IRPSTACK-V002",
            Rule::MarkedNotPending => "IRPSTACK-V003",
            Rule::CompletedWithPending => "IRPSTACK-V004",
            Rule::FailureTurnedIntoSuccess => "IRPSTACK-V005",
            Rule::FlushNotForwarded => "IRPSTACK-V006",
            Rule::DmaUnflushedMdl => "IRPSTACK-V007",
            Rule::DmaAdapterBuffersNotFlushed => "IRPSTACK-V008",
            Rule::NoMoreStackLocations => "IRPSTACK-V009",
        }
    }

    /// The rule in one sentence.
    pub fn description(self) -> &'static str {
        match self {
            Rule::IrpDroppedWithoutCompletion => "every IRP must be completed exactly once",
            Rule::PendingNotMarked => {
                "a dispatch routine that returns STATUS_PENDING must mark the IRP pending first"
            }
            Rule::MarkedNotPending => {
                "a dispatch routine that marks an IRP pending must return STATUS_PENDING"
            }
            Rule::CompletedWithPending => "an IRP must never be completed with STATUS_PENDING",
            Rule::FailureTurnedIntoSuccess => "a lower driver's failure must not be turned into success",
            Rule::FlushNotForwarded => {
                "a flush may complete with success only after reaching the bottom device"
            }
            Rule::DmaUnflushedMdl => {
                "flush_io_buffers (KeFlushIoBuffers) must run on the MDL just before a DMA transfer starts, in either direction"
            }
            Rule::DmaAdapterBuffersNotFlushed => {
                "flush_adapter_buffers (FlushAdapterBuffers) must run at the end of every DMA transfer"
            }
            Rule::NoMoreStackLocations => "an IRP needs a stack location for every device it is sent to",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.code(), self)
    }
}

/// One report: the rule, the device that broke it, and what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// The device whose driver broke it ("?" when unknown).
    pub device: String,
    /// The request's major function.
    pub major: MajorFunction,
    /// What happened.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: device {:?} broke {:?} on {} ({}): {}",
            self.rule.code(),
            self.device,
            self.rule,
            self.major,
            self.rule.description(),
            self.detail
        )
    }
}

/// How the verifier acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifierMode {
    /// No checks (release default; the checks that remain cost a branch).
    Off,
    /// Log each violation (`tracing::error!`) and record it.
    Record,
    /// Record, and panic when the verifier is dropped with violations nobody took
    /// (the default in debug builds, so every test fails on a violation).
    Strict,
}

/// The verifier of one device stack.
#[derive(Debug)]
pub struct Verifier {
    mode: VerifierMode,
    violations: Mutex<Vec<Violation>>,
}

impl Verifier {
    /// A verifier in `mode`.
    pub fn new(mode: VerifierMode) -> Arc<Verifier> {
        Arc::new(Verifier { mode, violations: Mutex::new(Vec::new()) })
    }

    /// The default for a new stack: `Strict` in debug builds, `Off` in release,
    /// overridden by `IRPSTACK_VERIFIER=off|record|strict`.
    pub fn for_build() -> Arc<Verifier> {
        let mode = match std::env::var("IRPSTACK_VERIFIER").as_deref() {
            Ok("off") => VerifierMode::Off,
            Ok("record") | Ok("on") => VerifierMode::Record,
            Ok("strict") => VerifierMode::Strict,
            _ if cfg!(debug_assertions) => VerifierMode::Strict,
            _ => VerifierMode::Off,
        };
        Verifier::new(mode)
    }

    /// The mode.
    pub fn mode(&self) -> VerifierMode {
        self.mode
    }

    /// Whether checks run.
    pub fn is_enabled(&self) -> bool {
        self.mode != VerifierMode::Off
    }

    pub(crate) fn report(
        &self,
        rule: Rule,
        device: Option<u32>,
        major: MajorFunction,
        detail: fmt::Arguments<'_>,
    ) {
        if self.is_enabled() {
            let device = device.map_or_else(|| "?".to_owned(), device_names::name_of);
            self.report_named(rule, device, major, detail);
        }
    }

    /// Reports a violation by a named component (a DMA adapter, a driver's own check).
    pub fn report_named(
        &self,
        rule: Rule,
        device: impl Into<String>,
        major: MajorFunction,
        detail: fmt::Arguments<'_>,
    ) {
        if !self.is_enabled() {
            return;
        }
        let v = Violation { rule, device: device.into(), major, detail: detail.to_string() };
        tracing::error!(code = rule.code(), device = %v.device, "verifier: {v}");
        self.violations.lock().unwrap_or_else(PoisonError::into_inner).push(v);
    }

    /// The violations so far, leaving them recorded.
    pub fn violations(&self) -> Vec<Violation> {
        self.violations.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Takes the violations so far (a test that breaks a rule on purpose takes them).
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut *self.violations.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        let violations = self.violations.get_mut().unwrap_or_else(PoisonError::into_inner);
        if self.mode == VerifierMode::Strict && !violations.is_empty() && !std::thread::panicking() {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("verifier: {} unhandled violation(s):\n{}", list.len(), list.join("\n"));
        }
    }
}
