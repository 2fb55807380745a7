//! A counting allocator shows that forwarding allocates nothing per layer and that a
//! pooled IRP costs no allocation at all once the lookaside list is warm.
//!
//! The count is per thread: IRPs here are sent and completed in the test's thread, and the
//! test harness (or any other thread) may allocate at any time — a process-wide counter made
//! the test fail now and then. A thread that allocates all the time runs beside the
//! measurement to show that it no longer matters.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use irp::{Device, DeviceRef, Driver, Irp, MajorFunction, Status};

struct Counting;

thread_local! {
    /// This thread's allocations. A `const`-initialised `Cell<usize>` needs no lazy
    /// initialisation and no destructor, so the allocator can use it without allocating.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: never panic inside the allocator, even while the thread is being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// Allocations made so far by the calling thread.
fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts (in a
// thread-local cell, which allocates nothing).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Null;
impl Driver for Null {
    fn flush_buffers(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
    fn write(&self, _: &DeviceRef, irp: Irp) -> Status {
        irp.complete(Status::SUCCESS)
    }
}
struct Forward;
impl Driver for Forward {}

fn stack(layers: usize) -> DeviceRef {
    let mut top = Device::new("null", Null);
    for i in 0..layers {
        top = Device::attach(format!("fwd{i}"), Forward, &top).unwrap();
    }
    top
}

fn allocations_for(top: &DeviceRef, irps: usize) -> usize {
    // Warm the lookaside list for this stack size.
    for _ in 0..8 {
        assert_eq!(
            top.call_and_wait(Irp::for_device(top, MajorFunction::FlushBuffers)).status(),
            Status::SUCCESS
        );
    }
    let before = allocations();
    for _ in 0..irps {
        let done = top.call_and_wait(Irp::for_device(top, MajorFunction::FlushBuffers));
        assert_eq!(done.status(), Status::SUCCESS);
    }
    allocations() - before
}

#[test]
fn forwarding_allocates_nothing_per_layer() {
    // Another thread allocating all along must not show in this thread's count.
    let stop = Arc::new(AtomicBool::new(false));
    let noisy = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::hint::black_box(vec![0u8; 64]);
            }
        })
    };
    let one = stack(1);
    let sixteen = stack(16);
    let a1 = allocations_for(&one, 1000);
    let a16 = allocations_for(&sixteen, 1000);
    stop.store(true, Ordering::Relaxed);
    noisy.join().unwrap();
    assert_eq!(a1, a16, "16 layers allocated more than 1 ({a16} vs {a1} for 1000 IRPs)");
    assert!(a1 <= 1000, "more than one allocation per IRP: {a1} for 1000");
    assert_eq!(a16, 0, "a pooled IRP should not allocate once the lookaside list is warm");
}
