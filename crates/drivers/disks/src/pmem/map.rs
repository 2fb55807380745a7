//! The mapping of the disk file: `mmap` (with `MAP_SYNC` where the file system allows it),
//! copies in and out through raw pointers, cache-line write-back, `msync` and `munmap`. All
//! of the driver's `unsafe` code lives here.
//!
//! **Aliasing.** The mapping is shared memory: the kernel (page cache, writeback, DAX) and
//! possibly other processes see it, and the driver's threads read and write it concurrently
//! for requests on different ranges. So no Rust reference (`&[u8]` or `&mut [u8]`) to mapped
//! memory is ever created: every access is a `ptr::copy_nonoverlapping` or `ptr::write_bytes`
//! through the raw base pointer, and cache maintenance takes raw pointers too
//! ([`irp::cpu_cache::flush_range`] rather than [`irp::cpu_cache::write_back`], which takes a slice).
//! Accesses to *overlapping* ranges at the same time are not excluded by the driver: the
//! block-device contract leaves their result undefined (a disk may return old, new or mixed
//! sectors), and the callers above (file system, cache, NBD server) never issue them. The
//! memory is treated like a device's: other parties may change it, and nothing the driver
//! does assumes its contents stay the same between two accesses.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

use irp::cpu_cache::{FlushMethod, flush_range, persistence_method};

/// How the file was mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MapKind {
    /// `MAP_SHARED_VALIDATE | MAP_SYNC`: the file system keeps the file's metadata durable
    /// for every page written through the mapping, so a CPU cache write-back plus a drain
    /// makes data durable.
    Sync,
    /// `MAP_SHARED`: data reaches storage through the page cache (or, on DAX without
    /// `MAP_SYNC`, needs the metadata sync) only with `msync`.
    Shared,
}

/// A shared, writable mapping of the first `len` bytes of a file.
///
/// Drop unmaps it (`munmap`); the owner syncs it first if it wants what was written to be
/// durable (see `PmemDisk`'s `Drop`).
#[derive(Debug)]
pub(super) struct Mapping {
    /// The base of the mapping: page-aligned, `len` bytes, mapped read-write until drop.
    base: NonNull<u8>,
    len: usize,
    kind: MapKind,
    /// The write-back instruction, chosen once by CPUID.
    method: FlushMethod,
}

