use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use irp::{Access, Device, DeviceRef, Driver, Handle, IoManager, Irp, MajorFunction, Status};

use super::*;
use disks::crash::{CrashDisk, CrashDiskOptions, CrashPlan};

const SIZE: u64 = 1 << 20;

/// Holds flushes on their way down (in their dispatching thread) while it is closed — for at
/// most [`Gate::PATIENCE`], so that a test whose flushes do not behave fails instead of
/// hanging.
#[derive(Default)]
struct Gate {
    /// (closed, flushes that have arrived so far)
    state: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl Gate {
    const PATIENCE: Duration = Duration::from_secs(30);

    fn set_closed(&self, closed: bool) {
        self.state.lock().unwrap().0 = closed;
        self.changed.notify_all();
    }

    /// Waits until `n` flushes have arrived at the gate.
    fn wait_for_arrivals(&self, n: usize) {
        let state = self.state.lock().unwrap();
        let (state, _) =
            self.changed.wait_timeout_while(state, Self::PATIENCE, |(_, arrived)| *arrived < n).unwrap();
        assert!(state.1 >= n, "{} of {n} flushes reached the gate", state.1);
    }

    /// A flush arrives: counted, then held while the gate is closed.
    fn pass(&self) {
        let mut state = self.state.lock().unwrap();
        state.1 += 1;
        self.changed.notify_all();
        drop(self.changed.wait_timeout_while(state, Self::PATIENCE, |(closed, _)| *closed).unwrap());
    }
}

/// A filter that fails writes (and flushes) while `failing` is set, and holds flushes at
/// `gate` while it is closed.
#[derive(Default)]
struct Flaky {
    failing: Arc<AtomicBool>,
    gate: Arc<Gate>,
}
impl Driver for Flaky {
    fn write(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        if self.failing.load(Ordering::SeqCst) {
            return irp.complete(Status::IO_DEVICE_ERROR);
        }
        irp.skip_current_location();
        device.lower().unwrap().call(irp)
    }
    fn flush_buffers(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        self.gate.pass();
        irp.skip_current_location();
        device.lower().unwrap().call(irp)
    }
}

struct Rig {
    _io: IoManager,
    handle: Handle,
    disk: Arc<CrashDisk>,
    cache: DeviceRef,
    failing: Arc<AtomicBool>,
    gate: Arc<Gate>,
}

impl Rig {
    fn cache(&self) -> &Cache {
        self.cache.driver_as::<Cache>().unwrap()
    }
}

fn rig(options: CacheOptions) -> Rig {
    let disk =
        CrashDisk::new(&CrashDiskOptions { size: Some(SIZE), sector_size: Some(512), ..Default::default() })
            .unwrap();
    let bottom = CrashDisk::create("crash", Arc::clone(&disk)).unwrap();
    let failing = Arc::new(AtomicBool::new(false));
    let gate = Arc::new(Gate::default());
    let flaky =
        Device::attach("flaky", Flaky { failing: Arc::clone(&failing), gate: Arc::clone(&gate) }, &bottom)
            .unwrap();
    let cache = Cache::create("cache", options, &flaky).unwrap();
    let io = IoManager::new();
    io.register("disk", &cache).unwrap();
    let handle = io.open("disk", Access::READ_WRITE).unwrap();
    Rig { _io: io, handle, disk, cache, failing, gate }
}

/// Blocks stay dirty until a flush, throttling or shutdown writes them.
fn slow_lazy() -> CacheOptions {
    CacheOptions { lazy_interval: Duration::from_secs(3600), eager: 0, ..CacheOptions::default() }
}

#[test]
fn writes_stay_in_the_cache_until_a_flush_writes_them_and_syncs_the_disk() {
    let r = rig(slow_lazy());
    r.handle.write(8192, &[7; 4096]).unwrap();
    assert_eq!(r.handle.read(8192, 4096).unwrap().bytes(), &[7; 4096]);
    assert_eq!(r.disk.live_image()[8192], 0, "nothing went down yet");
    r.handle.flush_buffers().unwrap();
    assert_eq!(r.disk.durable_image()[8192..12288], [7; 4096]);
    assert_eq!(r.disk.flush_count(), 1);
    assert_eq!(r.cache().usage().1, 0, "no dirty bytes left");
}

#[test]
fn fua_writes_are_written_through() {
    let r = rig(slow_lazy());
    r.handle.write_fua(0, &[3; 4096]).unwrap();
    let image = r.disk.crash(&CrashPlan::LoseAll).unwrap();
    assert_eq!(image[..4096], [3; 4096]);
}

#[test]
fn partial_block_writes_read_the_block_first() {
    let r = rig(slow_lazy());
    r.handle.write(0, &[1; 4096]).unwrap();
    r.handle.flush_buffers().unwrap();
    // Evict nothing, but write 512 bytes into a block that is cached...
    r.handle.write(512, &[2; 512]).unwrap();
    // ...and 512 bytes into one that is not.
    r.handle.write(4096 + 1024, &[3; 512]).unwrap();
    let back = r.handle.read(0, 8192).unwrap();
    let b = back.bytes();
    assert_eq!((b[0], b[512], b[1024], b[4096], b[5120], b[5632]), (1, 2, 1, 0, 3, 0));
    r.handle.flush_buffers().unwrap();
    assert_eq!(&r.disk.durable_image()[..8192], b);
}

#[test]
fn failed_write_behind_keeps_blocks_dirty_and_a_later_flush_writes_them() {
    let r = rig(slow_lazy());
    r.handle.write(0, &[9; 8192]).unwrap();
    r.failing.store(true, Ordering::SeqCst);
    assert_eq!(r.handle.flush_buffers(), Err(Status::IO_DEVICE_ERROR));
    assert_eq!(r.cache().usage().1, 8192, "both blocks still dirty");
    assert_eq!(r.disk.durable_image()[0], 0);
    r.failing.store(false, Ordering::SeqCst);
    r.handle.flush_buffers().unwrap();
    assert_eq!(r.disk.durable_image()[..8192], [9; 8192]);
}

#[test]
fn dirty_blocks_are_never_evicted_and_writers_are_throttled() {
    let options = CacheOptions { size: 16 * 1024, dirty_threshold: 8 * 1024, ..slow_lazy() };
    let r = rig(options);
    for i in 0..64u64 {
        r.handle.write(i * 4096, &[i as u8 + 1; 4096]).unwrap();
        let (bytes, dirty) = r.cache().usage();
        assert!(bytes <= 16 * 1024 && dirty <= 8 * 1024, "cache grew to {bytes} bytes, {dirty} dirty");
    }
    assert!(r.cache().counters().throttled > 0);
    for i in 0..64u64 {
        assert_eq!(r.handle.read(i * 4096, 4096).unwrap().bytes()[0], i as u8 + 1, "block {i}");
    }
    r.handle.flush_buffers().unwrap();
    let image = r.disk.durable_image();
    assert!((0..64usize).all(|i| image[i * 4096] == i as u8 + 1));
}

#[test]
fn the_lazy_writer_writes_behind_without_a_flush() {
    let options =
        CacheOptions { lazy_interval: Duration::from_millis(10), lazy_share: 1, ..CacheOptions::default() };
    let r = rig(options);
    r.handle.write(4096, &[5; 4096]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while r.disk.live_image()[4096] != 5 {
        assert!(Instant::now() < deadline, "the lazy writer never wrote the block");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Written, not flushed: the disk's own cache still holds it.
    assert_eq!(r.disk.flush_count(), 0);
}

/// Flushes that arrive while a round is in flight share one lower flush (group commit).
/// The first flush's lower flush is held at the gate; the others arrive meanwhile and each
/// is queued (its dispatch returns PENDING); once the gate opens, one more round serves them
/// all: two lower flushes for N flushes, whatever the timing.
#[test]
fn concurrent_flushes_coalesce() {
    const N: u64 = 8;
    let r = Arc::new(rig(slow_lazy()));
    r.gate.set_closed(true);
    let leader = {
        let r = Arc::clone(&r);
        std::thread::spawn(move || {
            r.handle.write(0, &[1; 4096]).unwrap();
            r.handle.flush_buffers()
        })
    };
    r.gate.wait_for_arrivals(1);
    let (tx, rx) = mpsc::channel();
    for i in 1..N {
        r.handle.write(i * 4096, &[i as u8 + 1; 4096]).unwrap();
        let tx = tx.clone();
        let flush = r.handle.new_irp(MajorFunction::FlushBuffers);
        let status = r.handle.submit(flush, move |done| tx.send(done.status()).unwrap());
        assert_eq!(status, Status::PENDING, "flush {i} queued behind the round in flight");
    }
    assert_eq!(r.cache().counters().lower_flushes, 1, "only the leader's went below so far");
    r.gate.set_closed(false);
    assert_eq!(leader.join().unwrap(), Ok(()));
    for _ in 1..N {
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), Status::SUCCESS);
    }
    let c = r.cache().counters();
    let (flushes, lower) = (c.flushes, c.lower_flushes);
    assert_eq!(flushes, N);
    assert_eq!(lower, 2, "{} queued flushes should share one lower flush; {lower} for {flushes}", N - 1);
    assert_eq!(r.disk.flush_count(), 2);
    let image = r.disk.durable_image();
    assert!((0..N as usize).all(|b| image[b * 4096] == b as u8 + 1));
}

#[test]
fn unsafe_mode_ignores_flushes_and_a_crash_loses_the_data() {
    let r = rig(CacheOptions { mode: CacheMode::Unsafe, ..slow_lazy() });
    assert!(r.cache.characteristics().contains(irp::Characteristics::UNSAFE_FLUSH));
    r.handle.write(0, &[1; 4096]).unwrap();
    r.handle.flush_buffers().unwrap();
    let image = r.disk.crash(&CrashPlan::KeepAll).unwrap();
    assert_eq!(image[0], 0, "the flush wrote nothing");
}

#[test]
fn writethrough_sends_every_write_down_before_completing() {
    let r = rig(CacheOptions { mode: CacheMode::WriteThrough, ..slow_lazy() });
    r.handle.write(0, &[4; 4096]).unwrap();
    assert_eq!(r.disk.live_image()[0], 4);
    assert_eq!(r.handle.read(0, 4096).unwrap().bytes(), &[4; 4096]);
    r.handle.flush_buffers().unwrap();
    assert_eq!(r.disk.durable_image()[0], 4);
}

#[test]
fn a_discard_supersedes_dirty_data() {
    let r = rig(slow_lazy());
    r.handle.write(0, &[8; 16384]).unwrap();
    r.handle.discard(4096, 8192).unwrap();
    r.handle.write_zeroes(512, 512, irp::RequestFlags::NONE).unwrap();
    let back = r.handle.read(0, 16384).unwrap();
    let b = back.bytes();
    assert_eq!((b[0], b[512], b[1024], b[4096], b[12287], b[12288]), (8, 0, 8, 0, 0, 8));
    r.handle.flush_buffers().unwrap();
    assert_eq!(&r.disk.durable_image()[..16384], b);
}

#[test]
fn shutdown_writes_everything() {
    let r = rig(slow_lazy());
    r.handle.write(0, &[6; 4096]).unwrap();
    r._io.shutdown().unwrap();
    assert_eq!(r.disk.durable_image()[0], 6);
}

#[test]
fn bad_settings_are_clear_errors() {
    let lower = disks::memory::MemoryDisk::create("mem", SIZE, 4096).unwrap();
    let err =
        Cache::create("c", CacheOptions { block_size: 512, ..CacheOptions::default() }, &lower).unwrap_err();
    assert!(err.to_string().contains("512"), "{err}");
    let err = Cache::create("c", CacheOptions { size: 100, ..CacheOptions::default() }, &lower).unwrap_err();
    assert!(err.to_string().contains("100"), "{err}");
}

/// A completion callback that sends another request down the same stack, from inside
/// the completion of a FUA write and of a discard, must not deadlock.
#[test]
fn completions_run_outside_the_cache_locks() {
    let r = rig(slow_lazy());
    for (i, major) in [irp::MajorFunction::Write, irp::MajorFunction::Discard].into_iter().enumerate() {
        let cache = Arc::clone(&r.cache);
        let (tx, rx) = std::sync::mpsc::channel();
        let irp = match major {
            irp::MajorFunction::Write => Irp::for_device(&cache, major)
                .with_parameters(irp::Parameters::Write { offset: 0, length: 4096 })
                .with_flags(irp::RequestFlags::FORCE_UNIT_ACCESS)
                .with_mdl(irp::Mdl::from_slice(&[1; 4096]).unwrap()),
            _ => Irp::for_device(&cache, major)
                .with_parameters(irp::Parameters::Discard { offset: 0, length: 4096 }),
        };
        let inner = Arc::clone(&cache);
        // In a thread of its own, so a deadlock fails the test instead of hanging it.
        std::thread::spawn(move || {
            cache.submit(irp, move |done| {
                assert_eq!(done.status(), Status::SUCCESS);
                // A flush from inside the completion needs the pass lock.
                let flush = inner.call_and_wait(Irp::for_device(&inner, irp::MajorFunction::FlushBuffers));
                tx.send(flush.status()).unwrap();
            })
        });
        let Ok(status) = rx.recv_timeout(Duration::from_secs(10)) else {
            // The stack is stuck: dropping it would wait on the same lock.
            std::mem::forget(r);
            panic!("case {i}: deadlock: a completion ran while the cache held its pass lock");
        };
        assert_eq!(status, Status::SUCCESS);
    }
}

#[test]
fn large_aligned_writes_go_around_the_cache_unless_it_holds_dirty_data_of_theirs() {
    let r = rig(CacheOptions { bypass: 8192, ..slow_lazy() });
    let bypassed = || r.cache().counters().bypassed;
    r.handle.write(4096, &[1; 4096]).unwrap();
    r.handle.write(20480, &[2; 1024]).unwrap();
    assert_eq!(r.cache().usage().1, 8192, "two dirty blocks");
    // 16 KiB over a dirty block: cached like any write (a failed write-around would
    // lose the dirty data).
    r.handle.write(0, &[3; 16384]).unwrap();
    assert_eq!(bypassed(), 0);
    r.handle.flush_buffers().unwrap();
    // Now only clean copies: straight down, the cached copies dropped.
    r.handle.write(0, &[4; 16384]).unwrap();
    assert_eq!(bypassed(), 1);
    assert_eq!(r.disk.live_image()[..16384], [4; 16384], "the write went down");
    assert_eq!(r.cache().usage().1, 0);
    // Unaligned or short writes are cached as before.
    r.handle.write(512, &[5; 12288]).unwrap();
    r.handle.write(32768, &[6; 4096]).unwrap();
    assert_eq!(bypassed(), 1);
    let back = r.handle.read(0, 36864).unwrap();
    let b = back.bytes();
    assert_eq!((b[0], b[512], b[12799], b[12800], b[20480], b[21504], b[32768]), (4, 5, 5, 4, 2, 0, 6));
    r.handle.flush_buffers().unwrap();
    assert_eq!(&r.disk.durable_image()[..36864], b);
}

/// A write around the cache that fails loses nothing the cache held.
#[test]
fn a_failed_write_around_loses_no_acknowledged_data() {
    let r = rig(CacheOptions { bypass: 8192, ..slow_lazy() });
    r.handle.write(0, &[1; 4096]).unwrap();
    r.failing.store(true, Ordering::SeqCst);
    assert!(r.handle.write(0, &[2; 8192]).is_ok(), "cached: the dirty block is in its range");
    r.handle.write(16384, &[3; 8192]).unwrap_err();
    r.failing.store(false, Ordering::SeqCst);
    r.handle.flush_buffers().unwrap();
    assert_eq!(r.disk.durable_image()[..8192], [2; 8192]);
}

/// Completes reads a while after they read the disk, in a thread of its own.
struct LateReads;
impl Driver for LateReads {
    fn read(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        irp.mark_pending();
        let lower = Arc::clone(device.lower().unwrap());
        std::thread::spawn(move || {
            let done = irp.forward_synchronously(&lower);
            std::thread::sleep(Duration::from_millis(150));
            let st = done.io_status();
            done.complete_with(st.status, st.information);
        });
        Status::PENDING
    }
}

/// A read that got the disk's data before a write went around the cache, and completes
/// after it, must not leave that older data in the cache.
#[test]
fn a_read_overtaken_by_a_write_around_caches_nothing_stale() {
    let disk = disks::memory::MemoryDisk::create("mem", SIZE, 4096).unwrap();
    let late = Device::attach("late", LateReads, &disk).unwrap();
    let options = CacheOptions { bypass: 8192, ..slow_lazy() };
    let cache = Cache::create("cache", options, &late).unwrap();
    let io = IoManager::new();
    io.register("disk", &cache).unwrap();
    let handle = io.open("disk", Access::READ_WRITE).unwrap();
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| handle.read(0, 8192).unwrap().bytes().to_vec());
        std::thread::sleep(Duration::from_millis(50));
        handle.write(0, &[7; 8192]).unwrap();
        let old = reader.join().unwrap();
        assert!(old == [0; 8192] || old == [7; 8192], "a concurrent read sees one or the other");
    });
    assert_eq!(handle.read(0, 8192).unwrap().bytes(), &[7; 8192], "the cache kept the older data");
}

