//! What every sector of the durable image decodes to, and the check of the crash state
//! that keeps no cached write, done incrementally across crash points.
//!
//! That state (the durable image) is checked on every sector the disk was ever asked
//! to write. Between two checks, a sector's verdict can only change if its value
//! changed, if it was written for the first time, or if a write to it became durable
//! in between (see `Oracle::newly_durable`): the check at `t` looks at those sectors
//! only, in ascending order, and so finds the same first mismatch a check of every
//! sector would.

use std::collections::{BTreeSet, HashMap};

use disks::crash::Sectors;

use crate::oracle::{Mismatch, Oracle};
use crate::pattern::{self, Found};

/// The durable image's decoded sectors and what the next check must look at.
#[derive(Debug, Default)]
pub(crate) struct DurableValues {
    /// Sectors a write reaching the disk covered, so far.
    touched: BTreeSet<u64>,
    /// What each sector the durable image rewrote decodes to (the others hold their
    /// value of the first image: zeroes).
    found: HashMap<u64, Found>,
    /// Sectors to look at in the next check besides those that became durable.
    recheck: BTreeSet<u64>,
    /// Crash time of the last check (all of whose sectors passed).
    checked_at: Option<u64>,
}

impl DurableValues {
    /// Sectors a write reaching the disk covered, ascending.
    pub(crate) fn touched(&self) -> &BTreeSet<u64> {
        &self.touched
    }

    /// A write reached the disk at these sectors.
    pub(crate) fn touch(&mut self, sectors: std::ops::Range<u64>) {
        for s in sectors {
            if self.touched.insert(s) {
                self.recheck.insert(s);
            }
        }
    }

    /// The durable image's sector `s` changed: decodes it (returns the bytes read).
    pub(crate) fn changed(&mut self, image: &impl Sectors, s: u64) -> u64 {
        let bytes = image.sector(s);
        self.found.insert(s, pattern::decode(bytes, s));
        self.recheck.insert(s);
        bytes.len() as u64
    }

    fn value(&self, s: u64) -> Found {
        self.found.get(&s).copied().unwrap_or(Found::Zero)
    }

    /// Checks the durable image, every touched sector, as it must be after a crash at
    /// `t`, looking only at the sectors whose verdict may have changed since the last
    /// check (all of them the first time, or when time went backwards).
    pub(crate) fn check(&mut self, oracle: &Oracle, t: u64) -> Result<(), Mismatch> {
        let result = match self.checked_at {
            Some(before) if before <= t => {
                let mut look = std::mem::take(&mut self.recheck);
                look.extend(oracle.newly_durable(before, t).filter(|s| self.touched.contains(s)));
                oracle.check_values(t, look.into_iter().map(|s| (s, self.value(s))))
            }
            _ => {
                self.recheck.clear();
                oracle.check_values(t, self.touched.iter().map(|&s| (s, self.value(s))))
            }
        };
        self.checked_at = result.is_ok().then_some(t);
        result
    }
}
