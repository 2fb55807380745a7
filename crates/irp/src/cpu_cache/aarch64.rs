//! aarch64: `DC`/`IC` by virtual address, line sizes from `CTR_EL0`, `DSB`/`ISB` barriers.
//!
//! Linux lets user space read `CTR_EL0` and run `DC CVAC`, `DC CIVAC`, `DC CVAP` and
//! `IC IVAU` (SCTLR_EL1.UCT/UCI). The `asm!` blocks are not `nomem`, so they also act as
//! compiler memory barriers. No invalidate-only operation is used: every `DC` here cleans dirty
//! data first, so the memory's contents never change.

use core::arch::asm;
use std::sync::OnceLock;

use super::{Direction, FlushMethod};

struct Lines {
    data: usize,
    instruction: usize,
}

fn lines() -> &'static Lines {
    static LINES: OnceLock<Lines> = OnceLock::new();
    LINES.get_or_init(|| {
        let ctr: u64;
        // SAFETY: reading CTR_EL0 has no side effects; Linux allows it at EL0 (or emulates it).
        unsafe { asm!("mrs {0}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
        // DminLine (bits 19:16) and IminLine (bits 3:0): log2 of the line size in 4-byte words.
        Lines { data: 4 << ((ctr >> 16) & 0xf), instruction: 4 << (ctr & 0xf) }
    })
}

pub(super) fn line_size() -> usize {
    lines().data
}

fn has_dpb() -> bool {
    std::arch::is_aarch64_feature_detected!("dpb")
}

pub(super) fn is_available(method: FlushMethod) -> bool {
    match method {
        FlushMethod::DcCvac | FlushMethod::None => true,
        FlushMethod::DcCvap => has_dpb(),
        FlushMethod::Clwb | FlushMethod::Clflushopt | FlushMethod::Clflush => false,
    }
}

pub(super) fn persistence_method() -> FlushMethod {
    if has_dpb() { FlushMethod::DcCvap } else { FlushMethod::DcCvac }
}

/// Runs `op` on the start of every `line`-byte line overlapping `ptr..ptr + len` (none when
/// `len` is 0).
#[inline(always)]
fn for_each_line(ptr: *const u8, len: usize, line: usize, op: impl Fn(*const u8)) {
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

/// `DC CVAC` (clean to the point of coherency) on every data line of the range.
///
/// # Safety
///
/// `ptr..ptr + len` is mapped.
unsafe fn clean(ptr: *const u8, len: usize) {
    for_each_line(ptr, len, line_size(), |p| {
        // SAFETY: `p`'s line overlaps the mapped range (lines do not cross pages); cleaning
        // keeps the contents.
        unsafe { asm!("dc cvac, {0}", in(reg) p, options(nostack, preserves_flags)) }
    });
}

/// `DC CIVAC` (clean and invalidate to the point of coherency) on every data line.
///
/// # Safety
///
/// `ptr..ptr + len` is mapped.
unsafe fn clean_invalidate(ptr: *const u8, len: usize) {
    for_each_line(ptr, len, line_size(), |p| {
        // SAFETY: as in `clean`; CIVAC writes dirty data back before invalidating.
        unsafe { asm!("dc civac, {0}", in(reg) p, options(nostack, preserves_flags)) }
    });
}

/// `DC CVAP` (clean to the point of persistence) on every data line.
///
/// # Safety
///
/// `ptr..ptr + len` is mapped, and the CPU has DPB.
#[target_feature(enable = "dpb")]
unsafe fn clean_to_persistence(ptr: *const u8, len: usize) {
    for_each_line(ptr, len, line_size(), |p| {
        // SAFETY: as in `clean`; the caller guarantees DPB, so DC CVAP exists.
        unsafe { asm!("dc cvap, {0}", in(reg) p, options(nostack, preserves_flags)) }
    });
}

/// Writes back every line overlapping `ptr..ptr + len` with `method`.
///
/// # Safety
///
/// `ptr..ptr + len` is mapped, and `method` is available on this CPU.
pub(super) unsafe fn flush_lines(ptr: *const u8, len: usize, method: FlushMethod) {
    match method {
        // SAFETY: the caller guarantees the range is mapped.
        FlushMethod::DcCvac => unsafe { clean(ptr, len) },
        // SAFETY: the caller guarantees the range is mapped and DPB exists.
        FlushMethod::DcCvap => unsafe { clean_to_persistence(ptr, len) },
        FlushMethod::Clwb | FlushMethod::Clflushopt | FlushMethod::Clflush | FlushMethod::None => {}
    }
}

fn dsb_sy() {
    // SAFETY: a barrier has no memory-safety preconditions.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) }
}

pub(super) fn drain() {
    dsb_sy();
}

/// To the device: clean; from the device: clean and invalidate; then `DSB SY`.
///
/// # Safety
///
/// `ptr..ptr + len` is mapped.
pub(super) unsafe fn coherent_dma(ptr: *const u8, len: usize, direction: Direction) {
    // SAFETY: the caller guarantees the range is mapped.
    unsafe {
        match direction {
            Direction::ToDevice => clean(ptr, len),
            Direction::FromDevice => clean_invalidate(ptr, len),
        }
    }
    dsb_sy();
}

/// A device declared non-coherent gets the same maintenance as platform DMA on aarch64.
///
/// # Safety
///
/// `ptr..ptr + len` is mapped.
pub(super) unsafe fn non_coherent_dma(ptr: *const u8, len: usize, direction: Direction) {
    // SAFETY: forwarded from the caller.
    unsafe { coherent_dma(ptr, len, direction) }
}

/// To the device: clean, `DSB SY`. From the device (after a PIO read): clean and invalidate the
/// data lines, then invalidate the instruction lines so code read by PIO can run:
/// `DC CIVAC`, `DSB ISH`, `IC IVAU`, `DSB ISH`, `ISB`.
///
/// # Safety
///
/// `ptr..ptr + len` is mapped.
pub(super) unsafe fn pio(ptr: *const u8, len: usize, direction: Direction) {
    if direction == Direction::ToDevice {
        // SAFETY: forwarded from the caller.
        unsafe { clean(ptr, len) };
        dsb_sy();
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { clean_invalidate(ptr, len) };
    // SAFETY: a barrier has no memory-safety preconditions.
    unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    for_each_line(ptr, len, lines().instruction, |p| {
        // SAFETY: `p`'s line overlaps the mapped range; IC IVAU only drops I-cache lines.
        unsafe { asm!("ic ivau, {0}", in(reg) p, options(nostack, preserves_flags)) }
    });
    // SAFETY: barriers have no memory-safety preconditions.
    unsafe { asm!("dsb ish", "isb", options(nostack, preserves_flags)) };
}