// SAFETY: `Mapping` owns the mapping (it unmaps it only in `drop`, which needs `&mut self`),
// so `base` stays valid on any thread for as long as the value lives. It never hands out
// references into the mapping; every access is a raw copy whose range the caller checks
// (see the module documentation for concurrent accesses), so sharing `&Mapping` between
// threads creates no aliasing `&mut`.
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`: `&Mapping` only allows raw copies into and out of the mapping and
// system calls on it, which the kernel serialises as it needs.
unsafe impl Sync for Mapping {}

/// Whether an `mmap` error means "this file (system) cannot do `MAP_SYNC`": `EOPNOTSUPP`
/// from a file system without DAX, `EINVAL` from a kernel that does not know
/// `MAP_SHARED_VALIDATE` (before 4.15).
pub(super) fn is_map_sync_unsupported(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EINVAL))
}

impl Mapping {
    /// Maps the first `len` bytes of `file` (open read-write, at least `len` bytes long)
    /// shared and writable, with `MAP_SYNC` when `kind` is [`MapKind::Sync`]. The file
    /// descriptor can be closed afterwards: the mapping keeps the file open.
    pub(super) fn new(file: &File, len: usize, kind: MapKind) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let flags = match kind {
            MapKind::Sync => libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC,
            MapKind::Shared => libc::MAP_SHARED,
        };
        // SAFETY: a new mapping at an address the kernel chooses (null hint, no MAP_FIXED),
        // so no existing memory is replaced; `file` is borrowed, so its descriptor is open
        // for the call.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(base.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { base, len, kind, method: persistence_method() })
    }

    /// How the file is mapped.
    pub(super) fn kind(&self) -> MapKind {
        self.kind
    }

    /// The mapped length in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// A pointer to `offset..offset + len` of the mapping.
    ///
    /// # Panics
    ///
    /// If the range does not lie inside the mapping (the dispatch routines check ranges
    /// against the disk size first, so this is a driver bug).
    fn at(&self, offset: usize, len: usize) -> *mut u8 {
        let end = offset.checked_add(len);
        assert!(
            end.is_some_and(|end| end <= self.len),
            "pmem mapping access {offset}+{len} outside its {} bytes",
            self.len
        );
        // SAFETY: `offset <= self.len` (checked above), so the result is inside the
        // mapping or one past its end.
        unsafe { self.base.as_ptr().add(offset) }
    }

    /// Copies `dst.len()` bytes at `offset` of the mapping into `dst`.
    pub(super) fn read(&self, offset: usize, dst: &mut [u8]) {
        let src = self.at(offset, dst.len());
        // SAFETY: `src..src + dst.len()` is inside the live mapping (checked by `at`); `dst`
        // is an exclusive borrow of ordinary memory, which cannot overlap a mapping this
        // value owns. No reference to the mapping is made.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) }
    }

    /// Copies `src` to `offset` of the mapping (not written back; see
    /// [`write_back`](Self::write_back)).
    pub(super) fn write(&self, offset: usize, src: &[u8]) {
        let dst = self.at(offset, src.len());
        // SAFETY: `dst..dst + src.len()` is inside the live, writable mapping (checked by
        // `at`); `src` is a borrow of ordinary memory, so the ranges do not overlap. The
        // write goes through the raw pointer: no `&mut` to shared mapped memory exists.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
    }

    /// Zeroes `len` bytes at `offset` of the mapping.
    pub(super) fn zero(&self, offset: usize, len: usize) {
        let dst = self.at(offset, len);
        // SAFETY: the range is inside the live, writable mapping (checked by `at`); written
        // through the raw pointer.
        unsafe { std::ptr::write_bytes(dst, 0, len) }
    }

    /// Whether the `len` bytes at `offset` are all zero. Reading a hole of a sparse file
    /// maps the shared zero page and allocates nothing, so discards over holes stay cheap.
    pub(super) fn is_zero(&self, offset: usize, len: usize) -> bool {
        const ZEROES: [u8; 4096] = [0; 4096];
        let mut chunk = [0u8; 4096];
        let mut done = 0;
        while done < len {
            let n = chunk.len().min(len - done);
            self.read(offset + done, &mut chunk[..n]);
            // Slice equality of bytes is a `memcmp`.
            if chunk[..n] != ZEROES[..n] {
                return false;
            }
            done += n;
        }
        true
    }

    /// Writes back the cache lines of `len` bytes at `offset` towards the persistence domain
    /// with CLWB, else CLFLUSHOPT, else CLFLUSH (`pmem_flush`), without a fence: follow
    /// with [`irp::cpu_cache::drain`] before relying on it.
    pub(super) fn write_back(&self, offset: usize, len: usize) {
        let ptr = self.at(offset, len);
        // SAFETY: the range is inside the live mapping (checked by `at`); a cache
        // write-back does not change memory contents. `method` came from
        // `persistence_method`, which only returns methods this CPU has.
        unsafe { flush_range(ptr, len, self.method) }
    }

    /// `msync(MS_SYNC)` of the pages overlapping `len` bytes at `offset` (`pmem_msync`):
    /// writes the page-cache pages back and syncs the file's metadata for them.
    pub(super) fn msync(&self, offset: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        let page = irp::page_size();
        let start = offset - offset % page;
        let end = offset.saturating_add(len).min(self.len);
        let ptr = self.at(start, end - start);
        // SAFETY: `start` is page-aligned (the base is), and `start..end` lies inside the
        // live mapping (checked by `at`); msync neither unmaps nor changes memory.
        let r = unsafe { libc::msync(ptr.cast(), end - start, libc::MS_SYNC) };
        if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }
}

impl Drop for Mapping {
    /// `munmap`. Dirty page-cache pages are not lost by it (the kernel writes them back
    /// later), but they are not durable either: the owner syncs before dropping.
    fn drop(&mut self) {
        // SAFETY: `base..base + len` is this value's own mapping, unmapped exactly once
        // here; `&mut self` proves no copy into or out of it is running, and no reference
        // into it exists.
        let r = unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
        if r < 0 {
            tracing::error!(error = %io::Error::last_os_error(), len = self.len, "munmap of a pmem disk failed");
        }
    }
}
