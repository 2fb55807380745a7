//! A simulated non-coherent DMA device, so tests on a cache-coherent x86 host can
//! still see what a driver that gets the cache maintenance of a DMA transfer wrong would
//! see on hardware whose DMA does not snoop the CPU caches.
//!
//! The model checks NT's order for a DMA transfer (the `KeFlushIoBuffers` seed document;
//! the WDK page "Flushing Cached Data during DMA Operations"):
//!
//! 1. [`flush_io_buffers`](crate::cpu_cache::flush_io_buffers) on the transfer's MDL, in the
//!    transfer's direction, **just before the transfer starts, in both directions**
//!    (`KeFlushIoBuffers(Mdl, ReadOperation, TRUE)`). To the device it writes the CPU's dirty
//!    lines back, so that the device reads current data. From the device
//!    (`ReadOperation` = TRUE) it writes them back and drops them, so that no stale line is
//!    later written back over what the device stores, or read instead of it. The flush may
//!    come before [`SimulatedDmaDevice::map_transfer`] (NT drivers usually flush, then
//!    allocate the adapter channel and map) or after it.
//! 2. The transfer: [`SimulatedDmaDevice::transfer_to_device`] or
//!    [`SimulatedDmaDevice::transfer_from_device`].
//! 3. [`SimulatedDmaDevice::flush_adapter_buffers`] (`FlushAdapterBuffers`) at the end of the
//!    transfer: whatever the adapter still holds in its internal buffers reaches memory (from
//!    the device) or the device (to the device).
//! 4. Unmap (drop the [`DmaMapping`], `FreeMapRegisters`) and complete the IRP.
//!
//! Each mapped buffer has two views: the **CPU view** (the buffer's bytes, as the CPU sees
//! them through its caches) and the **memory view** (what RAM holds, which is all the device
//! sees). A driver that skips step 1 moves stale data: RAM's old contents go to the device,
//! or the CPU keeps reading its own lines instead of what the device stored. The verifier
//! reports that ([`Rule::DmaUnflushedMdl`]) when the transfer starts. A driver that skips
//! step 3 loses what the adapter held. The verifier reports that
//! ([`Rule::DmaAdapterBuffersNotFlushed`]) when the IRP completes, the buffer is unmapped or
//! the next transfer on the mapping starts.
//!
//! No `flush_io_buffers` is asked for *after* a transfer. One that comes only after a
//! transfer from the device comes too late: the transfer was already reported, and the flush
//! writes the CPU's stale lines back over what the device stored, as the WDK page warns.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::Mdl;
use crate::cpu_cache::{Direction, Transfer};
use crate::function::MajorFunction;
use crate::verifier::{Rule, Verifier};

/// Errors of a simulated DMA transfer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DmaError {
    /// The transfer falls outside the device's medium.
    #[error("DMA transfer of {len} bytes at {offset} is outside the {size}-byte medium")]
    OutOfRange {
        /// Device offset.
        offset: u64,
        /// Length.
        len: usize,
        /// Medium size.
        size: usize,
    },
    /// The MDL is not the one the mapping was made for.
    #[error("the MDL is not mapped by this mapping")]
    NotMapped,
}

/// What a transfer left in the adapter's internal buffers until `FlushAdapterBuffers`.
enum InAdapter {
    /// Bytes on their way to the medium at `offset`.
    ToDevice { offset: usize, data: Vec<u8> },
    /// Bytes on their way to RAM. `cpu_lines_dropped`: the transfer started after a
    /// `FromDevice` flush, so the CPU will read RAM (else it keeps seeing its stale lines).
    FromDevice { data: Vec<u8>, cpu_lines_dropped: bool },
}

struct Region {
    id: u64,
    start: usize,
    len: usize,
    /// RAM as the device sees it.
    memory: Vec<u8>,
    /// The direction of the last `flush_io_buffers` that covered the whole buffer and that no
    /// transfer from the device has used up since.
    flushed: Option<Direction>,
    /// What the last transfer left in the adapter (until `flush_adapter_buffers`).
    adapter: Option<InAdapter>,
    device: Arc<DeviceInner>,
}

/// A `flush_io_buffers` of a buffer, remembered so that a mapping made after it starts from
/// what it wrote back (NT drivers flush before `MapTransfer`).
struct Flushed {
    /// `Mdl::memory_id` of the buffer.
    memory: u64,
    start: usize,
    len: usize,
    direction: Direction,
    /// The bytes written back to RAM.
    image: Vec<u8>,
}

struct DeviceInner {
    name: String,
    verifier: Arc<Verifier>,
}

