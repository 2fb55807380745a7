//! One workload: run it, then walk its crash states, replaying each distinct image once
//! and checking each distinct recovered volume once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use disks::crash::{CrashPlan, OverlayImage};

use super::e2fsck;
use super::fingerprint::fingerprint;
use super::history::History;
use super::observe::Seen;
use super::oracle;
use super::recover::{examine, replay, replay_again};
use super::report::{FsFailure, FsReport, StateId};
use super::run::record;
use super::workload::Workload;
use super::{Base, FsConfig};
use crate::walk::Walk;
use crate::workload::Rng;
use crate::{CheckError, StackBuilder};

/// What is known about one distinct recovered volume.
struct Recovered {
    /// The volume after mount and unmount (what e2fsck checks).
    unmounted: Option<OverlayImage>,
    /// Its tree, or why it could not be mounted, read or unmounted, or failed fs::fsck.
    seen: Result<Arc<Seen>, String>,
}

/// The per-point plan generator's seed: a state is found again from its id alone.
fn point_rng(seed: u64, point: usize) -> Rng {
    Rng::new(seed ^ (point as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Runs `w` and checks its crash states into `report`; returns whether it failed.
pub(super) fn workload(
    w: &Workload,
    index: usize,
    base: &Base,
    config: &FsConfig,
    build: &StackBuilder<'_>,
    e2fsck_path: Option<&Path>,
    report: &mut FsReport,
) -> Result<bool, CheckError> {
    let sector = config.sector_size;
    let start = OverlayImage::over(Arc::clone(&base.image), sector)
        .map_err(|e| CheckError::Setup(format!("starting image: {e}")))?;
    let opts = config.mount_options();
    let history = History::new(base.tree.clone(), &w.steps);
    let rec = record(start.clone(), &w.steps, &opts, build)
        .map_err(|e| CheckError::Setup(format!("workload `{}`: {e}", w.name)))?;
    report.events += rec.events.len();
    let failure = |state: Option<StateId>, plan: Option<CrashPlan>, what: String| FsFailure {
        workload: w.name.clone(),
        text: w.text(),
        random: w.random,
        seed: config.seed,
        state,
        events: rec.events.len(),
        plan,
        last_completed: None,
        what,
        e2fsck: None,
        image: None,
        options: config.reproduce_options.clone(),
    };
    // The file system must answer as the model does before any crash.
    for (i, (run, want)) in rec.runs.iter().zip(&history.expected).enumerate() {
        if run.error != *want {
            let say = |e: &Option<i32>| e.map_or("success".to_string(), |e| format!("errno {e}"));
            let what = format!(
                "step {} `{}`: the file system answered {}, the model {}",
                i + 1,
                w.steps[i],
                say(&run.error),
                say(want)
            );
            report.failures.push(failure(None, None, what));
            return Ok(true);
        }
    }

    let mut walk = Walk::new(start, &rec.events);
    let points = walk.points();
    let stride = points.div_ceil(config.max_points.max(1));
    let mut by_state: HashMap<u128, u128> = HashMap::new();
    let mut by_volume: HashMap<u128, Recovered> = HashMap::new();
    let mut replay_rng = Rng::new(config.seed ^ 0xBEEF);
    let mut counter = index;
    for p in 0..points {
        if p > 0 {
            walk.step(|_, _| {});
        }
        let sampled_point = p % stride != 0 && p + 1 != points;
        if config.only_state.map_or(sampled_point, |s| s.point != p) {
            continue;
        }
        report.points += 1;
        let crash_time = walk.crash_time();
        let bounds = history.bounds(&rec.runs, crash_time);
        let plans = walk.plans(config.exhaustive_limit, config.samples, &mut point_rng(config.seed, p));
        for (i, plan) in plans.into_iter().enumerate() {
            let id = StateId { point: p, plan: i };
            if config.only_state.is_some_and(|s| s != id) {
                continue;
            }
            if i >= 2 && config.only_state.is_none() {
                counter += 1;
                if !counter.is_multiple_of(config.every.max(1)) {
                    report.sampled_out += 1;
                    continue;
                }
            }
            let state = walk.state(&plan).to_image();
            report.states += 1;
            let key = fingerprint(&state);
            let mut fresh_volume = false;
            let verdict = match by_state.get(&key) {
                Some(volume) => Ok(*volume),
                None => {
                    report.replayed += 1;
                    replay(state.clone(), &opts).and_then(|first| {
                        let every = config.replay_crash_every;
                        let all = every > 0 && report.replayed.is_multiple_of(every);
                        report.replay_states += replay_again(&state, &first, &opts, all, &mut replay_rng)?;
                        let volume = fingerprint(&first.image);
                        by_state.insert(key, volume);
                        by_volume.entry(volume).or_insert_with(|| {
                            report.recovered += 1;
                            fresh_volume = true;
                            match examine(&first.image, &opts) {
                                Ok((seen, unmounted)) => {
                                    Recovered { unmounted: Some(unmounted), seen: Ok(Arc::new(seen)) }
                                }
                                Err(e) => Recovered { unmounted: None, seen: Err(e) },
                            }
                        });
                        Ok(volume)
                    })
                }
            };
            let verdict = verdict.and_then(|volume| {
                let r = &by_volume[&volume];
                let seen = r.seen.as_ref().map_err(Clone::clone)?;
                oracle::check(&history, &bounds, seen).map_err(|v| v.what)?;
                Ok(volume)
            });
            // e2fsck on a sample of recovered volumes, and on the state asked for.
            let sample = fresh_volume
                && config.e2fsck_every > 0
                && (report.recovered - 1).is_multiple_of(config.e2fsck_every);
            let mut e2fsck_said = None;
            if let (Some(tool), Ok(volume)) = (e2fsck_path, &verdict)
                && (config.only_state.is_some() || sample)
                && let Some(unmounted) = &by_volume[volume].unmounted
            {
                let verdict = e2fsck::check_image(tool, unmounted);
                report.e2fsck_runs += 1;
                match verdict {
                    Ok(v) if v.is_clean() => {}
                    Ok(v) => {
                        e2fsck_said = Some(format!("e2fsck -fn on the recovered volume, unmounted: {v}"))
                    }
                    // Not the file system's fault (no room for the image, say): said, not failed.
                    Err(e) => report.e2fsck_missing = Some(format!("e2fsck could not run: {e}")),
                }
            }
            let what = match (verdict, e2fsck_said) {
                (Err(what), _) => what,
                (Ok(_), Some(what)) => what,
                (Ok(_), None) => {
                    if config.only_state.is_some() {
                        write_out(config, w, id, &state);
                    }
                    continue;
                }
            };
            let mut f = failure(Some(id), Some(plan), what);
            f.last_completed = rec
                .runs
                .iter()
                .enumerate()
                .rfind(|(_, r)| r.completed < crash_time)
                .map(|(i, _)| (i + 1, w.steps[i].to_string()));
            if let Some(tool) = e2fsck_path {
                f.e2fsck = Some(e2fsck_of_failure(tool, &state, &opts));
                report.e2fsck_runs += 1;
            }
            f.image = write_out(config, w, id, &state);
            report.failures.push(f);
            return Ok(true);
        }
    }
    Ok(false)
}

/// What e2fsck says of a failing state: of the volume after our recovery and an unmount,
/// or, when that is not possible, of the volume after our replay alone.
fn e2fsck_of_failure(tool: &Path, state: &OverlayImage, opts: &fs::MountOptions) -> String {
    let Ok(first) = replay(state.clone(), opts) else {
        return "not run: the journal does not replay".into();
    };
    let (image, which) = match examine(&first.image, opts) {
        Ok((_, unmounted)) => (unmounted, "after recovery and unmount"),
        Err(_) => (first.image, "after the journal replay alone (it does not mount and unmount)"),
    };
    match e2fsck::check_image(tool, &image) {
        Ok(v) => format!("{v} ({which})"),
        Err(e) => e,
    }
}

/// Writes a crash state out as an image file, if the configuration says where.
fn write_out(
    config: &FsConfig,
    w: &Workload,
    id: StateId,
    state: &OverlayImage,
) -> Option<std::path::PathBuf> {
    let dir = config.out_dir.as_ref()?;
    let slug: String = w.name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let path = dir.join(format!("{slug}-state-{}.{}.img", id.point, id.plan));
    match e2fsck::write_image(state, &path) {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::warn!(error = %e, "could not write the crash state out");
            None
        }
    }
}
