//! The checker passes correct stacks and catches every broken flush promise the issue
//! names: a filter that swallows flush, a cache that forwards the flush before writing
//! its dirty blocks, a cache that marks blocks clean before their write succeeded,
//! `cache(mode=unsafe)`, and a filter that lies about flush.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crashcheck::{CheckError, Config};
use filters::cache::{Cache, CacheMode, CacheOptions};
use irp::{
    Characteristics, Device, DeviceBuilder, DeviceRef, Driver, Irp, MajorFunction, Mdl, Parameters, Status,
};

fn config(seed: u64) -> Config {
    Config { ops: 160, seed, threads: 3, disk_size: 256 * 1024, restart_every: 8, ..Config::default() }
}

fn expect_pass(build: &crashcheck::StackBuilder<'_>) {
    for seed in 1..=3 {
        match crashcheck::check(&config(seed), build) {
            Ok(report) => {
                assert!(report.states > 100, "{report}");
                assert!(report.verifier.is_empty(), "{report}");
            }
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }
}

fn expect_caught(build: &crashcheck::StackBuilder<'_>) -> String {
    for seed in 1..=20 {
        match crashcheck::check(&config(seed), build) {
            Ok(_) => continue,
            Err(CheckError::Violation(f)) => {
                let text = f.to_string();
                for part in ["--seed", "crash point", "crash mode", "sector", "allowed", "found"] {
                    assert!(text.contains(part), "{part} missing from:\n{text}");
                }
                return text;
            }
            Err(e) => panic!("setup failed: {e}"),
        }
    }
    panic!("20 seeds and the broken stack was never caught");
}

fn cache(mode: CacheMode) -> impl Fn(&DeviceRef) -> Result<DeviceRef, String> {
    move |lower| {
        let options =
            CacheOptions { size: 64 * 1024, dirty_threshold: 48 * 1024, mode, ..CacheOptions::default() };
        Cache::create("cache", options, lower).map_err(|e| e.to_string())
    }
}

#[test]
fn the_bare_crash_disk_passes() {
    expect_pass(&|lower| Ok(Arc::clone(lower)));
}

#[test]
fn the_write_back_cache_passes() {
    expect_pass(&cache(CacheMode::WriteBack));
}

/// Writes of 2 to 4 sectors (8–16 KiB) go around the cache, shorter ones are cached.
#[test]
fn the_write_back_cache_passes_with_large_writes_going_around_it() {
    expect_pass(&|lower| {
        let options = CacheOptions {
            size: 64 * 1024,
            dirty_threshold: 48 * 1024,
            bypass: 8192,
            ..CacheOptions::default()
        };
        Cache::create("cache", options, lower).map_err(|e| e.to_string())
    });
}

#[test]
fn the_write_through_cache_passes() {
    expect_pass(&cache(CacheMode::WriteThrough));
}

#[test]
fn the_unsafe_cache_is_caught() {
    let text = expect_caught(&cache(CacheMode::Unsafe));
    assert!(text.contains("made durable by"), "{text}");
}

/// Completes every flush with success without sending it down.
struct SwallowFlush;
impl Driver for SwallowFlush {
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
}

#[test]
fn a_filter_that_swallows_flush_is_caught() {
    let text =
        expect_caught(&|lower| Device::attach("swallow", SwallowFlush, lower).map_err(|e| e.to_string()));
    // The verifier saw it too.
    assert!(text.contains("IRPSTACK-V006"), "{text}");
}

/// A filter declared as lying about flush (like `fault(flush=drop)`): the verifier is
/// told, so only the checker can catch it.
#[test]
fn a_declared_flush_drop_is_caught() {
    expect_caught(&|lower| {
        DeviceBuilder::new("flush-drop")
            .characteristics(Characteristics::UNSAFE_FLUSH)
            .attach(SwallowFlush, lower)
            .map_err(|e| e.to_string())
    });
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bug {
    None,
    FlushBeforeWriteBack,
    CleanBeforeWriteSucceeded,
}

/// A small write-back cache with one deliberate bug, to show the checker finds it.
struct ToyCache {
    bug: Bug,
    dirty: Mutex<BTreeMap<u64, Vec<u8>>>,
    /// One write-back or write-through at a time, so an older copy of a block never
    /// lands below after a newer one.
    pass: Mutex<()>,
}

impl ToyCache {
    fn lower_write(lower: &DeviceRef, offset: u64, data: &[u8]) -> Status {
        let irp = Irp::for_device(lower, MajorFunction::Write)
            .with_parameters(Parameters::Write { offset, length: data.len() as u32 })
            .with_mdl(Mdl::from_slice(data).unwrap());
        lower.call_and_wait(irp).status()
    }

    fn write_back(&self, lower: &DeviceRef) -> Status {
        let _pass = self.pass.lock().unwrap();
        let mut first = Status::SUCCESS;
        let blocks: Vec<(u64, Vec<u8>)> = match self.bug {
            Bug::CleanBeforeWriteSucceeded => {
                std::mem::take(&mut *self.dirty.lock().unwrap()).into_iter().collect()
            }
            _ => self.dirty.lock().unwrap().iter().map(|(k, v)| (*k, v.clone())).collect(),
        };
        for (offset, data) in blocks {
            let s = Self::lower_write(lower, offset, &data);
            if s.is_success() {
                let mut d = self.dirty.lock().unwrap();
                if d.get(&offset) == Some(&data) {
                    d.remove(&offset);
                }
            } else if first.is_success() {
                first = s;
            }
        }
        first
    }

    fn lower_flush(lower: &DeviceRef) -> Status {
        lower.call_and_wait(Irp::for_device(lower, MajorFunction::FlushBuffers)).status()
    }
}

impl Driver for ToyCache {
    fn write(&self, device: &DeviceRef, irp: Irp) -> Status {
        let Parameters::Write { offset, length } = *irp.parameters() else { unreachable!() };
        let data = irp.mdl().unwrap().bytes()[..length as usize].to_vec();
        let mut d = self.dirty.lock().unwrap();
        for (i, chunk) in data.chunks(4096).enumerate() {
            d.insert(offset + i as u64 * 4096, chunk.to_vec());
        }
        drop(d);
        if irp.is_force_unit_access() {
            // Written through: forward the write itself (FUA kept) and wait for it.
            let _pass = self.pass.lock().unwrap();
            let irp = irp.forward_synchronously(device.lower().unwrap());
            let st = irp.io_status();
            if st.status.is_success() {
                let mut d = self.dirty.lock().unwrap();
                for (i, chunk) in data.chunks(4096).enumerate() {
                    let at = offset + i as u64 * 4096;
                    if d.get(&at).map(Vec::as_slice) == Some(chunk) {
                        d.remove(&at);
                    }
                }
            }
            return irp.complete_with(st.status, st.information);
        }
        irp.complete_with(Status::SUCCESS, u64::from(length))
    }
    fn read(&self, device: &DeviceRef, irp: Irp) -> Status {
        let Parameters::Read { offset, length } = *irp.parameters() else { unreachable!() };
        let mut irp = irp.forward_synchronously(device.lower().unwrap());
        let d = self.dirty.lock().unwrap();
        let buf = irp.mdl_mut().unwrap().bytes_mut().unwrap();
        for (i, chunk) in buf[..length as usize].chunks_mut(4096).enumerate() {
            if let Some(data) = d.get(&(offset + i as u64 * 4096)) {
                chunk.copy_from_slice(data);
            }
        }
        drop(d);
        let st = irp.io_status();
        irp.complete_with(st.status, st.information)
    }
    fn discard(&self, device: &DeviceRef, irp: Irp) -> Status {
        let Parameters::Discard { offset, length } = *irp.parameters() else { unreachable!() };
        let _pass = self.pass.lock().unwrap();
        let mut d = self.dirty.lock().unwrap();
        for s in (offset..offset + length).step_by(4096) {
            d.remove(&s);
        }
        drop(d);
        let irp = irp.forward_synchronously(device.lower().unwrap());
        let st = irp.io_status();
        irp.complete_with(st.status, st.information)
    }
    fn flush_buffers(&self, device: &DeviceRef, irp: Irp) -> Status {
        let lower = device.lower().unwrap();
        let status = match self.bug {
            Bug::FlushBeforeWriteBack => {
                let f = Self::lower_flush(lower);
                let w = self.write_back(lower);
                if f.is_success() { w } else { f }
            }
            _ => {
                let w = self.write_back(lower);
                let f = Self::lower_flush(lower);
                if w.is_success() { f } else { w }
            }
        };
        let mut irp = irp;
        if status.is_success() {
            irp.mark_flush_covered();
        }
        irp.complete(status)
    }
}

/// Fails every 7th write that passes through it.
struct EverySeventhWriteFails(AtomicU64);
impl Driver for EverySeventhWriteFails {
    fn write(&self, device: &DeviceRef, mut irp: Irp) -> Status {
        if self.0.fetch_add(1, Ordering::SeqCst) % 7 == 6 {
            return irp.complete(Status::IO_DEVICE_ERROR);
        }
        irp.skip_current_location();
        device.lower().unwrap().call(irp)
    }
}

fn toy(bug: Bug, flaky: bool) -> impl Fn(&DeviceRef) -> Result<DeviceRef, String> {
    move |lower| {
        let mut lower = Arc::clone(lower);
        if flaky {
            lower = Device::attach("flaky", EverySeventhWriteFails(AtomicU64::new(0)), &lower).unwrap();
        }
        Device::attach("toy-cache", ToyCache { bug, dirty: Mutex::default(), pass: Mutex::default() }, &lower)
            .map_err(|e| e.to_string())
    }
}

#[test]
fn a_correct_toy_cache_passes_even_over_failing_writes() {
    expect_pass(&toy(Bug::None, true));
}

#[test]
fn a_cache_that_forwards_the_flush_before_writing_back_is_caught() {
    expect_caught(&toy(Bug::FlushBeforeWriteBack, false));
}

#[test]
fn a_cache_that_marks_blocks_clean_before_their_write_succeeded_is_caught() {
    expect_caught(&toy(Bug::CleanBeforeWriteSucceeded, true));
}

#[test]
fn the_real_cache_over_failing_writes_passes() {
    expect_pass(&|lower: &DeviceRef| {
        let flaky = Device::attach("flaky", EverySeventhWriteFails(AtomicU64::new(0)), lower).unwrap();
        cache(CacheMode::WriteBack)(&flaky)
    });
}

/// A tiny cache, a busy lazy writer and many threads: blocks are written back and
/// evicted between a FUA write's cache update and its write-through (the checker once
/// caught the cache acknowledging such a FUA write that only went down without FUA).
#[test]
fn the_write_back_cache_passes_under_eviction_pressure() {
    let build = |lower: &DeviceRef| {
        let options = CacheOptions {
            size: 16 * 1024,
            dirty_threshold: 8 * 1024,
            lazy_interval: std::time::Duration::from_millis(1),
            lazy_share: 2,
            ..CacheOptions::default()
        };
        Cache::create("cache", options, lower).map_err(|e| e.to_string())
    };
    for seed in 1..=4 {
        let config = Config {
            ops: 600,
            seed,
            threads: 6,
            disk_size: 256 * 1024,
            restart_every: 32,
            ..Config::default()
        };
        if let Err(e) = crashcheck::check(&config, &build) {
            panic!("seed {seed}: {e}");
        }
    }
}
