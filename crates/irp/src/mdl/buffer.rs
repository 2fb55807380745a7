//! [`IoBuffer`]: an owned, zeroed, page-granular heap buffer for direct I/O.

use std::alloc::{self, Layout};
use std::fmt;
use std::ptr::NonNull;
use std::sync::OnceLock;

use super::MdlError;

/// The size of a virtual memory page in bytes (`PAGE_SIZE`), read once with
/// `sysconf(_SC_PAGESIZE)`.
#[doc(alias = "PAGE_SIZE")]
pub fn page_size() -> usize {
    static PAGE_SIZE: OnceLock<usize> = OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        // SAFETY: sysconf only reads a configuration value; it has no memory-safety preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        match usize::try_from(size) {
            Ok(size) if size.is_power_of_two() => size,
            _ => 4096,
        }
    })
}

/// An owned, aligned, zero-initialised heap buffer that I/O can be done into — the memory an
/// [`Mdl`](super::Mdl) describes.
///
/// The buffer owns whole pages: its start is aligned to at least the page size and its
/// allocation is rounded up to a whole number of pages. No other allocation shares a page with
/// it, so locking and unlocking its pages (`mlock`/`munlock`) never affects other memory.
/// [`len`](Self::len) is the length that was asked for; the padding up to the page boundary is
/// zeroed and not reachable through the safe API.
///
/// A zero-length buffer allocates nothing and has a dangling (but aligned, non-null) pointer.
pub struct IoBuffer {
    /// Start of the allocation. Raw pointer from the allocator, so it carries provenance for
    /// the whole allocation; never derived from a reference.
    ptr: NonNull<u8>,
    /// Bytes visible through the API.
    len: usize,
    /// The layout `ptr` was allocated with; its size is 0 when nothing was allocated.
    layout: Layout,
}

// SAFETY: `IoBuffer` owns its allocation exclusively (like `Box<[u8]>`); the raw pointer is
// never shared with other values, so moving the owner to another thread is sound.
unsafe impl Send for IoBuffer {}
// SAFETY: shared access (`&IoBuffer`) only reads the bytes (`as_slice`, `as_ptr`); mutation
// needs `&mut IoBuffer`, so the usual borrow rules prevent data races, as for `Box<[u8]>`.
unsafe impl Sync for IoBuffer {}

impl IoBuffer {
    /// Allocates `len` zeroed bytes aligned to the page size.
    pub fn new(len: usize) -> Result<IoBuffer, MdlError> {
        Self::with_alignment(len, page_size())
    }

    /// Allocates `len` zeroed bytes aligned to `align`, which must be a power of two.
    ///
    /// Alignments below the page size are raised to the page size, because the buffer always
    /// owns whole pages (see the type documentation); [`alignment`](Self::alignment) reports
    /// the alignment actually used.
    pub fn with_alignment(len: usize, align: usize) -> Result<IoBuffer, MdlError> {
        if !align.is_power_of_two() {
            return Err(MdlError::BadAlignment { align });
        }
        let align = align.max(page_size());
        let alloc_failed = || MdlError::AllocationFailed { len, align };
        if len == 0 {
            let layout = Layout::from_size_align(0, align).map_err(|_| alloc_failed())?;
            return Ok(IoBuffer { ptr: layout.dangling_ptr(), len, layout });
        }
        let size = len.checked_next_multiple_of(page_size()).ok_or_else(alloc_failed)?;
        let layout = Layout::from_size_align(size, align).map_err(|_| alloc_failed())?;
        // SAFETY: `layout` has a non-zero size (`len > 0` and rounding up keeps it non-zero).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(alloc_failed)?;
        Ok(IoBuffer { ptr, len, layout })
    }

    /// An empty buffer; allocates nothing.
    pub(super) fn empty() -> IoBuffer {
        let layout = Layout::from_size_align(0, page_size()).expect("page size is a power of two");
        IoBuffer { ptr: layout.dangling_ptr(), len: 0, layout }
    }

    /// Allocates a page-aligned buffer holding a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Result<IoBuffer, MdlError> {
        let mut buf = Self::new(bytes.len())?;
        buf.as_mut_slice().copy_from_slice(bytes);
        Ok(buf)
    }

    /// The number of bytes in the buffer.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The alignment of the buffer's start: at least the page size.
    pub fn alignment(&self) -> usize {
        self.layout.align()
    }

    /// The bytes of the buffer.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is non-null and aligned; when `len > 0` it points to an allocation of at
        // least `len` initialised (zeroed at allocation) bytes that `self` owns, and `&self`
        // prevents mutation for the returned lifetime. A zero-length slice needs only that.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes of the buffer, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; `&mut self` guarantees exclusive access for the lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// A pointer to the first byte, valid for reads of [`len`](Self::len) bytes while the
    /// buffer lives and is not mutated through another path.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// A pointer to the first byte, valid for reads and writes of [`len`](Self::len) bytes
    /// while the buffer lives and is not accessed through another path.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The start of the allocation with full read/write provenance, for [`Mdl`](super::Mdl):
    /// writing through it is sound only while no slice of the buffer is borrowed.
    pub(super) fn raw(&self) -> NonNull<u8> {
        self.ptr
    }

    /// The page-granular range the buffer occupies: `(start, bytes)`, `bytes` being 0 for an
    /// empty buffer. Locking this range locks exactly the buffer's own pages.
    pub(super) fn page_range(&self) -> (*const u8, usize) {
        (self.ptr.as_ptr(), self.layout.size())
    }
}

impl Drop for IoBuffer {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: `ptr` was returned by `alloc_zeroed(self.layout)` and is freed only here.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
        }
    }
}

impl fmt::Debug for IoBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoBuffer")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .field("alignment", &self.alignment())
            .finish()
    }
}