#[test]
fn past_half_the_dirty_threshold_the_lazy_writer_writes_behind_at_once() {
    let options = CacheOptions { size: 64 * 1024, dirty_threshold: 32 * 1024, ..slow_lazy() };
    let r = rig(options);
    for i in 0..6u64 {
        r.handle.write(i * 4096, &[8; 4096]).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.cache().usage().1 > 16 * 1024 {
        assert!(Instant::now() < deadline, "the lazy writer (period: an hour) was not woken");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(r.cache().counters().throttled, 0, "no writer had to wait");
    assert!(r.disk.live_image()[..24576].contains(&8), "blocks went down without a flush");
}

/// Flushes from many threads, each completion sending another flush down the same stack
/// and waiting for it (in the thread that completes the round: the lazy writer, or the
/// leader): no deadlock, and every flush succeeds.
#[test]
fn a_flush_completion_may_flush_the_same_stack_and_wait() {
    let r = rig(slow_lazy());
    let (tx, rx) = std::sync::mpsc::channel();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let (cache, tx) = (Arc::clone(&r.cache), tx.clone());
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    let write = Irp::for_device(&cache, irp::MajorFunction::Write)
                        .with_parameters(irp::Parameters::Write {
                            offset: (t * 32 + i % 32) * 4096,
                            length: 4096,
                        })
                        .with_mdl(irp::Mdl::from_slice(&[t as u8; 4096]).unwrap());
                    assert_eq!(cache.call_and_wait(write).status(), Status::SUCCESS);
                    let inner = Arc::clone(&cache);
                    let tx = tx.clone();
                    cache.submit(Irp::for_device(&cache, irp::MajorFunction::FlushBuffers), move |done| {
                        let again =
                            inner.call_and_wait(Irp::for_device(&inner, irp::MajorFunction::FlushBuffers));
                        tx.send((done.status(), again.status())).unwrap();
                    });
                }
            })
        })
        .collect();
    drop(tx);
    for _ in 0..8 * 50 {
        let Ok((first, again)) = rx.recv_timeout(Duration::from_secs(20)) else {
            std::mem::forget(r);
            panic!("deadlock: a flush sent from a flush completion never completed");
        };
        assert_eq!((first, again), (Status::SUCCESS, Status::SUCCESS));
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(r.cache().counters().lower_flushes > 0);
}

