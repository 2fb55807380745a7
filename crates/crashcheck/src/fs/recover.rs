//! Recovering a crash state: the journal replayed onto a recording crash disk (so that the
//! replay can be crashed in turn), replayed again, and the recovered volume checked
//! (`fs::fsck`), mounted and read.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use disks::crash::{CrashPlan, DiskEvent, OverlayImage};
use fs::{Filesystem, MountOptions};

use super::fingerprint::same_image;
use super::observe::{Seen, observe};
use super::run::{block_device, crash_device};
use crate::walk::Walk;
use crate::workload::Rng;

/// Crash states tried per point of a replay's history when it is crashed everywhere.
pub const REPLAY_PLANS: usize = 6;

/// What the replay of one crash state did.
#[derive(Debug)]
pub struct Replayed {
    /// The volume after it.
    pub image: OverlayImage,
    /// What it wrote and flushed, in order.
    pub events: Vec<DiskEvent>,
}

/// Replays the journal of `state` as mount does (`Filesystem::recover`), recording it.
pub fn replay(state: OverlayImage, opts: &MountOptions) -> Result<Replayed, String> {
    let (disk, device) = crash_device(state, "recovery")?;
    disk.start_recording(Arc::new(AtomicU64::new(1)));
    Filesystem::recover(block_device(&device)?, opts).map_err(|e| format!("journal replay failed: {e}"))?;
    let events = disk.take_events();
    // Everything it wrote, flushed or not (it ends with a flush): what a mount reads next.
    let mut image = disk.durable_overlay();
    for w in disk.unflushed() {
        image.write(w.offset, &w.data);
    }
    Ok(Replayed { image, events })
}

/// Replaying the recovered volume again changes nothing, and neither does replaying again
/// after a crash during the replay, at the point before its last write (everything
/// written home, the journal not yet marked empty: the replay runs twice). With
/// `every_point`, the replay is crashed at every point of its history, in up to
/// [`REPLAY_PLANS`] of the states [`Walk::plans`] gives there (losing every cached write,
/// keeping them all, and a seeded choice of the others). Returns how many crash states of the replay were checked.
pub fn replay_again(
    state: &OverlayImage,
    first: &Replayed,
    opts: &MountOptions,
    every_point: bool,
    rng: &mut Rng,
) -> Result<usize, String> {
    let twice =
        replay(first.image.clone(), opts).map_err(|e| format!("replaying the recovered volume: {e}"))?;
    if !same_image(&twice.image, &first.image) {
        return Err("replaying the recovered volume again changed it".into());
    }
    let Some(last_write) = first.events.iter().rposition(|e| matches!(e, DiskEvent::Write { .. })) else {
        return Ok(0);
    };
    let mut walk = Walk::new(state.clone(), &first.events);
    let mut checked = 0;
    for p in 0..walk.points() {
        if p > 0 {
            walk.step(|_, _| {});
        }
        let plans = if every_point {
            // Lose all, keep all, and a few of the rest (subsets, torn writes).
            let mut all = walk.plans(6, 8, rng);
            while all.len() > REPLAY_PLANS {
                let drop = 2 + (rng.next_u64() % (all.len() as u64 - 2)) as usize;
                all.swap_remove(drop);
            }
            all
        } else if p == last_write {
            vec![CrashPlan::KeepAll]
        } else {
            continue;
        };
        for plan in plans {
            let crashed = walk.state(&plan).to_image();
            let again = replay(crashed, opts)
                .map_err(|e| format!("after a crash during the replay (its point {p}, {plan}): {e}"))?;
            if !same_image(&again.image, &first.image) {
                return Err(format!(
                    "a crash during the replay (its point {p} of {}, {plan}) and a second replay give \
                     another volume than one replay",
                    walk.points()
                ));
            }
            checked += 1;
        }
    }
    Ok(checked)
}

/// Finishes recovery as a mount does (orphans a crash left are finished there), reads the
/// whole tree, unmounts, and checks the unmounted volume with `fs::fsck`. Returns the tree
/// and the volume as unmounted (what `e2fsck -fn` is given).
pub fn examine(recovered: &OverlayImage, opts: &MountOptions) -> Result<(Seen, OverlayImage), String> {
    let (disk, device) = crash_device(recovered.clone(), "recovered")?;
    let dev = block_device(&device)?;
    let fs = Filesystem::mount(Arc::clone(&dev), opts.clone())
        .map_err(|e| format!("mount after recovery failed: {e}"))?;
    let seen = observe(&fs).map_err(|e| format!("the recovered tree cannot be read: {e}"))?;
    fs.unmount().map_err(|e| format!("unmount after recovery failed: {e}"))?;
    match fs::fsck::check(&*dev) {
        Ok(report) if report.is_clean() => {}
        Ok(report) => {
            let errors: Vec<String> =
                report.errors().take(3).map(|p| format!("{:?}: {}", p.area, p.detail)).collect();
            let n = report.errors().count();
            return Err(format!(
                "fs::fsck finds {n} error(s) after recovery and unmount: {}",
                errors.join("; ")
            ));
        }
        Err(e) => return Err(format!("fs::fsck cannot check the recovered volume: {e}")),
    }
    let mut unmounted = disk.durable_overlay();
    for w in disk.unflushed() {
        unmounted.write(w.offset, &w.data);
    }
    Ok((seen, unmounted))
}
