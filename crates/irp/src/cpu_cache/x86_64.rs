//! x86-64: CPUID feature detection and CLWB / CLFLUSHOPT / CLFLUSH line loops.
//!
//! Rust 1.95 has intrinsics only for CLFLUSH and SFENCE, so CLWB and CLFLUSHOPT are inline
//! `asm!`. The `asm!` blocks are not `nomem`, so they also act as compiler memory barriers:
//! earlier stores are emitted before the line is written back.

use core::arch::asm;
use core::arch::x86_64::{__cpuid, __cpuid_count, _mm_clflush, _mm_sfence};
use std::sync::OnceLock;

use super::{Direction, FlushMethod};

struct Features {
    clwb: bool,
    clflushopt: bool,
    clflush: bool,
    line: usize,
}

fn features() -> &'static Features {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    FEATURES.get_or_init(|| {
        let max_leaf = __cpuid(0).eax;
        let leaf1 = __cpuid(1);
        let leaf7_ebx = if max_leaf >= 7 { __cpuid_count(7, 0).ebx } else { 0 };
        // Leaf 1 EBX bits 15:8: CLFLUSH line size in 8-byte units.
        let line = ((leaf1.ebx >> 8) & 0xff) as usize * 8;
        Features {
            clwb: (leaf7_ebx >> 24) & 1 == 1,
            clflushopt: (leaf7_ebx >> 23) & 1 == 1,
            clflush: (leaf1.edx >> 19) & 1 == 1,
            line: if line.is_power_of_two() { line } else { 64 },
        }
    })
}

pub(super) fn line_size() -> usize {
    features().line
}

pub(super) fn is_available(method: FlushMethod) -> bool {
    let f = features();
    match method {
        FlushMethod::Clwb => f.clwb,
        FlushMethod::Clflushopt => f.clflushopt,
        FlushMethod::Clflush => f.clflush,
        FlushMethod::DcCvac | FlushMethod::DcCvap => false,
        FlushMethod::None => true,
    }
}

pub(super) fn persistence_method() -> FlushMethod {
    [FlushMethod::Clwb, FlushMethod::Clflushopt, FlushMethod::Clflush]
        .into_iter()
        .find(|&m| is_available(m))
        .unwrap_or(FlushMethod::None)
}

/// The best method that also invalidates the line (CLWB may keep it cached).
fn invalidate_method() -> FlushMethod {
    [FlushMethod::Clflushopt, FlushMethod::Clflush]
        .into_iter()
        .find(|&m| is_available(m))
        .unwrap_or(FlushMethod::None)
}

/// Runs `op` on the start of every line overlapping `ptr..ptr + len` (none when `len` is 0).
#[inline(always)]
fn for_each_line(ptr: *const u8, len: usize, op: impl Fn(*const u8)) {
    let line = line_size();
    if len == 0 {
        return; // an empty range may have a dangling pointer: touch nothing
    }
    let end = ptr.addr().saturating_add(len);
    let mut p = ptr.with_addr(ptr.addr() & !(line - 1));
    while p.addr() < end {
        op(p);
        p = p.wrapping_add(line);
    }
}

/// Writes back every line overlapping `ptr..ptr + len` with `method`.
///
/// # Safety
///
/// `ptr..ptr + len` is mapped, and `method` is available on this CPU.
pub(super) unsafe fn flush_lines(ptr: *const u8, len: usize, method: FlushMethod) {
    match method {
        FlushMethod::Clwb => for_each_line(ptr, len, |p| {
            // SAFETY: the caller guarantees CLWB exists and `p`'s line is mapped (it overlaps
            // the mapped range, and lines do not cross pages). CLWB leaves the contents alone.
            unsafe { asm!("clwb [{0}]", in(reg) p, options(nostack, preserves_flags)) }
        }),
        FlushMethod::Clflushopt => for_each_line(ptr, len, |p| {
            // SAFETY: as for CLWB; CLFLUSHOPT writes back then invalidates, keeping contents.
            unsafe { asm!("clflushopt [{0}]", in(reg) p, options(nostack, preserves_flags)) }
        }),
        FlushMethod::Clflush => for_each_line(ptr, len, |p| {
            // SAFETY: as for CLWB (the caller checked CLFLUSH exists).
            unsafe { _mm_clflush(p) }
        }),
        FlushMethod::DcCvac | FlushMethod::DcCvap | FlushMethod::None => {}
    }
}

pub(super) fn drain() {
    // SAFETY: SFENCE needs SSE, which every x86-64 CPU has (it is in the baseline target).
    unsafe { _mm_sfence() }
}

/// Platform DMA is cache-coherent on x86-64: nothing to do (NT's `KeFlushIoBuffers` is an
/// empty macro here).
///
/// # Safety
///
/// None needed: nothing is done.
pub(super) unsafe fn coherent_dma(_ptr: *const u8, _len: usize, _direction: Direction) {}

/// PIO needs no cache work on x86-64 (coherent, and the I-cache is snooped).
///
/// # Safety
///
/// None needed: nothing is done.
pub(super) unsafe fn pio(_ptr: *const u8, _len: usize, _direction: Direction) {}

/// To the device: write lines back; from the device: write back and invalidate; then SFENCE.
///
/// # Safety
///
/// `ptr..ptr + len` is mapped.
pub(super) unsafe fn non_coherent_dma(ptr: *const u8, len: usize, direction: Direction) {
    let method = match direction {
        Direction::ToDevice => super::persistence_method(),
        Direction::FromDevice => invalidate_method(),
    };
    // SAFETY: the caller guarantees the range is mapped; `method` was selected as available.
    unsafe { flush_lines(ptr, len, method) };
    drain();
}
