use std::time::{Duration, Instant};

use irp::{Access, IoManager, RequestFlags, Status};

use super::*;

fn open(disk: &Arc<CrashDisk>) -> (IoManager, irp::Handle) {
    let io = IoManager::new();
    let dev = CrashDisk::create("crash", Arc::clone(disk)).unwrap();
    io.register("crash", &dev).unwrap();
    let h = io.open("crash", Access::READ_WRITE).unwrap();
    (io, h)
}

fn memory_disk(size: u64) -> Arc<CrashDisk> {
    CrashDisk::new(&CrashDiskOptions { size: Some(size), sector_size: Some(512), ..Default::default() })
        .unwrap()
}

#[test]
fn writes_are_volatile_until_flushed() {
    let disk = memory_disk(8192);
    let (_io, h) = open(&disk);
    h.write(0, &[1; 512]).unwrap();
    assert_eq!(h.read(0, 512).unwrap().bytes(), &[1; 512]);
    assert_eq!(disk.durable_image()[..512], [0; 512]);
    assert_eq!(disk.unflushed().len(), 1);
    h.flush_buffers().unwrap();
    assert_eq!(disk.durable_image()[..512], [1; 512]);
    assert!(disk.unflushed().is_empty());
    assert_eq!(disk.flush_count(), 1);
}

#[test]
fn fua_writes_are_durable_at_completion_and_survive_a_lose_all_crash() {
    let disk = memory_disk(8192);
    let (_io, h) = open(&disk);
    h.write(0, &[1; 512]).unwrap();
    h.write_fua(512, &[2; 512]).unwrap();
    h.write(1024, &[3; 512]).unwrap();
    let image = disk.crash(&CrashPlan::LoseAll).unwrap();
    assert_eq!(image[..512], [0; 512]);
    assert_eq!(image[512..1024], [2; 512]);
    assert_eq!(image[1024..1536], [0; 512]);
    // The disk is gone.
    assert_eq!(h.write(0, &[9; 512]), Err(Status::DEVICE_DOES_NOT_EXIST));
    assert_eq!(h.flush_buffers(), Err(Status::DEVICE_DOES_NOT_EXIST));
}

#[test]
fn an_older_cached_write_never_lands_over_newer_fua_data() {
    let disk = memory_disk(4096);
    let (_io, h) = open(&disk);
    h.write(0, &[1; 512]).unwrap();
    h.write_fua(0, &[2; 512]).unwrap();
    let image = disk.crash(&CrashPlan::KeepAll).unwrap();
    assert_eq!(image[..512], [2; 512]);
}

#[test]
fn subsets_and_torn_writes() {
    let disk = memory_disk(8192);
    let (_io, h) = open(&disk);
    h.write(0, &[1; 1024]).unwrap();
    h.write(2048, &[2; 1024]).unwrap();
    let cache = disk.unflushed();
    let mut image = disk.durable_image();
    CrashPlan::Subset { keep: vec![false, true] }.apply(&mut image, &cache, 512);
    assert_eq!((image[0], image[2048]), (0, 2));
    let mut image = disk.durable_image();
    CrashPlan::Torn { keep: vec![false, false], torn: 0, sectors: vec![false, true] }
        .apply(&mut image, &cache, 512);
    assert_eq!((image[0], image[512], image[2048]), (0, 1, 0));
    // Seeded plans are deterministic.
    let a = CrashPlan::Seeded { seed: 7, torn: true }.resolve(&cache, 512);
    assert_eq!(a, CrashPlan::Seeded { seed: 7, torn: true }.resolve(&cache, 512));
    assert!(matches!(a, CrashPlan::Torn { .. }));
}

#[test]
fn discard_and_write_zeroes_are_cached_writes_of_zeroes() {
    let disk = memory_disk(4096);
    let (_io, h) = open(&disk);
    h.write(0, &[7; 1024]).unwrap();
    h.flush_buffers().unwrap();
    h.discard(0, 512).unwrap();
    h.write_zeroes(512, 512, RequestFlags::NONE).unwrap();
    assert_eq!(h.read(0, 1024).unwrap().bytes(), &[0; 1024]);
    assert_eq!(disk.durable_image()[..1024], [7; 1024]);
    assert_eq!(disk.unflushed().len(), 2);
}

#[test]
fn control_file_orders_a_crash_and_the_file_image_survives_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("disk.img");
    let control = dir.path().join("crash-now");
    let options = CrashDiskOptions {
        size: Some(64 * 1024),
        sector_size: Some(512),
        path: Some(image.clone()),
        control_file: Some(control.clone()),
        on_sigusr1: false,
        ..Default::default()
    };
    let disk = CrashDisk::new(&options).unwrap();
    let (_io, h) = open(&disk);
    h.write(0, &[5; 512]).unwrap();
    h.flush_buffers().unwrap();
    h.write(512, &[6; 512]).unwrap();
    std::fs::write(&control, "lose-all\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while disk.crashed().is_none() {
        assert!(Instant::now() < deadline, "the control file did not crash the disk");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(disk.crashed(), Some(CrashPlan::LoseAll));
    let on_disk = std::fs::read(&image).unwrap();
    assert_eq!(on_disk[..512], [5; 512]);
    assert_eq!(on_disk[512..1024], [0; 512]);
    // A new process (here: a new disk) over the same file sees the surviving image.
    drop(h);
    let again =
        CrashDisk::new(&CrashDiskOptions { path: Some(image), sector_size: Some(512), ..Default::default() })
            .unwrap();
    assert_eq!(again.live_image()[..512], [5; 512]);
}