#[test]
fn a_small_write_into_a_clean_cache_is_written_behind_at_once_without_a_device_sync() {
    let r = rig(CacheOptions { lazy_interval: Duration::from_secs(3600), ..CacheOptions::default() });
    let eager = || r.cache().counters().eager;
    r.handle.write(8192, &[7; 4096]).unwrap();
    // The lazy writer writes it behind right away (not at its hour-long interval).
    wait_until("the eager write-behind", || r.cache().usage().1 == 0);
    assert_eq!(eager(), 1);
    assert_eq!(r.disk.live_image()[8192..12288], [7; 4096], "written below as soon as it completed");
    assert_eq!(r.disk.flush_count(), 0, "no device sync: durable only after a flush");
    assert_eq!(r.disk.durable_image()[8192], 0);

    // Larger than `eager` (64K): cached and left dirty; a small write into the now
    // dirty cache is not written behind either.
    r.handle.write(0, &[1; 128 << 10]).unwrap();
    r.handle.write(512 << 10, &[2; 4096]).unwrap();
    // Give a wrongly asked eager pass the time to show.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(eager(), 1);
    assert_eq!(r.disk.live_image()[0], 0);
    assert_eq!(r.disk.live_image()[512 << 10], 0);
    r.handle.flush_buffers().unwrap();
    let durable = r.disk.durable_image();
    assert_eq!(durable[..128 << 10], [1; 128 << 10]);
    assert_eq!(durable[512 << 10..(512 << 10) + 4096], [2; 4096]);
}

