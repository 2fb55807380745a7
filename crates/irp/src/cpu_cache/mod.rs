//! Cache maintenance for I/O buffers: `KeFlushIoBuffers` and persistent-memory flushes.
//!
//! [`flush_io_buffers`] keeps NT's contract — one MDL, called just before a DMA transfer starts
//! (in either direction) or right after a PIO read — and does per architecture what the
//! transfer needs:
//!
//! | transfer | x86-64 | aarch64 |
//! |---|---|---|
//! | [`Transfer::Dma`] | nothing (DMA is cache-coherent; NT's macro is empty) | `dc cvac` (to device) / `dc civac` (from device), `dsb sy` |
//! | [`Transfer::Pio`] | nothing | to device: `dc cvac`, `dsb sy`; from device: `dc civac`, `ic ivau`, `dsb ish`, `isb` |
//! | [`Transfer::NonCoherentDma`] | to device: CLWB > CLFLUSHOPT > CLFLUSH; from device: CLFLUSHOPT > CLFLUSH; SFENCE | `dc cvac` / `dc civac`, `dsb sy` |
//! | [`Transfer::Persistent`] | CLWB > CLFLUSHOPT > CLFLUSH, SFENCE | `dc cvap` (or `dc cvac` without DPB), `dsb sy` |
//!
//! The write-back method is chosen once, by CPUID on x86-64 ([`persistence_method`]). On other
//! architectures there is no cache instruction: every flush is a memory fence and
//! [`persistence_method`] is [`FlushMethod::None`].
//!
//! [`persist`] is libpmem's `pmem_persist`: [`write_back`] the lines, then [`drain`].

#[cfg(target_arch = "aarch64")]
#[path = "aarch64.rs"]
mod arch;
#[cfg(target_arch = "x86_64")]
#[path = "x86_64.rs"]
mod arch;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use crate::mdl::Mdl;

/// The direction of a transfer (`KeFlushIoBuffers`'s `ReadOperation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Memory to device, a write request (`ReadOperation` = FALSE).
    ToDevice,
    /// Device to memory, a read request (`ReadOperation` = TRUE).
    #[doc(alias = "ReadOperation")]
    FromDevice,
}

impl Direction {
    /// The direction for NT's `ReadOperation` argument.
    #[doc(alias = "ReadOperation")]
    pub fn from_read_operation(read_operation: bool) -> Direction {
        if read_operation { Direction::FromDevice } else { Direction::ToDevice }
    }
}

/// How the data moves, which decides the cache work [`flush_io_buffers`] does
/// (`KeFlushIoBuffers`'s `DmaOperation`, extended with the non-coherent cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transfer {
    /// DMA by the platform, cache-coherent on x86-64 (`DmaOperation` = TRUE).
    #[doc(alias = "DmaOperation")]
    Dma,
    /// Programmed I/O: the CPU moves the data (`DmaOperation` = FALSE).
    Pio,
    /// DMA by a device declared non-coherent with the CPU caches: lines are written back (and,
    /// from the device, invalidated) explicitly on every architecture.
    NonCoherentDma,
    /// The consumer is the persistence domain (persistent memory): lines are written back to
    /// it, whatever the direction.
    Persistent,
}

/// A cache-line write-back instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlushMethod {
    /// x86-64 `CLWB`: writes the line back and may keep it cached.
    Clwb,
    /// x86-64 `CLFLUSHOPT`: writes back and invalidates, weakly ordered.
    Clflushopt,
    /// x86-64 `CLFLUSH`: writes back and invalidates, ordered with other flushes and writes.
    Clflush,
    /// aarch64 `DC CVAC`: clean to the point of coherency.
    DcCvac,
    /// aarch64 `DC CVAP`: clean to the point of persistence (needs the DPB feature).
    DcCvap,
    /// No cache instruction (architectures without one): only a memory fence.
    None,
}

