//! Memory descriptor lists (NT `MDL`): descriptions of virtually contiguous I/O buffers, page
//! locking, partial MDLs and chains.
//!
//! An [`Mdl`] owns the memory it describes through a shared memory object. A partial MDL
//! ([`Mdl::build_partial`], `IoBuildPartialMdl`) is a [`PartialMdl`] that borrows its source, so
//! it cannot outlive it, nor the request that carries it ([`Mdl::into_partial`] makes an owned
//! one by consuming the source). Page locks ([`Mdl::probe_and_lock`], `MmProbeAndLockPages`)
//! are counted on that memory object: the pages are `mlock`ed while the source or any of its
//! partial MDLs holds them, and `munlock`ed once when the last one lets go.

mod buffer;
mod chain;
mod error;
mod flags;
mod lock;
mod pagemap;
mod partial;
#[cfg(test)]
mod tests;

use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

pub use buffer::{IoBuffer, page_size};
pub use chain::Chain;
pub use error::MdlError;
pub use flags::MdlFlags;
use lock::Memory;
pub use partial::PartialMdl;

/// The access a [`Mdl::probe_and_lock`] prepares the pages for (NT `LOCK_OPERATION`).
#[doc(alias = "LOCK_OPERATION")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockOperation {
    /// The device reads the buffer (a write request) — `IoReadAccess`.
    #[doc(alias = "IoReadAccess")]
    ReadAccess,
    /// The device writes the buffer (a read request) — `IoWriteAccess`.
    #[doc(alias = "IoWriteAccess")]
    WriteAccess,
    /// The device reads and writes the buffer — `IoModifyAccess`.
    #[doc(alias = "IoModifyAccess")]
    ModifyAccess,
}

/// A memory descriptor list (NT `MDL`): a virtually contiguous buffer, its page frames, its
/// state flags and a link to the next MDL of a chain.
///
/// `Mdl` is `Send` and `Sync` without an `unsafe impl`: its only raw pointer lives in
/// [`IoBuffer`] (whose `Send`/`Sync` impls are justified there), the shared memory object is
/// only mutated through `Arc::get_mut` (exclusive), the lock count is behind a mutex, and the
/// flags are atomic so that [`system_address`](Self::system_address) can set
/// `MAPPED_TO_SYSTEM_VA` through `&self`.
#[doc(alias = "MDL")]
pub struct Mdl {
    next: Option<Box<Mdl>>,
    memory: Arc<Memory>,
    /// Offset of the first described byte within `memory`.
    offset: usize,
    byte_count: usize,
    flags: AtomicU16,
    /// Whether this MDL holds one lock reference on `memory` (locked by `probe_and_lock`, or
    /// a partial MDL, which holds one for its lifetime).
    pinned: bool,
    /// One entry per page spanned (`MmGetMdlPfnArray`).
    pfns: Box<[u64]>,
    pfns_known: bool,
}

// `Mdl` must stay `Send + Sync` (see the type documentation): checked at compile time.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Mdl>();
    send_sync::<IoBuffer>();
};

impl Mdl {
    /// The largest byte count an MDL can describe: just under 2 GiB, as for `IoAllocateMdl`.
    pub const MAX_BYTE_COUNT: usize = (1 << 31) - 1;

    /// An MDL describing all of `buf`, unlocked, with unknown PFNs (`IoAllocateMdl`; the
    /// page frames are filled in by [`probe_and_lock`](Self::probe_and_lock)).
    ///
    /// # Panics
    ///
    /// If `buf` is 2 GiB or larger; use [`try_new`](Self::try_new) to get the buffer back
    /// instead.
    #[doc(alias = "IoAllocateMdl")]
    pub fn new(buf: IoBuffer) -> Mdl {
        match Self::try_new(buf) {
            Ok(mdl) => mdl,
            Err((err, _)) => panic!("Mdl::new: {err}"),
        }
    }