#[test]
fn a_failed_eager_write_behind_leaves_the_block_dirty_for_the_flush() {
    let r = rig(CacheOptions { lazy_interval: Duration::from_secs(3600), ..CacheOptions::default() });
    r.failing.store(true, Ordering::SeqCst);
    r.handle.write(4096, &[9; 4096]).unwrap();
    wait_until("the eager write-behind", || r.cache().counters().eager == 1);
    // The pass counts before it writes: wait for the failed write to come back.
    wait_until("the failed eager write", || r.cache().counters().write_errors > 0);
    assert_eq!(r.cache().usage().1, 4096, "the failed block stays dirty");
    assert!(r.handle.flush_buffers().is_err(), "the flush that needs it fails");
    r.failing.store(false, Ordering::SeqCst);
    r.handle.flush_buffers().unwrap();
    assert_eq!(r.disk.durable_image()[4096..8192], [9; 4096]);
}

/// Holds writes of at least 8 KiB, and write-zeroes, for a while before sending them
/// down, in a thread of their own.
struct LateBulkWrites;
impl LateBulkWrites {
    fn late(device: &DeviceRef, mut irp: Irp) -> Status {
        let lower = Arc::clone(device.lower().unwrap());
        irp.mark_pending();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let done = irp.forward_synchronously(&lower);
            let st = done.io_status();
            done.complete_with(st.status, st.information);
        });
        Status::PENDING
    }
}
impl Driver for LateBulkWrites {
    fn write(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        if irp.mdl().is_none_or(|m| m.byte_count() < 8192) {
            irp.skip_current_location();
            return device.lower().unwrap().call(irp);
        }
        Self::late(device, irp)
    }
    fn write_zeroes(&self, device: &DeviceRef, irp: Irp) -> Status {
        Self::late(device, irp)
    }
}