impl FlushMethod {
    /// Whether this CPU can execute the method. [`FlushMethod::None`] is always available.
    pub fn is_available(self) -> bool {
        arch::is_available(self)
    }

    /// A short lower-case name (`"clwb"`, `"dc cvac"`, …) for reports and benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            FlushMethod::Clwb => "clwb",
            FlushMethod::Clflushopt => "clflushopt",
            FlushMethod::Clflush => "clflush",
            FlushMethod::DcCvac => "dc cvac",
            FlushMethod::DcCvap => "dc cvap",
            FlushMethod::None => "none",
        }
    }
}

/// The best method to write lines back to memory or persistence: CLWB, else CLFLUSHOPT, else
/// CLFLUSH on x86-64 (by CPUID); `DC CVAP`, else `DC CVAC` on aarch64; chosen once.
pub fn persistence_method() -> FlushMethod {
    static METHOD: OnceLock<FlushMethod> = OnceLock::new();
    *METHOD.get_or_init(arch::persistence_method)
}

/// The write-back methods this CPU supports, best first (without [`FlushMethod::None`]);
/// empty on architectures without cache instructions.
pub fn available_methods() -> Vec<FlushMethod> {
    [
        FlushMethod::Clwb,
        FlushMethod::Clflushopt,
        FlushMethod::Clflush,
        FlushMethod::DcCvap,
        FlushMethod::DcCvac,
    ]
    .into_iter()
    .filter(|m| m.is_available())
    .collect()
}

/// The data cache line size in bytes the flushes step by (x86-64: CPUID leaf 1; aarch64:
/// `CTR_EL0.DminLine`), read once.
pub fn line_size() -> usize {
    arch::line_size()
}

/// Writes back every cache line overlapping `ptr..ptr + len` with `method`, without a fence.
/// The start is aligned down to a line; a zero length does nothing.
///
/// # Safety
///
/// `ptr..ptr + len` must be mapped memory (a line never crosses a page, so every line touched
/// is then mapped too). The memory's contents are not changed, so no other access rule applies.
///
/// # Panics
///
/// If `method` is not available on this CPU ([`FlushMethod::is_available`]).
pub unsafe fn flush_range(ptr: *const u8, len: usize, method: FlushMethod) {
    assert!(method.is_available(), "cache flush method {} is not available on this CPU", method.name());
    // SAFETY: the caller guarantees the range is mapped; `method` was checked above.
    unsafe { arch::flush_lines(ptr, len, method) }
}

/// Writes back the lines of `bytes` with `method`, without a fence (for benchmarks comparing
/// methods).
///
/// # Panics
///
/// If `method` is not available on this CPU.
pub fn flush_with(bytes: &[u8], method: FlushMethod) {
    // SAFETY: `bytes` is a live slice, so its range is mapped.
    unsafe { flush_range(bytes.as_ptr(), bytes.len(), method) }
}

/// Writes back the lines of `bytes` with [`persistence_method`], without a fence
/// (`pmem_flush`).
#[doc(alias = "pmem_flush")]
pub fn write_back(bytes: &[u8]) {
    flush_with(bytes, persistence_method());
}

/// Waits until earlier write-backs have completed: SFENCE on x86-64, `DSB SY` on aarch64, a
/// sequentially consistent fence elsewhere (`pmem_drain`).
#[doc(alias = "pmem_drain")]
pub fn drain() {
    arch::drain();
}

/// Makes `bytes` durable in persistent memory: [`write_back`] then [`drain`]
/// (`pmem_persist`).
#[doc(alias = "pmem_persist")]
pub fn persist(bytes: &[u8]) {
    write_back(bytes);
    drain();
}

