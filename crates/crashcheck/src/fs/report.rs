//! What a file-system check found: a summary, and for a failure everything needed to see
//! it again (the crash state written out, and the command that checks just that state).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use disks::crash::CrashPlan;

/// One crash state of a workload: crash point `point` (the number of disk events before
/// the crash), the `plan`-th crash plan tried there. Written `POINT.PLAN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateId {
    /// The crash point.
    pub point: usize,
    /// The plan's index among those tried at the point.
    pub plan: usize,
}

impl fmt::Display for StateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.point, self.plan)
    }
}

impl FromStr for StateId {
    type Err = String;
    fn from_str(s: &str) -> Result<StateId, String> {
        let bad = || format!("`{s}` is not a crash state (POINT.PLAN, like 12.3)");
        let (p, i) = s.split_once('.').ok_or_else(bad)?;
        Ok(StateId { point: p.parse().map_err(|_| bad())?, plan: i.parse().map_err(|_| bad())? })
    }
}

/// What the checker did.
#[derive(Debug, Default)]
pub struct FsReport {
    /// Workloads run.
    pub workloads: usize,
    /// Disk events recorded, over all workloads.
    pub events: usize,
    /// Crash points visited.
    pub points: usize,
    /// Crash states checked.
    pub states: usize,
    /// Crash states not checked (sampled out with `every`).
    pub sampled_out: usize,
    /// Distinct crash images replayed (the others are known images, judged again only
    /// against the oracle of their own crash time).
    pub replayed: usize,
    /// Distinct recovered volumes checked with fs::fsck, mounted and read.
    pub recovered: usize,
    /// Crash states of the journal replay itself checked (replayed again).
    pub replay_states: usize,
    /// Recovered volumes `e2fsck -fn` checked.
    pub e2fsck_runs: usize,
    /// Why e2fsck did not run (or, the last time, could not), if so.
    pub e2fsck_missing: Option<String>,
    /// Wall time.
    pub elapsed: Duration,
    /// What failed (the checker stops at the first unless told to keep going).
    pub failures: Vec<FsFailure>,
}

impl FsReport {
    /// Crash states checked per second.
    pub fn states_per_second(&self) -> f64 {
        self.states as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Whether nothing failed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for FsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "passed" } else { "FAILED" };
        writeln!(
            f,
            "crash-test --fs {verdict}: {} workloads, {} disk events, {} crash points, {} crash states checked \
             in {:.2} s ({:.0} states/s), {} failure(s)",
            self.workloads,
            self.events,
            self.points,
            self.states,
            self.elapsed.as_secs_f64(),
            self.states_per_second(),
            self.failures.len()
        )?;
        writeln!(
            f,
            "  {} distinct crash images replayed, {} recovered volumes checked (fs::fsck, mount, tree), \
             {} replay crash states, {} e2fsck -fn runs{}",
            self.replayed,
            self.recovered,
            self.replay_states,
            self.e2fsck_runs,
            self.e2fsck_missing.as_ref().map_or(String::new(), |why| format!(" ({why})"))
        )?;
        if self.sampled_out > 0 {
            writeln!(f, "  {} crash states sampled out (not checked)", self.sampled_out)?;
        }
        for failure in &self.failures {
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

/// A broken promise, with how to see it again.
#[derive(Debug, Clone)]
pub struct FsFailure {
    /// The workload's name.
    pub workload: String,
    /// Its text (`--workload`).
    pub text: String,
    /// A random history's seed and length (`--seed --ops`), which name it more briefly.
    pub random: Option<(u64, usize)>,
    /// The sampling seed (`--seed`).
    pub seed: u64,
    /// The crash state (None: the file system disagreed with the model while the workload
    /// ran, before any crash).
    pub state: Option<StateId>,
    /// Disk events in the workload's history.
    pub events: usize,
    /// The crash plan.
    pub plan: Option<CrashPlan>,
    /// The last step that had completed before the crash (number from 1, and its text).
    pub last_completed: Option<(usize, String)>,
    /// What is wrong.
    pub what: String,
    /// What `e2fsck -fn` said about the recovered volume (or why it could not say).
    pub e2fsck: Option<String>,
    /// The crash state, written out as an image file (before recovery).
    pub image: Option<PathBuf>,
    /// Options besides the workload and the state that the reproducer repeats.
    pub options: String,
}

impl FsFailure {
    /// The command that checks just this state again.
    pub fn reproducer(&self) -> String {
        let state = self.state.map_or(String::new(), |s| format!(" --state {s}"));
        let workload = match self.random {
            Some((seed, ops)) if seed == self.seed => format!("--seed {seed} --ops {ops}"),
            _ => format!("--workload '{}' --seed {}", self.text, self.seed),
        };
        format!("irpstack crash-test --fs {workload}{state}{}", self.options)
    }
}

impl fmt::Display for FsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "crash-test --fs FAILED ({}): {}", self.workload, self.what)?;
        writeln!(f, "  workload:    {}", self.text)?;
        if let Some(s) = self.state {
            let last = self.last_completed.as_ref().map_or("no step had completed".to_string(), |(i, t)| {
                format!("last completed: step {i} `{t}`")
            });
            writeln!(f, "  crash point: after disk event {} of {} ({last})", s.point, self.events)?;
        }
        if let Some(plan) = &self.plan {
            writeln!(f, "  crash mode:  {plan}")?;
        }
        if let Some(e) = &self.e2fsck {
            writeln!(f, "  e2fsck -fn:  {e}")?;
        }
        if let Some(path) = &self.image {
            writeln!(f, "  image:       {} (the crash state, before recovery)", path.display())?;
        }
        writeln!(f, "  reproduce:   {}", self.reproducer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_ids_read_back() {
        let s: StateId = "12.3".parse().unwrap();
        assert_eq!(s, StateId { point: 12, plan: 3 });
        assert_eq!(s.to_string().parse::<StateId>().unwrap(), s);
        assert!("12".parse::<StateId>().is_err());
        assert!("a.b".parse::<StateId>().is_err());
    }
}
