//! Checking every crash state of the recorded history, each for what differs from the
//! state checked before it.
//!
//! Per crash point, the first plan keeps no cached write: the durable image, checked
//! on every touched sector, incrementally across points (see [`DurableValues`]). Every
//! other plan's state differs from the durable image only in the sectors the cache
//! covers; of those, only the ones whose content differs from the previous state
//! checked at the same point (same crash time, so the same verdict for the same
//! bytes) are decoded. Every `restart_every`-th state is checked through a restarted
//! stack instead, on every touched sector (a restarted stack may show anything).

use disks::crash::{DiskEvent, Layer, OverlayImage, Sectors};

use crate::durable::DurableValues;
use crate::oracle::Oracle;
use crate::walk::Walk;
use crate::workload::{Op, Rng};
use crate::{CheckError, Config, Failure, Report, StackBuilder, restart, setup};

/// Checks the crash states of `events` (recorded on a zeroed disk), counting them and
/// their cost into `report`.
pub(crate) fn explore(
    config: &Config,
    build: &StackBuilder<'_>,
    ops: &[Op],
    events: &[DiskEvent],
    oracle: &Oracle,
    report: &mut Report,
    progress: &mut dyn FnMut(crate::Progress),
) -> Result<(), CheckError> {
    let sector = u64::from(config.sector_size);
    let image = OverlayImage::zeroed(config.disk_size, config.sector_size).map_err(setup("crash image"))?;
    let mut walk = Walk::new(image, events);
    let points = walk.points();
    let stride = points.div_ceil(config.max_points.max(1));
    let mut durable = DurableValues::default();
    let mut rng = Rng::new(config.seed ^ 0x5EED);
    let mut changed = Vec::new();
    for p in 0..points {
        if p > 0 {
            changed.clear();
            let event = walk.step(|o, len| changed.push((o, len))).expect("one event per point");
            if let DiskEvent::Write { offset, data, .. } = event {
                durable.touch(offset / sector..(offset + data.len() as u64).div_ceil(sector));
            }
            for &(o, len) in &changed {
                report.cost.layered += len as u64;
                for s in o / sector..(o + len as u64).div_ceil(sector) {
                    report.cost.compared += durable.changed(walk.durable(), s);
                }
            }
        }
        progress(crate::Progress { point: p + 1, points, states: report.states });
        if p % stride != 0 && p + 1 != points {
            continue;
        }
        let crash_time = walk.crash_time();
        let in_cache = walk.cached_sectors();
        let plans = walk.plans(config.exhaustive_limit, config.samples, &mut rng);
        // The layer of the last state of this point checked on its raw sectors.
        let mut last_raw: Option<Layer> = None;
        for (i, plan) in plans.into_iter().enumerate() {
            let state = walk.state(&plan);
            report.cost.layered += (state.layer().len() * config.sector_size as usize) as u64;
            report.cost.copied += state.layer().copied();
            let restart = report.states.is_multiple_of(config.restart_every.max(1));
            let result = if restart {
                let (seen, read) = restart::read_back(state.to_image(), durable.touched(), config, build)?;
                report.cost.compared += read;
                oracle.check_values(crash_time, seen)
            } else if i == 0 {
                // Losing every cached write leaves the durable image: FUA writes are in
                // it already, and re-applied in order they change nothing.
                debug_assert!(in_cache.iter().all(|&s| state.view().sector(s) == walk.durable().sector(s)));
                durable.check(oracle, crash_time)
            } else {
                let view = state.view();
                let differs = |s: &u64| last_raw.as_ref().is_none_or(|prev| !prev.same(state.layer(), *s));
                let look: Vec<u64> = in_cache.iter().copied().filter(differs).collect();
                report.cost.compared += look.len() as u64 * sector;
                oracle.check_sectors(&view, crash_time, look)
            };
            report.states += 1;
            if let Err(m) = result {
                let image = state.to_image();
                return Err(CheckError::Violation(Box::new(Failure::new(
                    config, ops, p, crash_time, plan, m, image, report,
                ))));
            }
            if !restart {
                last_raw = Some(state.into_layer());
            }
        }
        report.points += 1;
    }
    Ok(())
}