/// Flushes the buffer one MDL describes from the CPU caches as a transfer in `direction` by
/// `transfer` requires (`KeFlushIoBuffers`); see the [module documentation](self) for what
/// each architecture does.
///
/// Call it just before a DMA transfer starts, in either direction (from the device with
/// [`Direction::FromDevice`], NT's `ReadOperation` = TRUE), or right after a PIO read. A DMA
/// transfer needs no second call after it: its end is `FlushAdapterBuffers`
/// ([`SimulatedDmaDevice::flush_adapter_buffers`](crate::dma::SimulatedDmaDevice::flush_adapter_buffers)
/// in the DMA model). It covers exactly `mdl` and never follows [`Mdl::next`]: a chain needs
/// one call per MDL, as in NT. On x86-64 a coherent [`Transfer::Dma`] or a [`Transfer::Pio`]
/// does no cache operation at all, like NT's empty macro. For [`Transfer::Dma`] and
/// [`Transfer::NonCoherentDma`] the DMA model is told about the flush after the cache work.
#[doc(alias = "KeFlushIoBuffers")]
pub fn flush_io_buffers(mdl: &Mdl, direction: Direction, transfer: Transfer) {
    let (ptr, len) = (mdl.virtual_address(), mdl.byte_count());
    // SAFETY: the MDL owns its memory while borrowed, so `ptr..ptr + len` is mapped for the
    // whole block; cache maintenance does not change the memory's contents, and the
    // persistence method is available by construction.
    unsafe {
        match transfer {
            Transfer::Dma => arch::coherent_dma(ptr, len, direction),
            Transfer::Pio => arch::pio(ptr, len, direction),
            Transfer::NonCoherentDma => arch::non_coherent_dma(ptr, len, direction),
            Transfer::Persistent => {
                arch::flush_lines(ptr, len, persistence_method());
                arch::drain();
            }
        }
    }
    if matches!(transfer, Transfer::Dma | Transfer::NonCoherentDma)
        && let Some(observe) = DMA_FLUSH_OBSERVER.get()
    {
        observe(mdl, direction, transfer);
    }
}

/// Who watches the DMA flushes: the simulated DMA device ([`crate::dma`]) registers itself
/// here when the first one is created, so the core does not depend on the model.
static DMA_FLUSH_OBSERVER: std::sync::OnceLock<fn(&Mdl, Direction, Transfer)> = std::sync::OnceLock::new();

/// Registers `observe` to see every DMA `flush_io_buffers` call (the first registration counts).
pub(crate) fn observe_dma_flushes(observe: fn(&Mdl, Direction, Transfer)) {
    let _ = DMA_FLUSH_OBSERVER.set(observe);
}

/// Architectures without cache-maintenance instructions: fences only.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod arch {
    use std::sync::atomic::{Ordering, compiler_fence, fence};

    use super::{Direction, FlushMethod};

    pub(super) fn line_size() -> usize {
        64
    }

    pub(super) fn is_available(method: FlushMethod) -> bool {
        method == FlushMethod::None
    }

    pub(super) fn persistence_method() -> FlushMethod {
        FlushMethod::None
    }

    /// # Safety
    ///
    /// None needed: no memory is accessed.
    pub(super) unsafe fn flush_lines(_ptr: *const u8, _len: usize, _method: FlushMethod) {
        compiler_fence(Ordering::SeqCst);
    }

    pub(super) fn drain() {
        fence(Ordering::SeqCst);
    }

    /// # Safety
    ///
    /// None needed: no memory is accessed.
    pub(super) unsafe fn coherent_dma(_ptr: *const u8, _len: usize, _direction: Direction) {
        fence(Ordering::SeqCst);
    }

    /// # Safety
    ///
    /// None needed: no memory is accessed.
    pub(super) unsafe fn pio(_ptr: *const u8, _len: usize, _direction: Direction) {
        fence(Ordering::SeqCst);
    }

    /// # Safety
    ///
    /// None needed: no memory is accessed.
    pub(super) unsafe fn non_coherent_dma(_ptr: *const u8, _len: usize, _direction: Direction) {
        fence(Ordering::SeqCst);
    }
}
