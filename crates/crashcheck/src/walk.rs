//! Walking the crash states of a recorded disk history.
//!
//! A [`Walk`] starts from an image and replays what reached the disk, event by event.
//! At every point (before event `p`; the last point is after every event) it holds the
//! disk's state there — the durable image as an overlay, and the volatile cache — and
//! gives, for any crash plan, the crash state it leaves: a [`Layer`] of the sectors the
//! plan's surviving writes change, over the durable image. Nothing is copied: the state
//! is read through ([`CrashState::view`]), and turned into an image of its own only to
//! restart a stack on it or to write it out ([`CrashState::to_image`]).
//!
//! [`crate::check`] walks its workload from a zeroed disk. To crash a second phase —
//! the writes a journal replay makes after a crash — a caller records that phase on
//! `CrashDisk::from_image(state.to_image())` and walks its events from the same image:
//! `Walk::new(state.to_image(), &events)`.

use disks::crash::{CrashPlan, DiskEvent, Layer, OverlayImage, Stacked, UnflushedWrite};

use crate::replay::{DiskState, stamp};
use crate::states;
use crate::workload::Rng;

/// The crash states of `events`, recorded on a disk that started as a given image.
#[derive(Debug)]
pub struct Walk<'e> {
    events: &'e [DiskEvent],
    state: DiskState,
    point: usize,
}

impl<'e> Walk<'e> {
    /// At point 0 (before any event) of `events`, on a disk that started as `image`.
    pub fn new(image: OverlayImage, events: &'e [DiskEvent]) -> Walk<'e> {
        Walk { events, state: DiskState::new(image), point: 0 }
    }

    /// How many crash points there are: one before each event, one after the last.
    pub fn points(&self) -> usize {
        self.events.len() + 1
    }

    /// The current point: how many events have been applied.
    pub fn point(&self) -> usize {
        self.point
    }

    /// Moves to the next point by applying the next event (`None` at the last point);
    /// `changed(offset, len)` gets every byte range of the durable image it rewrote.
    pub fn step(&mut self, changed: impl FnMut(u64, usize)) -> Option<&'e DiskEvent> {
        let event = self.events.get(self.point)?;
        self.point += 1;
        self.state.apply(event, self.point as u64, changed);
        Some(event)
    }

    /// The clock value a crash at this point happens at: the next event's stamp, or
    /// `u64::MAX` after the last one.
    pub fn crash_time(&self) -> u64 {
        self.events.get(self.point).map_or(u64::MAX, stamp)
    }

    /// The durable image: what a crash that keeps no cached write leaves.
    pub fn durable(&self) -> &OverlayImage {
        &self.state.durable
    }

    /// The volatile cache, oldest write first.
    pub fn cache(&self) -> &[UnflushedWrite] {
        &self.state.cache
    }

    /// The sectors the cache covers, ascending: the only ones in which the crash states
    /// of this point differ from the durable image.
    pub fn cached_sectors(&self) -> Vec<u64> {
        let sector = self.state.durable.changes().sector_size() as u64;
        let mut sectors: Vec<u64> = self
            .state
            .cache
            .iter()
            .flat_map(|w| w.offset / sector..(w.offset + w.data.len() as u64).div_ceil(sector))
            .collect();
        sectors.sort_unstable();
        sectors.dedup();
        sectors
    }

    /// The crash plans to try here (see [`states::plans`]).
    pub fn plans(&self, exhaustive_limit: usize, samples: usize, rng: &mut Rng) -> Vec<CrashPlan> {
        let sector = self.state.durable.changes().sector_size();
        states::plans(&self.state.cache, sector, exhaustive_limit, samples, rng)
    }

    /// The crash state `plan` leaves here. Costs the sectors the plan's surviving
    /// writes cover; copies none of a sector-aligned write.
    pub fn state(&self, plan: &CrashPlan) -> CrashState<'_> {
        CrashState { durable: &self.state.durable, layer: plan.layer(&self.state.durable, &self.state.cache) }
    }
}

/// One crash state: the durable image with what a crash plan kept over it.
#[derive(Debug)]
pub struct CrashState<'a> {
    durable: &'a OverlayImage,
    layer: Layer,
}

impl CrashState<'_> {
    /// What the crash kept over the durable image (the sectors it changes).
    pub fn layer(&self) -> &Layer {
        &self.layer
    }

    /// The state, read through.
    pub fn view(&self) -> Stacked<'_> {
        self.durable.stacked(&self.layer)
    }

    /// The state as an image of its own (for a restarted disk, or to write it out with
    /// `Sectors::to_vec`); shares every byte and costs the sectors changed since the
    /// walk's first image.
    pub fn to_image(&self) -> OverlayImage {
        self.view().to_image()
    }

    /// Gives up the layer (to compare the next state of the point with).
    pub fn into_layer(self) -> Layer {
        self.layer
    }
}

#[cfg(test)]
mod tests;
