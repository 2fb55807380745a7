//! Partial MDLs (`IoBuildPartialMdl`): a sub-range of a locked MDL sharing its memory.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use super::{Mdl, MdlError, MdlFlags, page_size};

/// A partial MDL (`IoBuildPartialMdl`): a sub-range of a locked MDL, made by
/// [`Mdl::build_partial`], that borrows its source.
///
/// It derefs to [`Mdl`] for everything that reads (addresses, byte count, PFNs, flags,
/// [`bytes`](Mdl::bytes), [`system_address`](Mdl::system_address), `flush_io_buffers`, a
/// further [`build_partial`](Mdl::build_partial)). Because it holds the source's borrow, the
/// source cannot be unlocked, changed, moved (into an IRP, or by completing the IRP that
/// carries it) or dropped while the partial MDL lives: a driver cannot keep a request's memory
/// after completing the request (SDV's MdlAfterReqCompleted* rules), and this does not
/// compile:
///
/// ```compile_fail,E0505
/// use irp::{DeviceRef, Driver, Irp, Status};
/// struct D;
/// impl Driver for D {
///     fn read(&self, _: &DeviceRef, irp: Irp) -> Status {
///         let partial = irp.mdl().unwrap().build_partial(0, 512).unwrap();
///         let status = irp.complete(Status::SUCCESS);
///         let _ = partial.bytes()[0]; // the request's memory, after completion
///         status
///     }
/// }
/// ```
///
/// An owner that wants a narrower MDL of its own (to send as a request's MDL) uses
/// [`Mdl::into_partial`], which consumes the source.
#[doc(alias = "IoBuildPartialMdl")]
pub struct PartialMdl<'a> {
    mdl: Mdl,
    source: PhantomData<&'a Mdl>,
}

impl Deref for PartialMdl<'_> {
    type Target = Mdl;

    fn deref(&self) -> &Mdl {
        &self.mdl
    }
}

impl fmt::Debug for PartialMdl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PartialMdl").field(&self.mdl).finish()
    }
}

impl Mdl {
    /// A partial MDL describing `len` bytes at `offset` within this one, borrowing it
    /// (`IoBuildPartialMdl`); a `len` of 0 means "to the end".
    ///
    /// This MDL's pages must be locked ([`MdlError::NotLocked`] otherwise); a partial MDL may
    /// itself be the source. The partial MDL shares the memory, copies the PFNs of the pages it
    /// spans, inherits `WRITE_OPERATION`, `MAPPED_TO_SYSTEM_VA`, `SOURCE_IS_NONPAGED_POOL` and
    /// `IO_SPACE`, adds `PARTIAL`, and holds its own lock on the pages while it lives. See
    /// [`PartialMdl`] for what the borrow rules out.
    #[doc(alias = "IoBuildPartialMdl")]
    pub fn build_partial(&self, offset: usize, len: usize) -> Result<PartialMdl<'_>, MdlError> {
        Ok(PartialMdl { mdl: self.partial_of(offset, len)?, source: PhantomData })
    }

    /// Turns this MDL into a partial MDL of its own sub-range (`len` bytes at `offset`, 0
    /// meaning "to the end"), as [`build_partial`](Self::build_partial) describes it, consuming
    /// the source: the result owns the memory, keeps the pages locked, and can be sent as a
    /// request's MDL (an unaligned buffer for a test, say). MDLs chained after the source are
    /// dropped. On error the MDL comes back unchanged.
    #[doc(alias = "IoBuildPartialMdl")]
    pub fn into_partial(self, offset: usize, len: usize) -> Result<Mdl, (MdlError, Mdl)> {
        match self.partial_of(offset, len) {
            Ok(partial) => Ok(partial),
            Err(e) => Err((e, self)),
        }
    }

    fn partial_of(&self, offset: usize, len: usize) -> Result<Mdl, MdlError> {
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
