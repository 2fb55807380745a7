//! Restarting the stack under test over a crash state, and reading back through it.

use std::collections::BTreeSet;

use disks::crash::{CrashDisk, OverlayImage};
use irp::{Access, DeviceBuilder, IoManager, Verifier, VerifierMode};

use crate::pattern::{self, Found};
use crate::{CheckError, Config, StackBuilder, setup};

/// Restarts the stack over `image` (a fresh in-memory crash disk sharing its bytes)
/// and reads `sectors` back through it, a run of consecutive sectors per read.
/// Returns what each sector decodes to, ascending, and the bytes read.
pub(crate) fn read_back(
    image: OverlayImage,
    sectors: &BTreeSet<u64>,
    config: &Config,
    build: &StackBuilder<'_>,
) -> Result<(Vec<(u64, Found)>, u64), CheckError> {
    let disk = CrashDisk::from_image(image).map_err(setup("restart disk"))?;
    let bottom = DeviceBuilder::new("crash-restarted")
        .sector_size(config.sector_size)
        .verifier(Verifier::new(VerifierMode::Record))
        .build(irp::block::DiskDriver::new(disk))
        .map_err(setup("restart device"))?;
    let top = build(&bottom).map_err(setup("restart stack"))?;
    let io = IoManager::new();
    io.register("restarted", &top).map_err(setup("register"))?;
    let handle = io.open("restarted", Access::READ).map_err(setup("open"))?;
    let size = config.sector_size as usize;
    let mut values = Vec::with_capacity(sectors.len());
    let mut read = 0;
    for run in runs(sectors) {
        let (first, count) = (run.start, (run.end - run.start) as usize);
        let back = handle
            .read(first * size as u64, count * size)
            .map_err(|s| CheckError::Setup(format!("reading the restarted stack: {s}")))?;
        let bytes = back.bytes();
        read += bytes.len() as u64;
        for (i, s) in run.enumerate() {
            values.push((s, pattern::decode(&bytes[i * size..(i + 1) * size], s)));
        }
    }
    Ok((values, read))
}

/// The longest read, in sectors.
const MAX_RUN: u64 = 256;

/// `sectors` as runs of consecutive sectors (at most [`MAX_RUN`] long), ascending.
fn runs(sectors: &BTreeSet<u64>) -> Vec<std::ops::Range<u64>> {
    let mut runs: Vec<std::ops::Range<u64>> = Vec::new();
    for &s in sectors {
        match runs.last_mut() {
            Some(run) if run.end == s && run.end - run.start < MAX_RUN => run.end += 1,
            _ => runs.push(s..s + 1),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_join_consecutive_sectors_only() {
        let sectors: BTreeSet<u64> = [0, 1, 2, 5, 7, 8].into_iter().collect();
        assert_eq!(runs(&sectors), [0..3, 5..6, 7..9]);
        assert!(runs(&BTreeSet::new()).is_empty());
        let long: BTreeSet<u64> = (10..10 + MAX_RUN + 3).collect();
        assert_eq!(runs(&long), [10..10 + MAX_RUN, 10 + MAX_RUN..13 + MAX_RUN]);
    }
}