impl Drop for DeviceInner {
    fn drop(&mut self) {
        DEVICES.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The mapped buffers of every simulated device.
static REGIONS: Mutex<Vec<Region>> = Mutex::new(Vec::new());
/// How many buffers are mapped (checked without the lock at completion).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// How many simulated devices exist: flushes are remembered only while one does.
static DEVICES: AtomicUsize = AtomicUsize::new(0);
/// Recent flushes (bounded: the oldest go first).
static FLUSHED: Mutex<Vec<Flushed>> = Mutex::new(Vec::new());
const MAX_FLUSHED: usize = 64;
static NEXT_REGION: AtomicU64 = AtomicU64::new(1);

fn regions() -> MutexGuard<'static, Vec<Region>> {
    REGIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn flushed() -> MutexGuard<'static, Vec<Flushed>> {
    FLUSHED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The overlap of `[a, a+alen)` and `[b, b+blen)` as (start, len), if any.
fn overlap(a: usize, alen: usize, b: usize, blen: usize) -> Option<(usize, usize)> {
    let start = a.max(b);
    let end = (a + alen).min(b + blen);
    if start < end { Some((start, end - start)) } else { None }
}

/// The model's part of `flush_io_buffers` (`KeFlushIoBuffers`): the CPU's lines of the MDL's
/// buffer are written back to RAM (both directions clean; `FromDevice` also drops them), in
/// every mapped region the MDL covers and for mappings made later. Cheap when no simulated
/// device exists.
fn on_flush_io_buffers(mdl: &Mdl, direction: Direction, transfer: Transfer) {
    if DEVICES.load(Ordering::Acquire) == 0
        || matches!(transfer, Transfer::Pio | Transfer::Persistent)
        || mdl.byte_count() == 0
    {
        return;
    }
    let base = mdl.virtual_address() as usize;
    let len = mdl.byte_count();
    let bytes = mdl.bytes();
    for region in regions().iter_mut() {
        let Some((start, n)) = overlap(base, len, region.start, region.len) else { continue };
        let in_region = start - region.start;
        region.memory[in_region..in_region + n].copy_from_slice(&bytes[start - base..start - base + n]);
        if base <= region.start && region.start + region.len <= base + len {
            region.flushed = Some(direction);
        }
    }
    let memory = mdl.memory_id();
    let mut flushed = flushed();
    flushed.retain(|f| !(f.memory == memory && f.start == base && f.len == len));
    if flushed.len() >= MAX_FLUSHED {
        flushed.remove(0);
    }
    flushed.push(Flushed { memory, start: base, len, direction, image: bytes.to_vec() });
}

/// Reports transfers whose data is still in the adapter ([`Rule::DmaAdapterBuffersNotFlushed`])
/// when an IRP carrying `mdl` completes.
fn check_completed_mdl(mdl: &Mdl) {
    if ACTIVE.load(Ordering::Acquire) == 0 {
        return;
    }
    let mut regions = regions();
    for m in mdl.chain() {
        let (base, len) = (m.virtual_address() as usize, m.byte_count());
        for region in regions.iter_mut().filter(|r| r.adapter.is_some()) {
            if overlap(base, len, region.start, region.len).is_some() {
                report_adapter_not_flushed(region, "the IRP completed");
            }
        }
    }
}

/// Reports (once) that `region`'s last transfer ended without `FlushAdapterBuffers`; what the
/// adapter held is lost.
fn report_adapter_not_flushed(region: &mut Region, when: &str) {
    let Some(left) = region.adapter.take() else { return };
    let (major, lost) = match left {
        InAdapter::ToDevice { .. } => (MajorFunction::Write, "the device may never get all of it"),
        InAdapter::FromDevice { .. } => (MajorFunction::Read, "not all of it may reach memory"),
    };
    region.device.verifier.report_named(
        Rule::DmaAdapterBuffersNotFlushed,
        region.device.name.clone(),
        major,
        format_args!(
            "{when} after a DMA transfer of {} bytes at {:#x} without flush_adapter_buffers (FlushAdapterBuffers): {lost}",
            region.len, region.start
        ),
    );
}

/// A simulated bus-master device whose DMA is not coherent with the CPU caches, with
/// a medium (its storage) of fixed size.
#[derive(Clone)]
pub struct SimulatedDmaDevice {
    inner: Arc<DeviceInner>,
    medium: Arc<Mutex<Vec<u8>>>,
}

impl std::fmt::Debug for SimulatedDmaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedDmaDevice").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

/// A buffer mapped for DMA (`MapTransfer` … `FreeMapRegisters`); unmapped on drop.
#[derive(Debug)]
#[must_use = "dropping the mapping unmaps the buffer"]
pub struct DmaMapping {
    id: u64,
    start: usize,
    len: usize,
}

impl SimulatedDmaDevice {
    /// A device called `name` (the name the verifier reports) with a zeroed medium of
    /// `size` bytes, reporting to `verifier`.
    pub fn new(name: impl Into<String>, size: usize, verifier: Arc<Verifier>) -> SimulatedDmaDevice {
        crate::cpu_cache::observe_dma_flushes(on_flush_io_buffers);
        crate::request::observe_completed_mdls(check_completed_mdl);
        DEVICES.fetch_add(1, Ordering::AcqRel);
        SimulatedDmaDevice {
            inner: Arc::new(DeviceInner { name: name.into(), verifier }),
            medium: Arc::new(Mutex::new(vec![0; size])),
        }
    }

    fn medium(&self) -> MutexGuard<'_, Vec<u8>> {
        self.medium.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of `len` medium bytes at `offset` (what is really stored).
    pub fn read_medium(&self, offset: usize, len: usize) -> Vec<u8> {
        let m = self.medium();
        m.get(offset..offset.saturating_add(len)).map(<[u8]>::to_vec).unwrap_or_default()
    }

    /// The medium's size.
    pub fn size(&self) -> usize {
        self.medium().len()
    }

    /// Maps `mdl`'s buffer for DMA (`MapTransfer`). RAM holds what the last
    /// `flush_io_buffers` of the buffer wrote back, or zeroes: what the CPU wrote since is
    /// only in its caches.
    ///
    /// # Safety
    /// While the mapping lives, no reference into `mdl`'s bytes (from `Mdl::bytes`,
    /// `bytes_mut` or the buffer it came from) may be held across a call of
    /// [`flush_adapter_buffers`](Self::flush_adapter_buffers) on it, and no other thread may
    /// access those bytes during that call: it writes what the device stored into the buffer
    /// through the MDL's address, as the CPU's reads would then see it.
    #[doc(alias = "MapTransfer")]
    pub unsafe fn map_transfer(&self, mdl: &Mdl) -> DmaMapping {
        let id = NEXT_REGION.fetch_add(1, Ordering::Relaxed);
        let (start, len) = (mdl.virtual_address() as usize, mdl.byte_count());
        let id_of_memory = mdl.memory_id();
        let mut memory = vec![0; len];
        let mut flushed_before = None;
        if let Some(f) = flushed()
            .iter()
            .rev()
            .find(|f| f.memory == id_of_memory && f.start <= start && start + len <= f.start + f.len)
        {
            memory.copy_from_slice(&f.image[start - f.start..start - f.start + len]);
            flushed_before = Some(f.direction);
        }
        regions().push(Region {
            id,
            start,
            len,
            memory,
            flushed: flushed_before,
            adapter: None,
            device: Arc::clone(&self.inner),
        });
        ACTIVE.fetch_add(1, Ordering::AcqRel);
        DmaMapping { id, start, len }
    }

    fn check_range(&self, offset: u64, len: usize) -> Result<usize, DmaError> {
        let size = self.size();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start.checked_add(len) {
            Some(end) if end <= size => Ok(start),
            _ => Err(DmaError::OutOfRange { offset, len, size }),
        }
    }

    /// The mapping's region, checked against `mdl`.
    fn region<'r>(
        regions: &'r mut [Region],
        mapping: &DmaMapping,
        mdl: &Mdl,
    ) -> Result<&'r mut Region, DmaError> {
        if mdl.virtual_address() as usize != mapping.start || mdl.byte_count() != mapping.len {
            return Err(DmaError::NotMapped);
        }
        regions.iter_mut().find(|r| r.id == mapping.id).ok_or(DmaError::NotMapped)
    }

