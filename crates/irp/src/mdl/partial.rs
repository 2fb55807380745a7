//! Partial MDLs (`IoBuildPartialMdl`): a sub-range of a locked MDL sharing its memory.

use std::sync::Arc;

use super::{Mdl, MdlError, MdlFlags, page_size};

impl Mdl {
    /// An MDL describing `len` bytes at `offset` within this one (`IoBuildPartialMdl`); a `len`
    /// of 0 means "to the end".
    ///
    /// This MDL's pages must be locked ([`MdlError::NotLocked`] otherwise); a partial MDL may
    /// itself be the source. The partial MDL shares the memory, copies the PFNs of the pages it
    /// spans, inherits `WRITE_OPERATION`, `MAPPED_TO_SYSTEM_VA`, `SOURCE_IS_NONPAGED_POOL` and
    /// `IO_SPACE`, and adds `PARTIAL`. It keeps the pages locked while it lives, even if the
    /// source is unlocked or dropped first. While it lives, neither it nor its source gives out
    /// [`bytes_mut`](Mdl::bytes_mut).
    #[doc(alias = "IoBuildPartialMdl")]
    pub fn build_partial(&self, offset: usize, len: usize) -> Result<Mdl, MdlError> {
        if !self.pinned {
            return Err(MdlError::NotLocked);
        }
        let out_of_range = || MdlError::OutOfRange { offset, len, byte_count: self.byte_count };
        let remaining = self.byte_count.checked_sub(offset).ok_or_else(out_of_range)?;
        let byte_count = if len == 0 { remaining } else { len };
        if byte_count > remaining {
            return Err(out_of_range());
        }
        let inherited = self.flags()
            & (MdlFlags::WRITE_OPERATION
                | MdlFlags::MAPPED_TO_SYSTEM_VA
                | MdlFlags::SOURCE_IS_NONPAGED_POOL
                | MdlFlags::IO_SPACE);
        let mut partial = Mdl::describe(
            Arc::clone(&self.memory),
            self.offset + offset,
            byte_count,
            inherited | MdlFlags::PARTIAL,
        );
        self.memory.pin_again();
        partial.pinned = true;
        let first = (partial.start_va() - self.start_va()) / page_size();
        let pages = partial.page_count();
        if let Some(pfns) = self.pfns.get(first..first + pages) {
            partial.pfns.copy_from_slice(pfns);
        }
        partial.pfns_known = self.pfns_known;
        Ok(partial)
    }
}
