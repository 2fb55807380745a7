//! A simulated non-coherent DMA device, so tests on a cache-coherent x86 host can
//! still see what a driver that forgets `flush_io_buffers` would see on hardware
//! whose DMA does not snoop the CPU caches.
//!
//! The model keeps two views of each mapped buffer:
//! - the **CPU view**: the buffer's bytes, as the CPU (through its caches) sees them;
//! - the **memory view**: what RAM holds, which is all the device can see.
//!
//! CPU writes stay in the CPU view until `flush_io_buffers(mdl, ToDevice, ..)` writes
//! them back; device writes land in the memory view and reach the CPU view only when
//! `flush_io_buffers(mdl, FromDevice, ..)` invalidates the CPU's lines. A driver that
//! skips the first transfers stale data to the device ([`Rule::DmaUnflushedMdl`]); one
//! that skips the second reads stale data ([`Rule::DmaReadNotInvalidated`]).

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

struct Region {
    id: u64,
    start: usize,
    len: usize,
    /// RAM as the device sees it.
    memory: Vec<u8>,
    /// Written back by a ToDevice flush since it was mapped.
    written_back: bool,
    /// The device wrote memory and the CPU has not invalidated its lines since.
    cpu_stale: bool,
    device: Arc<DeviceInner>,
}

struct DeviceInner {
    name: String,
    verifier: Arc<Verifier>,
}

static REGIONS: Mutex<Vec<Region>> = Mutex::new(Vec::new());
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static NEXT_REGION: AtomicU64 = AtomicU64::new(1);

fn regions() -> MutexGuard<'static, Vec<Region>> {
    REGIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The overlap of `[a, a+alen)` and `[b, b+blen)` as (start, len), if any.
fn overlap(a: usize, alen: usize, b: usize, blen: usize) -> Option<(usize, usize)> {
    let start = a.max(b);
    let end = (a + alen).min(b + blen);
    if start < end { Some((start, end - start)) } else { None }
}

/// The model's part of `flush_io_buffers`: write back or invalidate the mapped
/// regions the MDL covers. Cheap when nothing is mapped.
pub(crate) fn on_flush_io_buffers(mdl: &Mdl, direction: Direction, transfer: Transfer) {
    if ACTIVE.load(Ordering::Acquire) == 0 || matches!(transfer, Transfer::Pio | Transfer::Persistent) {
        return;
    }
    let base = mdl.virtual_address() as usize;
    let len = mdl.byte_count();
    for region in regions().iter_mut() {
        let Some((start, n)) = overlap(base, len, region.start, region.len) else { continue };
        let in_region = start - region.start;
        match direction {
            Direction::ToDevice => {
                let cpu = &mdl.bytes()[start - base..start - base + n];
                region.memory[in_region..in_region + n].copy_from_slice(cpu);
                region.written_back = true;
            }
            Direction::FromDevice => {
                let src = region.memory[in_region..in_region + n].as_ptr();
                let dst = mdl.virtual_address().cast_mut().wrapping_add(start - base);
                // SAFETY: `dst..dst+n` lies inside the MDL's buffer (an overlap of the
                // MDL's range), which is live while `mdl` is borrowed, and `src` is the
                // region's own Vec, so they do not overlap. Writing through the MDL's
                // address while only `&Mdl` is held is allowed by the contract of
                // `SimulatedDmaDevice::map_transfer` (unsafe): while mapped, nobody holds
                // a reference into the bytes across a FromDevice flush.
                unsafe { std::ptr::copy_nonoverlapping(src, dst, n) };
                region.cpu_stale = false;
            }
        }
    }
}

/// Reports DMA reads the CPU never invalidated, when an IRP carrying `mdl` completes.
pub(crate) fn check_completed_mdl(mdl: &Mdl) {
    if ACTIVE.load(Ordering::Acquire) == 0 {
        return;
    }
    let mut regions = regions();
    for m in mdl.chain() {
        let (base, len) = (m.virtual_address() as usize, m.byte_count());
        for region in regions.iter_mut().filter(|r| r.cpu_stale) {
            if overlap(base, len, region.start, region.len).is_some() {
                report_stale(region, "the IRP completed");
            }
        }
    }
}

