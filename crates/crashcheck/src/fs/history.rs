//! A workload run against the model: the state after every step, what each step changed,
//! what each completed persistence call covers, and when each step ran (on the clock the
//! crash disk stamps its events with).

use std::collections::BTreeMap;

use super::model::{Effect, Id, Tree};
use super::workload::{Persist, Step};

/// What a completed persistence call promises about the tree after a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage {
    /// The tree is the state after some step at or after this one.
    pub state_at_least: usize,
    /// Data: the content of this inode (None: of every file) is from its version after
    /// this step or a later one.
    pub data: Option<(Option<Id>, usize)>,
}

/// When one step ran and what it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRun {
    /// Clock when it was called.
    pub invoked: u64,
    /// Clock when it returned.
    pub completed: u64,
    /// Its errno, if it failed.
    pub error: Option<i32>,
}

/// The model's side of a run.
#[derive(Clone, Debug)]
pub struct History {
    /// The steps.
    pub steps: Vec<Step>,
    /// `states[i]`: the tree after step `i` (`states[0]`: the starting tree).
    pub states: Vec<Tree>,
    /// What step `i + 1` changed (nothing for persistence calls and failed steps).
    pub effects: Vec<Effect>,
    /// What step `i + 1` answered in the model.
    pub expected: Vec<Option<i32>>,
    /// What step `i + 1` covers, if it is a persistence call the model lets succeed.
    pub coverage: Vec<Option<Coverage>>,
}

impl History {
    /// Applies `steps` to `start` (step `i` writes data tagged `i`, from 1).
    pub fn new(start: Tree, steps: &[Step]) -> History {
        let mut h = History {
            steps: steps.to_vec(),
            states: vec![start],
            effects: Vec::new(),
            expected: Vec::new(),
            coverage: Vec::new(),
        };
        for (i, step) in steps.iter().enumerate() {
            let mut tree = h.states[i].clone();
            let (effect, expected, coverage) = match step {
                Step::Op(op) => match tree.apply(op, i as u32 + 1) {
                    Ok(fx) => (fx, None, None),
                    Err(e) => (Effect::default(), Some(e), None),
                },
                Step::Persist(p) => match tree.persist_target(p) {
                    Ok(target) => (Effect::default(), None, Some(h.cover(p, target, i + 1))),
                    Err(e) => (Effect::default(), Some(e), None),
                },
            };
            h.states.push(tree);
            h.effects.push(effect);
            h.expected.push(expected);
            h.coverage.push(coverage);
        }
        h
    }

    /// The last step before `step` whose effect includes `id` (in `data` if `data`).
    fn last_change(&self, id: Id, before: usize, data: bool) -> usize {
        (1..before)
            .rev()
            .find(|&i| {
                let fx = &self.effects[i - 1];
                if data { fx.data.contains(&id) } else { fx.touched.contains(&id) }
            })
            .unwrap_or(0)
    }

    fn cover(&self, p: &Persist, target: Option<Id>, step: usize) -> Coverage {
        match (p, target) {
            (Persist::Fsync(_), Some(id)) => {
                Coverage { state_at_least: self.last_change(id, step, false), data: Some((Some(id), step)) }
            }
            (Persist::Fdatasync(_), Some(id)) => {
                Coverage { state_at_least: self.last_change(id, step, true), data: Some((Some(id), step)) }
            }
            (Persist::FsyncDir(_), Some(id)) => {
                Coverage { state_at_least: self.last_change(id, step, false), data: None }
            }
            _ => Coverage { state_at_least: step, data: Some((None, step)) },
        }
    }

    /// What a crash at `crash_time` allows, given when the steps ran.
    pub fn bounds(&self, runs: &[StepRun], crash_time: u64) -> Bounds {
        let mut b = Bounds { lowest: 0, highest: 0, data_all: 0, data: BTreeMap::new(), covered_by: None };
        for (i, run) in runs.iter().enumerate() {
            if run.invoked < crash_time && matches!(self.steps[i], Step::Op(_)) {
                b.highest = i + 1;
            }
            if run.completed >= crash_time || run.error.is_some() {
                continue;
            }
            let Some(c) = &self.coverage[i] else { continue };
            if c.state_at_least > b.lowest {
                b.lowest = c.state_at_least;
                b.covered_by = Some(i + 1);
            }
            match c.data {
                Some((Some(id), at)) => {
                    let e = b.data.entry(id).or_insert(0);
                    *e = (*e).max(at);
                }
                Some((None, at)) => b.data_all = b.data_all.max(at),
                None => {}
            }
        }
        // Steps that change nothing (persistence calls, failures) leave the state as is.
        b.highest = b.highest.max(b.lowest);
        b
    }
}

/// The states a crash may leave, by what completed and what had started before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The tree is the state after step `lowest` or a later one...
    pub lowest: usize,
    /// ...up to the last step that had been called (`highest`).
    pub highest: usize,
    /// Every file's content is from its version after this step or later (`sync`).
    pub data_all: usize,
    /// Per inode, the same for fsync and fdatasync.
    pub data: BTreeMap<Id, usize>,
    /// The persistence call that set `lowest`.
    pub covered_by: Option<usize>,
}

impl Bounds {
    /// The oldest version of `id`'s content a state `k` may show.
    pub fn oldest_data(&self, id: Id, k: usize) -> usize {
        k.max(self.data_all).max(self.data.get(&id).copied().unwrap_or(0))
    }
}
