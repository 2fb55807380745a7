//! What a check found: a summary, or a minimal reproducer.

use std::fmt;
use std::time::Duration;

use disks::crash::{CrashPlan, OverlayImage};
use irp::Violation;

use crate::Config;
use crate::cost::Cost;
use crate::oracle::Mismatch;
use crate::pattern::Found;
use crate::workload::{Op, OpKind};

/// A check that passed.
#[derive(Debug)]
pub struct Report {
    /// Operations run.
    pub ops: usize,
    /// Flushes that completed with success.
    pub flushes_acked: usize,
    /// Events that reached the disk.
    pub events: usize,
    /// Crash points checked.
    pub points: usize,
    /// Crash states checked.
    pub states: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// What the verifier reported while the workload ran.
    pub verifier: Vec<Violation>,
    /// Bytes handled building and checking the crash states.
    pub cost: Cost,
}

impl Report {
    pub(crate) fn new(ops: &[Op], events: usize, verifier: Vec<Violation>) -> Report {
        Report {
            ops: ops.len(),
            flushes_acked: ops.iter().filter(|o| o.kind == OpKind::Flush && o.ok).count(),
            events,
            points: 0,
            states: 0,
            elapsed: Duration::ZERO,
            verifier,
            cost: Cost::default(),
        }
    }

    /// Crash states checked per second.
    pub fn states_per_second(&self) -> f64 {
        self.states as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "crash-test passed: {} ops ({} flushes acknowledged), {} disk events, {} crash points, {} crash states checked in {:.2} s ({:.0} states/s)",
            self.ops,
            self.flushes_acked,
            self.events,
            self.points,
            self.states,
            self.elapsed.as_secs_f64(),
            self.states_per_second()
        )?;
        for v in summarize(&self.verifier) {
            writeln!(f, "  verifier: {v}")?;
        }
        Ok(())
    }
}

/// A broken flush promise, with everything needed to reproduce it.
#[derive(Debug)]
pub struct Failure {
    /// Workload seed.
    pub seed: u64,
    /// Operations and threads (rerun with the same to reproduce).
    pub ops: usize,
    /// Threads.
    pub threads: usize,
    /// Crash point: the number of disk events that had happened.
    pub point: usize,
    /// The last operation that had completed before the crash.
    pub last_completed: Option<(u64, usize, usize)>,
    /// The crash plan.
    pub plan: CrashPlan,
    /// The sector, what it held, what was allowed.
    pub mismatch: Mismatch,
    /// The operation that made `required` durable (a flush or the FUA write itself).
    pub made_durable_by: Option<String>,
    /// Verifier reports from the run.
    pub verifier: Vec<Violation>,
    /// States checked before this one.
    pub states_before: usize,
    /// The failing crash state: what the disk held (write it out as an image file for
    /// a reproducer with `disks::crash::Sectors::to_vec`).
    pub image: OverlayImage,
}

/// One line per distinct violation, with how often it happened.
pub(crate) fn summarize(violations: &[Violation]) -> Vec<String> {
    let mut lines: Vec<(String, usize)> = Vec::new();
    for v in violations {
        let line = v.to_string();
        match lines.iter_mut().find(|(l, _)| *l == line) {
            Some((_, n)) => *n += 1,
            None => lines.push((line, 1)),
        }
    }
    lines.into_iter().map(|(l, n)| if n > 1 { format!("{l} (x{n})") } else { l }).collect()
}

fn describe(found: Found) -> String {
    match found {
        Found::Zero => "zeroes (never written, or discarded)".into(),
        Found::Op(id) => format!("data of op #{id}"),
        Found::Garbage => "garbage (matches no write)".into(),
    }
}

impl Failure {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: &Config,
        ops: &[Op],
        point: usize,
        crash_time: u64,
        plan: CrashPlan,
        mismatch: Mismatch,
        image: OverlayImage,
        report: &Report,
    ) -> Failure {
        let last_completed = ops
            .iter()
            .filter(|o| o.completed < crash_time)
            .max_by_key(|o| o.completed)
            .map(|o| (o.id, o.thread, o.index));
        let made_durable_by = match mismatch.required {
            Some(Found::Op(id)) => ops.iter().find(|o| o.id == id).map(|w| {
                if w.kind == OpKind::FuaWrite {
                    format!("op #{id} itself (a FUA write, completed)")
                } else {
                    let flush = ops
                        .iter()
                        .filter(|f| {
                            f.kind == OpKind::Flush
                                && f.ok
                                && f.invoked > w.completed
                                && f.completed < crash_time
                        })
                        .min_by_key(|f| f.completed);
                    flush.map_or_else(String::new, |f| {
                        format!("flush op #{} (thread {}, completed)", f.id, f.thread)
                    })
                }
            }),
            _ => None,
        };
        Failure {
            seed: config.seed,
            ops: config.ops,
            threads: config.threads,
            point,
            last_completed,
            plan,
            mismatch,
            made_durable_by,
            verifier: report.verifier.clone(),
            states_before: report.states,
            image,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "crash-test FAILED: the flush promise was broken")?;
        writeln!(f, "  reproduce:   --seed {} --ops {} --threads {}", self.seed, self.ops, self.threads)?;
        match self.last_completed {
            Some((id, thread, index)) => writeln!(
                f,
                "  crash point: after disk event {} (last completed op #{id}: thread {thread}, op index {index})",
                self.point
            )?,
            None => writeln!(f, "  crash point: after disk event {} (no op had completed)", self.point)?,
        }
        writeln!(f, "  crash mode:  {}", self.plan)?;
        writeln!(f, "  sector:      {}", self.mismatch.sector)?;
        if let Some(req) = self.mismatch.required {
            let by = self.made_durable_by.as_deref().unwrap_or("");
            writeln!(f, "  expected:    {} (made durable by {by}) or a later write", describe(req))?;
        }
        let allowed: Vec<String> = self.mismatch.allowed.iter().map(|&a| describe(a)).collect();
        writeln!(f, "  allowed:     {}", allowed.join("; "))?;
        writeln!(f, "  found:       {}", describe(self.mismatch.found))?;
        writeln!(f, "  ({} crash states passed before this one)", self.states_before)?;
        for v in summarize(&self.verifier) {
            writeln!(f, "  verifier:    {v}")?;
        }
        Ok(())
    }
}
