//! Page frame numbers from `/proc/self/pagemap` (the PFN array of an MDL).

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::page_size;

/// Bit 63 of a pagemap entry: the page is present in RAM.
const PRESENT: u64 = 1 << 63;
/// Bits 0..=54 of a pagemap entry: the page frame number when present.
const PFN_MASK: u64 = (1 << 55) - 1;

/// The PFNs of `pages` pages starting at the page-aligned address `start_va`.
///
/// Returns the PFNs (0 for a page that is not present) and whether they are all known: false
/// when pagemap cannot be read, or when a page is absent or reads as PFN 0 (the kernel hides
/// PFNs from processes without `CAP_SYS_ADMIN`).
pub(super) fn read_pfns(start_va: usize, pages: usize) -> (Vec<u64>, bool) {
    let mut pfns = vec![0; pages];
    if pages == 0 {
        return (pfns, true);
    }
    let mut raw = vec![0u8; pages * 8];
    let offset = (start_va / page_size()) as u64 * 8;
    // Opened per call: a descriptor cached across fork() would show the parent's pages.
    let read = File::open("/proc/self/pagemap").and_then(|f| f.read_exact_at(&mut raw, offset));
    if let Err(error) = read {
        tracing::trace!(%error, "/proc/self/pagemap not readable; PFNs unknown");
        return (pfns, false);
    }
    let mut known = true;
    for (pfn, entry) in pfns.iter_mut().zip(raw.chunks_exact(8)) {
        let entry = u64::from_ne_bytes(entry.try_into().expect("chunks of 8 bytes"));
        *pfn = if entry & PRESENT != 0 { entry & PFN_MASK } else { 0 };
        known &= *pfn != 0;
    }
    (pfns, known)
}