    /// An MDL describing all of `buf`, or the buffer back if it is 2 GiB or larger
    /// (`IoAllocateMdl`).
    #[doc(alias = "IoAllocateMdl")]
    pub fn try_new(buf: IoBuffer) -> Result<Mdl, (MdlError, IoBuffer)> {
        let len = buf.len();
        if check_len(len).is_err() {
            return Err((MdlError::TooLarge { len }, buf));
        }
        let memory = Arc::new(Memory::new(buf));
        Ok(Mdl::describe(memory, 0, len, MdlFlags::empty()))
    }

    /// An MDL over a fresh page-aligned copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Result<Mdl, MdlError> {
        check_len(bytes.len())?;
        Ok(Mdl::new(IoBuffer::from_slice(bytes)?))
    }

    /// An MDL over `len` fresh zeroed page-aligned bytes. The length is checked before
    /// anything is allocated.
    pub fn with_len(len: usize) -> Result<Mdl, MdlError> {
        check_len(len)?;
        Ok(Mdl::new(IoBuffer::new(len)?))
    }

    fn describe(memory: Arc<Memory>, offset: usize, byte_count: usize, flags: MdlFlags) -> Mdl {
        let mut mdl = Mdl {
            next: None,
            memory,
            offset,
            byte_count,
            flags: AtomicU16::new(flags.bits()),
            pinned: false,
            pfns: Box::new([]),
            pfns_known: false,
        };
        mdl.pfns = vec![0; mdl.page_count()].into_boxed_slice();
        mdl
    }

    /// Whether this is a full MDL whose memory nothing else (a partial MDL, a source)
    /// shares: only then can the buffer be given back or the MDL reused.
    fn owns_its_memory(&mut self) -> bool {
        !self.flags().contains(MdlFlags::PARTIAL) && Arc::get_mut(&mut self.memory).is_some()
    }

    /// Makes a used MDL describe all of its buffer again, as [`Mdl::new`] made it, for
    /// the next transfer: unlocks the pages, drops any MDLs chained after it, clears its
    /// flags — without allocating. Returns false, changing nothing, for a partial MDL or
    /// one whose memory is shared with a partial MDL or source still alive.
    #[doc(alias = "MmPrepareMdlForReuse")]
    pub fn prepare_for_reuse(&mut self) -> bool {
        if !self.owns_its_memory() {
            return false;
        }
        self.unlock();
        drop(self.next.take());
        self.offset = 0;
        self.byte_count = self.memory.buf.len();
        self.flags.store(MdlFlags::empty().bits(), Ordering::Relaxed);
        let pages = self.page_count();
        if self.pfns.len() == pages {
            self.pfns.fill(0);
        } else {
            self.pfns = vec![0; pages].into_boxed_slice();
        }
        self.pfns_known = false;
        true
    }

    /// Gets the buffer back: unlocks the pages and drops any MDLs chained after this one.
    /// Fails, returning the MDL unchanged, when it is a partial MDL or its memory is shared
    /// with a partial MDL or source that is still alive.
    #[doc(alias = "IoFreeMdl")]
    pub fn into_buffer(self) -> Result<IoBuffer, Mdl> {
        let mut this = self;
        if !this.owns_its_memory() {
            return Err(this);
        }
        this.unlock();
        drop(this.next.take());
        let memory = std::mem::replace(&mut this.memory, Arc::new(Memory::new(IoBuffer::empty())));
        match Arc::try_unwrap(memory) {
            Ok(memory) => Ok(memory.buf),
            Err(memory) => {
                this.memory = memory;
                Err(this)
            }
        }
    }

    /// The address of the first described byte (`MmGetMdlVirtualAddress` = `StartVa` +
    /// `ByteOffset`). It carries the buffer's full provenance, like
    /// [`system_address`](Self::system_address), whose rules apply to writing through it.
    #[doc(alias = "MmGetMdlVirtualAddress")]
    pub fn virtual_address(&self) -> *const u8 {
        self.memory.buf.as_ptr().wrapping_add(self.offset)
    }

    /// A process-unique number for the memory this MDL describes, shared with its partial
    /// MDLs and source. Unlike the address, it is never reused for another buffer, so the DMA
    /// model can tell a buffer it saw flushed from a later one at the same address.
    pub(crate) fn memory_id(&self) -> u64 {
        self.memory.id
    }

    /// The page-aligned address of the first page spanned (`MDL::StartVa`).
    #[doc(alias = "StartVa")]
    pub fn start_va(&self) -> usize {
        self.virtual_address().addr() & !(page_size() - 1)
    }

    /// The offset of the first byte within its page (`MmGetMdlByteOffset`).
    #[doc(alias = "MmGetMdlByteOffset")]
    pub fn byte_offset(&self) -> usize {
        self.virtual_address().addr() & (page_size() - 1)
    }

    /// The number of bytes described (`MmGetMdlByteCount`).
    #[doc(alias = "MmGetMdlByteCount")]
    pub fn byte_count(&self) -> usize {
        self.byte_count
    }

    /// The number of pages the buffer spans (`ADDRESS_AND_SIZE_TO_SPAN_PAGES`); 0 when the
    /// byte count is 0.
    #[doc(alias = "ADDRESS_AND_SIZE_TO_SPAN_PAGES")]
    pub fn page_count(&self) -> usize {
        if self.byte_count == 0 {
            return 0;
        }
        (self.byte_offset() + self.byte_count).div_ceil(page_size())
    }

    /// The page frame number of each page spanned (`MmGetMdlPfnArray`). Filled by
    /// [`probe_and_lock`](Self::probe_and_lock) from `/proc/self/pagemap`; entries are 0 when
    /// the PFNs are not known (see [`pfns_known`](Self::pfns_known)).
    #[doc(alias = "MmGetMdlPfnArray")]
    pub fn pfns(&self) -> &[u64] {
        &self.pfns
    }

    /// Whether [`pfns`](Self::pfns) holds real page frame numbers: the pages are locked and
    /// `/proc/self/pagemap` showed all of them (it hides PFNs without `CAP_SYS_ADMIN`).
    pub fn pfns_known(&self) -> bool {
        self.pfns_known
    }

    /// The MDL's flags (`MDL::MdlFlags`).
    pub fn flags(&self) -> MdlFlags {
        MdlFlags::from_bits_retain(self.flags.load(Ordering::Relaxed))
    }

    fn set_flags(&self, set: MdlFlags, clear: MdlFlags) {
        self.flags.fetch_and(!clear.bits(), Ordering::Relaxed);
        self.flags.fetch_or(set.bits(), Ordering::Relaxed);
    }

    /// Whether the pages are locked: by [`probe_and_lock`](Self::probe_and_lock) on this MDL,
    /// or, for a partial MDL, through its source (a partial MDL keeps them locked while it
    /// lives).
    pub fn pages_locked(&self) -> bool {
        self.pinned
    }

    /// The address through which the buffer can be accessed (`MmGetSystemAddressForMdlSafe`).
    /// In user space that is the buffer's own address; sets `MAPPED_TO_SYSTEM_VA`.
    ///
    /// The pointer is valid for reads and writes of [`byte_count`](Self::byte_count) bytes
    /// while this MDL lives. Like any raw pointer, writing through it is sound only while no
    /// slice from [`bytes`](Self::bytes) or [`bytes_mut`](Self::bytes_mut) of an MDL sharing
    /// the memory is alive and no other thread accesses those bytes; upholding that is the
    /// caller's `unsafe` obligation.
    #[doc(alias = "MmGetSystemAddressForMdlSafe")]
    #[doc(alias = "MmGetSystemAddressForMdl")]
    pub fn system_address(&self) -> NonNull<u8> {
        self.set_flags(MdlFlags::MAPPED_TO_SYSTEM_VA, MdlFlags::empty());
        // `raw()` keeps the allocator's provenance (valid for writes); `offset` stays within
        // the allocation (or is 0 for an empty buffer), so the result is in bounds and non-null.
        let raw = self.memory.buf.raw();
        NonNull::new(raw.as_ptr().wrapping_add(self.offset)).unwrap_or(raw)
    }

    /// The described bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.memory.buf.as_slice()[self.offset..self.offset + self.byte_count]
    }

    /// The described bytes, mutably; `None` if the memory is shared with another MDL (a live
    /// [`PartialMdl`] borrows its source, so it rules that out at compile time).
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        let range = self.offset..self.offset + self.byte_count;
        Arc::get_mut(&mut self.memory).map(|memory| &mut memory.buf.as_mut_slice()[range])
    }

    /// Makes the pages resident and locks them (`MmProbeAndLockPages`): touches every page,
    /// `mlock`s the buffer's pages, fills the PFN array, sets `PAGES_LOCKED`, and sets
    /// `WRITE_OPERATION` iff `op` is not [`LockOperation::ReadAccess`].
    ///
    /// Fails with [`MdlError::AlreadyLocked`] if the pages are already locked by this MDL or
    /// (for a partial MDL) through its source, and with [`MdlError::LockLimit`] when
    /// `RLIMIT_MEMLOCK` does not allow it.
    #[doc(alias = "MmProbeAndLockPages")]
    pub fn probe_and_lock(&mut self, op: LockOperation) -> Result<(), MdlError> {
        if self.pinned {
            return Err(MdlError::AlreadyLocked);
        }
        // Touch each page (as the probe does); `mlock` below also faults the pages in, and for
        // private writable memory it breaks copy-on-write, so a write access is ready too.
        let bytes = self.bytes();
        let second_page = page_size() - self.byte_offset();
        for at in std::iter::once(0).chain((second_page..bytes.len()).step_by(page_size())) {
            if let Some(byte) = bytes.get(at) {
                std::hint::black_box(*byte);
            }
        }
        self.memory.pin()?;
        self.pinned = true;
        let (pfns, known) = pagemap::read_pfns(self.start_va(), self.page_count());
        self.pfns = pfns.into_boxed_slice();
        self.pfns_known = known;
        let write =
            if op == LockOperation::ReadAccess { MdlFlags::empty() } else { MdlFlags::WRITE_OPERATION };
        self.set_flags(MdlFlags::PAGES_LOCKED | write, MdlFlags::WRITE_OPERATION);
        Ok(())
    }

    /// Unlocks pages locked by [`probe_and_lock`](Self::probe_and_lock) (`MmUnlockPages`):
    /// drops this MDL's lock reference (the pages are `munlock`ed when no partial MDL still
    /// holds them), clears `PAGES_LOCKED`, `WRITE_OPERATION` and `MAPPED_TO_SYSTEM_VA`, and
    /// forgets the PFNs. Does nothing on an MDL that is not locked, or on a partial MDL (whose
    /// lock is released when it is dropped). Dropping a locked MDL unlocks it.
    #[doc(alias = "MmUnlockPages")]
    pub fn unlock(&mut self) {
        if !self.pinned || self.flags().contains(MdlFlags::PARTIAL) {
            return;
        }
        self.memory.unpin();
        self.pinned = false;
        self.pfns.fill(0);
        self.pfns_known = false;
        self.set_flags(
            MdlFlags::empty(),
            MdlFlags::PAGES_LOCKED | MdlFlags::WRITE_OPERATION | MdlFlags::MAPPED_TO_SYSTEM_VA,
        );
    }
}

impl Drop for Mdl {
    fn drop(&mut self) {
        if self.pinned {
            self.memory.unpin();
        }
        // Unlink the chain iteratively so a long chain cannot overflow the stack.
        let mut next = self.next.take();
        while let Some(mut mdl) = next {
            next = mdl.next.take();
        }
    }
}

impl fmt::Debug for Mdl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mdl")
            .field("virtual_address", &self.virtual_address())
            .field("byte_offset", &self.byte_offset())
            .field("byte_count", &self.byte_count)
            .field("page_count", &self.page_count())
            .field("flags", &self.flags())
            .field("pfns_known", &self.pfns_known)
            .field("chained", &self.next.is_some())
            .finish_non_exhaustive()
    }
}

fn check_len(len: usize) -> Result<(), MdlError> {
    if len > Mdl::MAX_BYTE_COUNT { Err(MdlError::TooLarge { len }) } else { Ok(()) }
}