fn report_stale(region: &mut Region, when: &str) {
    region.cpu_stale = false;
    region.device.verifier.report_named(
        Rule::DmaReadNotInvalidated,
        region.device.name.clone(),
        MajorFunction::Read,
        format_args!(
            "{when} after a DMA transfer from the device into {} bytes at {:#x} without flush_io_buffers(FromDevice): the CPU sees stale data",
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

    /// Maps `mdl`'s buffer for DMA (`MapTransfer`). RAM starts out as zeroes: what the
    /// CPU wrote is only in its caches until written back.
    ///
    /// # Safety
    /// While the mapping lives, no reference into `mdl`'s bytes (from `Mdl::bytes`,
    /// `bytes_mut` or the buffer it came from) may be held across a call of
    /// `flush_io_buffers(.., Direction::FromDevice, ..)` on it: that call writes the
    /// invalidated data into the buffer through the MDL's address, as a CPU cache
    /// invalidation would change what the CPU reads.
    #[doc(alias = "MapTransfer")]
    pub unsafe fn map_transfer(&self, mdl: &Mdl) -> DmaMapping {
        let id = NEXT_REGION.fetch_add(1, Ordering::Relaxed);
        let (start, len) = (mdl.virtual_address() as usize, mdl.byte_count());
        regions().push(Region {
            id,
            start,
            len,
            memory: vec![0; len],
            written_back: false,
            cpu_stale: false,
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

    /// The device reads the mapped buffer from RAM and stores it at `offset` of its
    /// medium (a DMA write, memory → device). Reports [`Rule::DmaUnflushedMdl`] when
    /// the CPU view was not written back first; the medium then gets the stale RAM.
    pub fn transfer_to_device(&self, mapping: &DmaMapping, mdl: &Mdl, offset: u64) -> Result<(), DmaError> {
        let start = self.check_range(offset, mapping.len)?;
        // Lock order everywhere: medium, then regions.
        let mut medium = self.medium();
        let mut regions = regions();
        let region = regions.iter_mut().find(|r| r.id == mapping.id).ok_or(DmaError::NotMapped)?;
        if mdl.virtual_address() as usize != mapping.start || mdl.byte_count() != mapping.len {
            return Err(DmaError::NotMapped);
        }
        if !region.written_back || region.memory[..] != mdl.bytes()[..] {
            self.inner.verifier.report_named(
                Rule::DmaUnflushedMdl,
                self.inner.name.clone(),
                MajorFunction::Write,
                format_args!(
                    "DMA to the device from {} bytes at {:#x} whose CPU caches were not flushed: the device reads stale memory",
                    mapping.len, mapping.start
                ),
            );
        }
        medium[start..start + mapping.len].copy_from_slice(&region.memory);
        Ok(())
    }

    /// The device writes `offset..` of its medium into RAM under the mapped buffer (a
    /// DMA read, device → memory). The CPU sees it after `flush_io_buffers(FromDevice)`.
    pub fn transfer_from_device(&self, mapping: &DmaMapping, offset: u64) -> Result<(), DmaError> {
        let start = self.check_range(offset, mapping.len)?;
        let medium = self.medium();
        let mut regions = regions();
        let region = regions.iter_mut().find(|r| r.id == mapping.id).ok_or(DmaError::NotMapped)?;
        region.memory.copy_from_slice(&medium[start..start + mapping.len]);
        region.cpu_stale = true;
        Ok(())
    }
}

impl Drop for DmaMapping {
    fn drop(&mut self) {
        let mut regions = regions();
        if let Some(i) = regions.iter().position(|r| r.id == self.id) {
            let mut region = regions.swap_remove(i);
            if region.cpu_stale {
                report_stale(&mut region, "the buffer was unmapped");
            }
            ACTIVE.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
