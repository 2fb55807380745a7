//! DESIGN.md contract 4 (errors are never lost), with `fault` failing writes and
//! flushes below the write-back cache: no flush reports success for data that did not
//! reach storage, and the data is written by a later successful flush.

use std::sync::Arc;

use disks::crash::{CrashDisk, CrashDiskOptions};
use filters::cache::{Cache, CacheOptions};
use filters::fault::{Fault, FaultOptions};
use irp::{Access, IoManager, MajorFunction};

const BLOCK: usize = 4096;
const BLOCKS: usize = 64;

fn run(seed: u64) {
    let disk = CrashDisk::new(&CrashDiskOptions {
        size: Some((BLOCK * BLOCKS) as u64),
        sector_size: Some(512),
        ..Default::default()
    })
    .unwrap();
    let bottom = CrashDisk::create("crash", Arc::clone(&disk)).unwrap();
    let options =
        FaultOptions::from_params([("op", "write+flush"), ("rate", "0.3"), ("seed", &seed.to_string())])
            .unwrap();
    let fault = Fault::create("fault", options, &bottom).unwrap();
    let cache_options = CacheOptions {
        size: 32 * BLOCK as u64,
        dirty_threshold: 24 * BLOCK as u64,
        lazy_interval: std::time::Duration::from_secs(3600),
        ..CacheOptions::default()
    };
    let top = Cache::create("cache", cache_options, &fault).unwrap();
    let io = IoManager::new();
    io.register("d", &top).unwrap();
    let h = io.open("d", Access::READ_WRITE).unwrap();

    // What the caller believes each block holds.
    let mut expected = [0u8; BLOCKS];
    let mut rng = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut next = || {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) as usize
    };
    let (mut ok_flushes, mut failed_flushes) = (0, 0);
    for round in 0..200 {
        let block = next() % BLOCKS;
        let value = (round % 250 + 1) as u8;
        if h.write((block * BLOCK) as u64, &[value; BLOCK]).is_ok() {
            expected[block] = value;
        }
        if next() % 3 == 0 {
            match h.flush_buffers() {
                Ok(()) => {
                    ok_flushes += 1;
                    // Everything written before the flush is on stable storage now.
                    let durable = disk.durable_image();
                    for (b, &v) in expected.iter().enumerate() {
                        assert_eq!(
                            durable[b * BLOCK],
                            v,
                            "seed {seed} round {round}: flush succeeded but block {b} is not durable"
                        );
                    }
                }
                Err(_) => failed_flushes += 1,
            }
        }
    }
    assert!(ok_flushes > 0 && failed_flushes > 0, "seed {seed}: {ok_flushes} ok, {failed_flushes} failed");
    // Faults stop: the next successful flush writes everything that failed before.
    top.lower().unwrap().driver_as::<Fault>().unwrap().control().set_enabled(false);
    h.flush_buffers().unwrap();
    let durable = disk.durable_image();
    for (b, &v) in expected.iter().enumerate() {
        assert_eq!(durable[b * BLOCK], v, "seed {seed}: block {b} never written after the faults stopped");
    }
    let faults = top.lower().unwrap().driver_as::<Fault>().unwrap().control().counts(MajorFunction::Write);
    assert!(faults.failed > 0, "no write ever failed: the test proves nothing");
}

#[test]
fn failed_writes_and_flushes_below_the_cache_are_never_reported_as_durable() {
    for seed in 1..=8 {
        run(seed);
    }
}