/// The cache over a memory disk, with [`LateBulkWrites`] between them.
fn late_bulk_rig() -> (IoManager, Handle) {
    let disk = disks::memory::MemoryDisk::create("mem", SIZE, 512).unwrap();
    let late = Device::attach("late", LateBulkWrites, &disk).unwrap();
    let cache = Cache::create("cache", CacheOptions { bypass: 8192, ..slow_lazy() }, &late).unwrap();
    let io = IoManager::new();
    io.register("disk", &cache).unwrap();
    let handle = io.open("disk", Access::READ_WRITE).unwrap();
    (io, handle)
}

/// A partial-block write that arrives while a write around the cache covering its block
/// is still on its way down must not fill the block from below (the disk still has the
/// data from before the write-around) and cache it: a flush would then write that older
/// data back over the write-around's. Whatever the order of the two writes, the bytes
/// only the write-around wrote end up with its data.
#[test]
fn a_partial_write_racing_a_write_around_does_not_bring_back_older_data() {
    let (_io, handle) = late_bulk_rig();
    let b = race_a_partial_write(&handle, |h| assert_eq!(h.write(0, &[7; 8192]).unwrap(), 8192));
    assert!(b[..512] == [9; 512] || b[..512] == [7; 512], "one write or the other");
    assert_eq!(b[512..], [7; 7680], "bytes only the write-around wrote lost its data");
}