    /// The device starts reading the mapped buffer from RAM, to store it at `offset` of its
    /// medium (a DMA write, memory → device); the medium has it after
    /// [`flush_adapter_buffers`](Self::flush_adapter_buffers). Reports
    /// [`Rule::DmaUnflushedMdl`] when the CPU's caches were not flushed just before: the
    /// device then gets RAM's stale contents.
    pub fn transfer_to_device(&self, mapping: &DmaMapping, mdl: &Mdl, offset: u64) -> Result<(), DmaError> {
        let start = self.check_range(offset, mapping.len)?;
        let mut regions = regions();
        let region = Self::region(&mut regions, mapping, mdl)?;
        report_adapter_not_flushed(region, "a new transfer started");
        if region.flushed.is_none() || region.memory[..] != mdl.bytes()[..] {
            self.inner.verifier.report_named(
                Rule::DmaUnflushedMdl,
                self.inner.name.clone(),
                MajorFunction::Write,
                format_args!(
                    "DMA to the device from {} bytes at {:#x} whose CPU caches were not flushed just before the transfer (flush_io_buffers(ToDevice)): the device reads stale memory",
                    mapping.len, mapping.start
                ),
            );
        }
        region.adapter = Some(InAdapter::ToDevice { offset: start, data: region.memory.clone() });
        Ok(())
    }