/// `op=flush,nth=3` under a write-back cache fails the third flush a client sends, not
/// the third flush to reach the filter: the cache's eager write-behind sends `NoSync`
/// flushes of its own after small writes into a clean cache, which only `flushes=all`
/// counts.
#[test]
fn nth_flush_counts_client_flushes_unless_asked_to_count_all() {
    let stack = |extra: &[(&str, &str)]| {
        let disk = CrashDisk::new(&CrashDiskOptions {
            size: Some((BLOCK * BLOCKS) as u64),
            sector_size: Some(512),
            ..Default::default()
        })
        .unwrap();
        let bottom = CrashDisk::create("crash", Arc::clone(&disk)).unwrap();
        let mut params = vec![("op", "flush"), ("nth", "3")];
        params.extend_from_slice(extra);
        let fault = Fault::create("fault", FaultOptions::from_params(params).unwrap(), &bottom).unwrap();
        let cache_options = CacheOptions {
            size: 32 * BLOCK as u64,
            lazy_interval: std::time::Duration::from_secs(3600),
            ..CacheOptions::default()
        };
        let top = Cache::create("cache", cache_options, &fault).unwrap();
        let io = IoManager::new();
        io.register("d", &top).unwrap();
        let h = io.open("d", Access::READ_WRITE).unwrap();
        // A small write into a clean cache, then a client flush, five times over: each
        // write is written behind eagerly with a NoSync flush of the cache's own.
        let results: Vec<bool> = (0..5)
            .map(|i| {
                h.write(i * BLOCK as u64, &[i as u8 + 1; 512]).unwrap();
                h.flush_buffers().is_ok()
            })
            .collect();
        let counts = fault.driver_as::<Fault>().unwrap().control().counts(MajorFunction::FlushBuffers);
        (results, counts)
    };

    let (results, counts) = stack(&[]);
    assert_eq!(results, [true, true, false, true, true], "the third client flush fails");
    assert_eq!(counts.failed, 1);
    assert!(counts.seen > counts.matched, "NoSync flushes passed unnumbered: {counts:?}");

    let (results, counts) = stack(&[("flushes", "all")]);
    assert_eq!(counts.failed, 1);
    assert_eq!(counts.seen, counts.matched, "flushes=all numbers every flush: {counts:?}");
    assert!(results.iter().filter(|ok| !**ok).count() <= 1, "{results:?}");
}

/// A panic in the cache's lazy writer fails the flushes queued for it with
/// STATUS_INTERNAL_ERROR — nobody is left waiting for a round that will never run — and
/// later flushes run their rounds in their callers' threads.
#[test]
fn a_panic_in_the_lazy_writer_fails_its_queued_flushes_and_later_ones_still_work() {
    use std::sync::mpsc;
    use std::time::Duration;

    let disk = CrashDisk::new(&CrashDiskOptions {
        size: Some((BLOCK * BLOCKS) as u64),
        sector_size: Some(512),
        ..Default::default()
    })
    .unwrap();
    let bottom = CrashDisk::create("crash", Arc::clone(&disk)).unwrap();
    // Flushes below the cache take a second: the first flush's round is still running
    // when the second one arrives, which then queues for the lazy writer.
    let slow = FaultOptions::from_params([("op", "flush"), ("delay", "1s"), ("nth", "1")]).unwrap();
    let fault = Fault::create("slow-flush", slow, &bottom).unwrap();
    let cache_options = CacheOptions { size: 32 * BLOCK as u64, ..CacheOptions::default() };
    let name = "panicky-lazy-writer";
    let top = Cache::create(name, cache_options, &fault).unwrap();
    let io = IoManager::new();
    io.register("d", &top).unwrap();
    let h = Arc::new(io.open("d", Access::READ_WRITE).unwrap());
    irp::testing::panics::arm("cache-lazy-writer", name, 1);

    let (tx, rx) = mpsc::channel();
    let first = {
        let (h, tx) = (Arc::clone(&h), tx.clone());
        std::thread::spawn(move || tx.send(("first", h.flush_buffers())).unwrap())
    };
    let control = Arc::clone(fault.driver_as::<Fault>().unwrap().control());
    while control.counts(MajorFunction::FlushBuffers).delayed == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    // The first flush's round is inside the lower flush's delay: this one queues.
    let second = h.new_irp(MajorFunction::FlushBuffers);
    let second_tx = tx.clone();
    h.submit(second, move |done| second_tx.send(("second", done.status().ok())).unwrap());
    let mut results = std::collections::HashMap::new();
    for _ in 0..2 {
        let (which, result) = rx.recv_timeout(Duration::from_secs(30)).expect("no flush is left waiting");
        results.insert(which, result);
    }
    first.join().unwrap();
    assert_eq!(results["first"], Ok(()), "the round that ran succeeded");
    assert_eq!(results["second"], Err(irp::Status::INTERNAL_ERROR), "the queued flush failed");
    assert_eq!(irp::testing::panics::pending("cache-lazy-writer", name), 0, "the panic fired");
    h.write(0, &[5; 512]).unwrap();
    h.flush_buffers().expect("later flushes run without the lazy writer");
    assert!(disk.unflushed().is_empty(), "and reached the disk");
}