/// The same race with write-zeroes, which also goes below the cache.
#[test]
fn a_partial_write_racing_write_zeroes_does_not_bring_back_older_data() {
    let (_io, handle) = late_bulk_rig();
    handle.write(0, &[5; 4096]).unwrap();
    handle.flush_buffers().unwrap();
    let b = race_a_partial_write(&handle, |h| h.write_zeroes(0, 8192, irp::RequestFlags::NONE).unwrap());
    assert!(b[..512] == [9; 512] || b[..512] == [0; 512], "one request or the other");
    assert_eq!(b[512..], [0; 7680], "bytes only the write-zeroes wrote lost its zeroes");
}

/// Runs `below` (a request of 8 KiB at 0 that goes below the cache, held back by
/// [`LateBulkWrites`]) and, while it is held, a 512-byte write of 9s at 0; then flushes
/// and returns what the first 8 KiB read.
fn race_a_partial_write(handle: &Handle, below: impl FnOnce(&Handle) + Send) -> Vec<u8> {
    std::thread::scope(|scope| {
        let below = scope.spawn(|| below(handle));
        std::thread::sleep(Duration::from_millis(50));
        handle.write(0, &[9; 512]).unwrap();
        below.join().unwrap();
    });
    handle.flush_buffers().unwrap();
    handle.read(0, 8192).unwrap().bytes().to_vec()
}

/// Waits (up to 10 s) until `done`, for work another thread does (the lazy writer).
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what} did not happen within 10 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}
