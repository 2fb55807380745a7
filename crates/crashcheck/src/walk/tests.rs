use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use disks::crash::{CrashDisk, CrashDiskOptions, Sectors};
use irp::{Access, Handle, IoManager};

use super::*;

const SIZE: u64 = 16 * 512;

fn disk() -> Arc<CrashDisk> {
    CrashDisk::new(&CrashDiskOptions { size: Some(SIZE), sector_size: Some(512), ..Default::default() })
        .unwrap()
}

fn open(disk: &Arc<CrashDisk>) -> (IoManager, Handle) {
    let io = IoManager::new();
    io.register("d", &CrashDisk::create("d", Arc::clone(disk)).unwrap()).unwrap();
    let h = io.open("d", Access::READ_WRITE).unwrap();
    (io, h)
}

/// Sends `event` to a disk as a request.
fn replay(h: &Handle, event: &DiskEvent) {
    match event {
        DiskEvent::Write { offset, data, fua: false, .. } => drop(h.write(*offset, data).unwrap()),
        DiskEvent::Write { offset, data, fua: true, .. } => drop(h.write_fua(*offset, data).unwrap()),
        DiskEvent::Flush { .. } => h.flush_buffers().unwrap(),
    }
}

/// Overlapping, multi-sector, FUA, unaligned and zeroing writes, and flushes.
fn record() -> Vec<DiskEvent> {
    let d = disk();
    d.start_recording(Arc::new(AtomicU64::new(1)));
    let (_io, h) = open(&d);
    h.write(0, &[1; 2048]).unwrap();
    h.write(1024, &[2; 1024]).unwrap();
    h.flush_buffers().unwrap();
    h.write_fua(512, &[3; 512]).unwrap();
    h.write(700, &[4; 100]).unwrap();
    h.discard(1536, 1024).unwrap();
    h.write(4096, &[5; 1536]).unwrap();
    h.flush_buffers().unwrap();
    h.write(0, &[6; 512]).unwrap();
    h.write_fua(6144, &[7; 1024]).unwrap();
    d.take_events()
}

/// At every point, every state the walk builds is what the crash disk keeps when it is
/// cut there with the same plan.
#[test]
fn every_state_is_what_the_crash_disk_keeps() {
    let events = record();
    assert_eq!(events.len(), 10);
    let mut walk = Walk::new(OverlayImage::zeroed(SIZE, 512).unwrap(), &events);
    let mut rng = Rng::new(1);
    let mut states = 0;
    for p in 0..walk.points() {
        if p > 0 {
            walk.step(|_, _| {});
        }
        assert_eq!(walk.point(), p);
        let plans = walk.plans(6, 8, &mut rng);
        for plan in plans.iter().chain([&CrashPlan::Seeded { seed: p as u64, torn: true }]) {
            let reference = disk();
            let (_io, h) = open(&reference);
            events[..p].iter().for_each(|e| replay(&h, e));
            if plan == &plans[0] {
                assert_eq!(walk.durable().to_vec(), reference.durable_image(), "point {p}");
                assert_eq!(walk.cache().len(), reference.unflushed().len(), "point {p}");
            }
            let kept = reference.crash(plan).unwrap();
            let state = walk.state(plan);
            assert_eq!(state.view().to_vec(), kept, "point {p}, {plan}");
            assert_eq!(state.to_image().to_vec(), kept, "point {p}, {plan}");
            let cached = walk.cached_sectors();
            assert!(state.layer().sectors().all(|s| cached.contains(&s)), "point {p}, {plan}");
            states += 1;
        }
    }
    assert!(states > 60, "{states} states");
}

#[test]
fn crash_time_is_the_next_event_stamp() {
    let events = record();
    let mut walk = Walk::new(OverlayImage::zeroed(SIZE, 512).unwrap(), &events);
    assert_eq!(walk.crash_time(), crate::replay::stamp(&events[0]));
    while walk.step(|_, _| {}).is_some() {}
    assert_eq!((walk.point(), walk.crash_time()), (events.len(), u64::MAX));
}