#[test]
fn plans_parse_from_control_file_text() {
    assert_eq!(CrashPlan::parse(""), Some(CrashPlan::LoseAll));
    assert_eq!(CrashPlan::parse("keep-all\n"), Some(CrashPlan::KeepAll));
    assert_eq!(CrashPlan::parse("subset 42"), Some(CrashPlan::Seeded { seed: 42, torn: false }));
    assert_eq!(CrashPlan::parse("torn 1"), Some(CrashPlan::Seeded { seed: 1, torn: true }));
    assert_eq!(CrashPlan::parse("subset x"), None);
    assert_eq!(CrashPlan::parse("melt"), None);
}

#[test]
fn bad_options_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.img");
    let err = CrashDisk::new(&CrashDiskOptions { path: Some(missing), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("nope.img"), "{err}");
    let err =
        CrashDisk::new(&CrashDiskOptions { size: Some(1000), sector_size: Some(512), ..Default::default() })
            .unwrap_err();
    assert!(err.to_string().contains("1000"), "{err}");
}

/// Every cached-write shape a plan can meet: overlapping, FUA, unaligned, multi-sector.
fn mixed_cache(disk: &Arc<CrashDisk>) -> Vec<UnflushedWrite> {
    let (_io, h) = open(disk);
    h.write(0, &[1; 2048]).unwrap();
    h.flush_buffers().unwrap();
    h.write(512, &[2; 1536]).unwrap();
    h.write_fua(1024, &[3; 512]).unwrap();
    h.write(1000, &[4; 100]).unwrap();
    h.write(3072, &[5; 1024]).unwrap();
    disk.unflushed()
}

#[test]
fn a_plan_layer_over_the_durable_overlay_is_what_apply_makes_of_a_flat_image() {
    let disk = memory_disk(8192);
    let cache = mixed_cache(&disk);
    let durable = disk.durable_overlay();
    let n = cache.len();
    let mut plans = vec![CrashPlan::LoseAll, CrashPlan::KeepAll, CrashPlan::Seeded { seed: 5, torn: true }];
    plans.extend(
        (0..1u64 << n).map(|m| CrashPlan::Subset { keep: (0..n).map(|i| m >> i & 1 == 1).collect() }),
    );
    for torn in 0..n {
        for m in 0..4u64 {
            let sectors = (0..4).map(|j| m >> (j % 2) & 1 == 1).collect();
            plans.push(CrashPlan::Torn { keep: vec![true; n], torn, sectors });
        }
    }
    for plan in &plans {
        let mut flat = disk.durable_image();
        plan.apply(&mut flat, &cache, 512);
        let layer = plan.layer(&durable, &cache);
        assert_eq!(durable.stacked(&layer).to_vec(), flat, "{plan}");
        assert!(layer.sectors().all(|s| s < 8), "{plan}: only sectors the cache covers");
    }
    assert_eq!(disk.durable_image(), durable.to_vec(), "building layers left the durable image alone");
}

#[test]
fn crash_image_shares_what_survived_and_a_disk_restarts_over_it() {
    let disk = memory_disk(64 << 20);
    let (_io, h) = open(&disk);
    h.write(0, &[1; 4096]).unwrap();
    h.flush_buffers().unwrap();
    h.write(4096, &[2; 512]).unwrap();
    h.write(1 << 20, &[3; 512]).unwrap();
    let image = disk.crash_image(&CrashPlan::Subset { keep: vec![false, true] }).unwrap();
    assert_eq!(image.changes().sectors().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6, 7, 2048]);
    assert_eq!(image.copied(), 0, "aligned writes were shared, never copied");
    let again = CrashDisk::from_image(image).unwrap();
    let (_io2, h2) = open(&again);
    assert_eq!(h2.read(0, 512).unwrap().bytes(), &[1; 512]);
    assert_eq!(h2.read(4096, 512).unwrap().bytes(), &[0; 512], "lost");
    assert_eq!(h2.read(1 << 20, 512).unwrap().bytes(), &[3; 512], "kept");
    // The restarted disk is a disk of its own: writing it leaves the crash image alone.
    h2.write(0, &[9; 512]).unwrap();
    h2.flush_buffers().unwrap();
    assert_eq!(disk.durable_overlay().sector(0), &[1; 512][..]);
}

#[test]
fn a_crash_of_a_file_image_writes_what_survived_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let options = CrashDiskOptions {
        size: Some(8192),
        sector_size: Some(512),
        path: Some(path.clone()),
        ..Default::default()
    };
    let disk = CrashDisk::new(&options).unwrap();
    let (_io, h) = open(&disk);
    h.write(0, &[1; 1024]).unwrap();
    h.flush_buffers().unwrap();
    h.write(0, &[2; 512]).unwrap();
    h.write(2048, &[3; 1024]).unwrap();
    let image = disk
        .crash(&CrashPlan::Torn { keep: vec![false, false], torn: 1, sectors: vec![false, true] })
        .unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk, image);
    assert_eq!((on_disk[0], on_disk[512], on_disk[2048], on_disk[2560]), (1, 1, 0, 3));
}
