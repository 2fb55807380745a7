//! Crashing the recovery itself: from a crash state of a first phase, record what a
//! recovery (a journal replay) writes on a disk that starts as that state, and crash
//! it at every point of that second phase — then recover again from there.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crashcheck::walk::Walk;
use crashcheck::workload::Rng;
use disks::crash::{CrashDisk, CrashPlan, DiskEvent, OverlayImage, Sectors};
use irp::{Access, Handle, IoManager};

const SECTOR: usize = 512;
const SIZE: u64 = 64 * SECTOR as u64;
const JOURNAL: u64 = 1;
const HOME: u64 = 10;
const MAGIC: &[u8; 8] = b"JOURNAL1";

fn open(disk: &Arc<CrashDisk>) -> (IoManager, Handle) {
    let io = IoManager::new();
    io.register("d", &CrashDisk::create("d", Arc::clone(disk)).unwrap()).unwrap();
    let h = io.open("d", Access::READ_WRITE).unwrap();
    (io, h)
}

fn record(disk: &Arc<CrashDisk>, run: impl FnOnce(&Handle)) -> Vec<DiskEvent> {
    disk.start_recording(Arc::new(AtomicU64::new(1)));
    let (_io, h) = open(disk);
    run(&h);
    disk.take_events()
}

/// The journal record: the new content of `HOME`.
fn record_block() -> Vec<u8> {
    let mut b = vec![0xAB; SECTOR];
    b[..8].copy_from_slice(MAGIC);
    b
}

fn committed(journal: &[u8]) -> bool {
    journal[..8] == *MAGIC
}

/// Phase 1: the old home block made durable, then the new one journaled and
/// committed (flushed), then a write that was never flushed.
fn phase_one() -> Vec<DiskEvent> {
    let disk = CrashDisk::from_image(OverlayImage::zeroed(SIZE, SECTOR as u32).unwrap()).unwrap();
    record(&disk, |h| {
        h.write(HOME * SECTOR as u64, &[0x11; SECTOR]).unwrap();
        h.flush_buffers().unwrap();
        h.write(JOURNAL * SECTOR as u64, &record_block()).unwrap();
        h.flush_buffers().unwrap();
        h.write(20 * SECTOR as u64, &[0x22; SECTOR]).unwrap();
    })
}

/// Replays a committed journal record to its home, then clears the journal; with
/// `ordered`, a flush between the two makes the home block durable first.
fn recover(h: &Handle, ordered: bool) {
    let journal = h.read(JOURNAL * SECTOR as u64, SECTOR).unwrap();
    if committed(journal.bytes()) {
        h.write(HOME * SECTOR as u64, journal.bytes()).unwrap();
        if ordered {
            h.flush_buffers().unwrap();
        }
        h.write(JOURNAL * SECTOR as u64, &[0; SECTOR]).unwrap();
        h.flush_buffers().unwrap();
    }
}

struct Outcome {
    /// Crash states of the recovery checked.
    states: usize,
    /// Of those, states where the journal was cleared but its record never got home.
    lost: usize,
}

/// Crashes the recovery at every point of its own history, starting from the committed
/// crash state of phase one, and recovers again from every such state.
fn crash_the_recovery(ordered: bool) -> Outcome {
    let first = phase_one();
    let base = OverlayImage::zeroed(SIZE, SECTOR as u32).unwrap();
    let mut walk = Walk::new(base, &first);
    while walk.step(|_, _| {}).is_some() {}
    // The given crash state: the record committed, the unflushed write lost.
    let state = walk.state(&CrashPlan::LoseAll).to_image();
    assert!(committed(state.sector(JOURNAL)));
    assert_eq!(state.sector(HOME), &[0x11; SECTOR][..], "not replayed yet");

    // Phase 2: the recovery, recorded on a disk that starts as that state.
    let disk = CrashDisk::from_image(state.clone()).unwrap();
    let second = record(&disk, |h| recover(h, ordered));
    assert_eq!(second.len(), if ordered { 4 } else { 3 }, "{second:?}");

    let mut outcome = Outcome { states: 0, lost: 0 };
    let mut walk = Walk::new(state, &second);
    let mut rng = Rng::new(7);
    for p in 0..walk.points() {
        if p > 0 {
            walk.step(|_, _| {});
        }
        for plan in walk.plans(6, 8, &mut rng) {
            let crashed = walk.state(&plan);
            let view = crashed.view();
            outcome.states += 1;
            if !committed(view.sector(JOURNAL)) && view.sector(HOME) != record_block() {
                outcome.lost += 1;
                continue;
            }
            // A crash during the replay, then the replay again, from that state.
            let again = CrashDisk::from_image(crashed.to_image()).unwrap();
            let (_io, h) = open(&again);
            recover(&h, ordered);
            let done = again.durable_overlay();
            assert_eq!(done.sector(HOME), &record_block()[..], "point {p}, {plan}");
            assert!(!committed(done.sector(JOURNAL)), "point {p}, {plan}");
        }
    }
    outcome
}

#[test]
fn an_ordered_replay_survives_a_crash_at_every_point_of_itself() {
    let outcome = crash_the_recovery(true);
    assert_eq!(outcome.lost, 0);
    // Five points (before each of its 4 events, after the last), whose caches hold 0,
    // 1, 0, 1, 0 writes: lose-all alone, or lose-all and keep-all.
    assert_eq!(outcome.states, 1 + 2 + 1 + 2 + 1);
}

#[test]
fn a_replay_that_clears_the_journal_before_its_record_is_durable_is_caught() {
    let outcome = crash_the_recovery(false);
    assert!(outcome.lost > 0, "no state of {} lost the record", outcome.states);
}