    /// The device starts writing `offset..` of its medium into RAM under the mapped buffer
    /// (a DMA read, device → memory); RAM has it after
    /// [`flush_adapter_buffers`](Self::flush_adapter_buffers). Reports
    /// [`Rule::DmaUnflushedMdl`] when the CPU's caches were not flushed with
    /// `flush_io_buffers(FromDevice)` just before, or the CPU wrote the buffer since: the
    /// CPU then keeps seeing its own stale lines.
    pub fn transfer_from_device(&self, mapping: &DmaMapping, mdl: &Mdl, offset: u64) -> Result<(), DmaError> {
        let start = self.check_range(offset, mapping.len)?;
        let data = self.medium()[start..start + mapping.len].to_vec();
        let memory = mdl.memory_id();
        let mut regions = regions();
        let region = Self::region(&mut regions, mapping, mdl)?;
        report_adapter_not_flushed(region, "a new transfer started");
        let cpu_lines_dropped =
            region.flushed == Some(Direction::FromDevice) && region.memory[..] == mdl.bytes()[..];
        if !cpu_lines_dropped {
            self.inner.verifier.report_named(
                Rule::DmaUnflushedMdl,
                self.inner.name.clone(),
                MajorFunction::Read,
                format_args!(
                    "DMA from the device into {} bytes at {:#x} whose CPU caches were not flushed just before the transfer (flush_io_buffers(FromDevice)): the CPU's stale lines are read instead of, or written back over, what the device stores",
                    mapping.len, mapping.start
                ),
            );
        }
        // The flush is used up: once the CPU reads the data, its lines are cached again.
        region.flushed = None;
        region.adapter = Some(InAdapter::FromDevice { data, cpu_lines_dropped });
        let (start, len) = (region.start, region.len);
        drop(regions);
        flushed().retain(|f| !(f.memory == memory && overlap(f.start, f.len, start, len).is_some()));
        Ok(())
    }

    /// Ends the mapping's transfer (`FlushAdapterBuffers`): what the adapter still holds goes
    /// to the medium (to the device) or to RAM (from the device). From the device, the CPU
    /// sees the data from then on if its lines were dropped before the transfer started
    /// (the buffer's bytes change, as the CPU's reads would); else it keeps seeing its stale
    /// lines. Call it at the end of every transfer, before unmapping and completing the IRP
    /// ([`Rule::DmaAdapterBuffersNotFlushed`]); with nothing in the adapter it does nothing.
    #[doc(alias = "FlushAdapterBuffers")]
    pub fn flush_adapter_buffers(&self, mapping: &DmaMapping, mdl: &Mdl) -> Result<(), DmaError> {
        // Lock order everywhere: medium, then regions.
        let mut medium = self.medium();
        let mut regions = regions();
        let region = Self::region(&mut regions, mapping, mdl)?;
        match region.adapter.take() {
            None => {}
            Some(InAdapter::ToDevice { offset, data }) => {
                medium[offset..offset + data.len()].copy_from_slice(&data);
            }
            Some(InAdapter::FromDevice { data, cpu_lines_dropped }) => {
                region.memory.copy_from_slice(&data);
                if cpu_lines_dropped {
                    let dst = mdl.virtual_address().cast_mut();
                    // SAFETY: `dst..dst + data.len()` is the MDL's buffer (checked against the
                    // mapping above: same address and length), live while `mdl` is borrowed,
                    // and `data` is our own Vec, so they do not overlap. Writing through the
                    // MDL's address while only `&Mdl` is held is allowed by the contract of
                    // `map_transfer` (unsafe): while mapped, nobody holds a reference into the
                    // bytes across this call or accesses them from another thread during it.
                    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
                }
            }
        }
        Ok(())
    }
}

impl Drop for DmaMapping {
    fn drop(&mut self) {
        let mut regions = regions();
        if let Some(i) = regions.iter().position(|r| r.id == self.id) {
            let mut region = regions.swap_remove(i);
            report_adapter_not_flushed(&mut region, "the buffer was unmapped");
            ACTIVE.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
