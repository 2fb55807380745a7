//! Which parts of a disk may hold data: NT's `FSCTL_QUERY_ALLOCATED_RANGES`, sent as an
//! `IRP_MJ_DEVICE_CONTROL` down a disk stack. An NBD server answers `NBD_CMD_BLOCK_STATUS`
//! with it, so that copies (`qemu-img convert`, `nbdcopy`) skip the holes.
//!
//! **The request.** [`Parameters::DeviceControl`] with [`FSCTL_QUERY_ALLOCATED_RANGES`] and an
//! `output_length`; the system buffer holds one [`AllocatedRange`] (NT's
//! `FILE_ALLOCATED_RANGE_BUFFER`), the range asked about. It must lie inside the device
//! (else `STATUS_INVALID_PARAMETER`, as an input that is not one range is), and the output
//! must have room for one range (else `STATUS_BUFFER_TOO_SMALL`).
//!
//! **The answer.** The system buffer holds an array of ranges, ascending, disjoint, each
//! inside the query: the ranges that *may* hold data. A byte of the query outside them reads
//! as zeroes — that is the promise, so a device that is not sure lists the range.
//! `information` is the answer's length in bytes. When more ranges exist than
//! `output_length` has room for, the status is `STATUS_BUFFER_OVERFLOW` (a warning, not an
//! error) with the ranges that fit: the answer is then complete up to the end of its last
//! range, and the caller asks again from there — NT's rule.
//!
//! **Who answers.** A disk through [`BlockDisk::allocated_ranges`](super::BlockDisk::allocated_ranges),
//! whose default is `STATUS_INVALID_DEVICE_REQUEST`: the disk cannot tell. A filter without
//! buffers forwards the request; one with buffers adds what it holds that is not below yet.
//! A caller that gets `STATUS_INVALID_DEVICE_REQUEST` treats the whole range as data
//! ([`Allocation::decode`] turns it into [`Allocation::unknown`]).
//!
//! **Encoding**, as NT's: a range is two little-endian 64-bit integers, offset then length.

use crate::{Irp, Parameters, Status};

/// `FSCTL_QUERY_ALLOCATED_RANGES`: `CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 51, METHOD_NEITHER,
/// FILE_READ_DATA)`, NT's value.
pub const FSCTL_QUERY_ALLOCATED_RANGES: u32 = 0x0009_40CF;

/// A byte range of a disk (`FILE_ALLOCATED_RANGE_BUFFER`: `FileOffset`, `Length`).
#[doc(alias = "FILE_ALLOCATED_RANGE_BUFFER")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AllocatedRange {
    /// First byte (`FileOffset`).
    pub offset: u64,
    /// Length in bytes (`Length`).
    pub length: u64,
}

impl AllocatedRange {
    /// The size of one encoded range.
    pub const ENCODED_LEN: usize = 16;

    /// The range of `length` bytes at `offset`.
    pub const fn new(offset: u64, length: u64) -> AllocatedRange {
        AllocatedRange { offset, length }
    }

    /// One past the last byte, if that fits a `u64`.
    pub const fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.length)
    }

    /// The range `start..end` (empty if `end <= start`).
    fn between(start: u64, end: u64) -> AllocatedRange {
        AllocatedRange { offset: start, length: end.saturating_sub(start) }
    }

    /// NT's layout: offset, then length, little-endian.
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0; Self::ENCODED_LEN];
        out[..8].copy_from_slice(&self.offset.to_le_bytes());
        out[8..].copy_from_slice(&self.length.to_le_bytes());
        out
    }

    /// Reads NT's layout.
    pub fn from_bytes(bytes: &[u8; Self::ENCODED_LEN]) -> AllocatedRange {
        let (offset, length) = bytes.split_at(8);
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        AllocatedRange { offset: word(offset), length: word(length) }
    }
}

/// Why an answer gives no [`Allocation`]: the device failed the query, or answered
/// against the rules of the module documentation (the bug of the driver that did).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllocationError {
    /// The device failed the query with this status.
    #[error("the allocation query failed: {0}")]
    Failed(Status),
    /// The answer's length is not a whole number of ranges.
    #[error("an answer of {0} bytes is not a whole number of 16-byte ranges")]
    Ragged(usize),
    /// A range is empty, outside the query, or not after the one before it.
    #[error("range {range:?} is empty, outside the query {query:?} or not after the range before it")]
    Misplaced {
        /// The range.
        range: AllocatedRange,
        /// The query.
        query: AllocatedRange,
    },
    /// `STATUS_BUFFER_OVERFLOW` says ranges were left out, but none came.
    #[error("STATUS_BUFFER_OVERFLOW without a single range")]
    OverflowWithoutRange,
}

impl AllocationError {
    /// The status a caller passes on: the device's, or `STATUS_INTERNAL_ERROR` for an
    /// answer that breaks the rules.
    pub fn status(&self) -> Status {
        match self {
            AllocationError::Failed(status) => *status,
            _ => Status::INTERNAL_ERROR,
        }
    }
}

/// What a device says about a range it was asked about: the ranges that may hold data,
/// and how far the answer goes (up to [`end`](Allocation::end); past it, nothing is known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    query: AllocatedRange,
    ranges: Vec<AllocatedRange>,
    end: u64,
    known: bool,
}

/// One piece of an [`Allocation`]: data, or a hole that reads as zeroes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AllocationExtent {
    /// The bytes.
    pub range: AllocatedRange,
    /// Whether they may hold data (else they read as zeroes).
    pub allocated: bool,
}

impl Allocation {
    /// The query's end; a query inside a device never overflows.
    fn query_end(query: AllocatedRange) -> u64 {
        query.end().unwrap_or(u64::MAX)
    }

    /// The complete answer made of `ranges`, in any order, overlapping or adjacent: clipped
    /// to `query`, sorted and merged.
    pub fn from_ranges(
        query: AllocatedRange,
        ranges: impl IntoIterator<Item = AllocatedRange>,
    ) -> Allocation {
        let end = Allocation::query_end(query);
        Allocation { query, ranges: Vec::new(), end, known: true }.union(ranges)
    }

    /// Nothing allocated: the whole query reads as zeroes.
    pub fn nothing(query: AllocatedRange) -> Allocation {
        Allocation::from_ranges(query, [])
    }

    /// The whole query may hold data (a block device: no holes to tell).
    pub fn everything(query: AllocatedRange) -> Allocation {
        Allocation::from_ranges(query, [query])
    }

    /// The device cannot tell (`STATUS_INVALID_DEVICE_REQUEST`): the whole query counts as
    /// data, and [`is_known`](Allocation::is_known) says it was not asked.
    pub fn unknown(query: AllocatedRange) -> Allocation {
        Allocation { known: false, ..Allocation::everything(query) }
    }

    /// The range asked about.
    pub fn query(&self) -> AllocatedRange {
        self.query
    }

    /// The ranges that may hold data, ascending and disjoint, inside `query.offset..end`.
    pub fn ranges(&self) -> &[AllocatedRange] {
        &self.ranges
    }

    /// Where the answer ends: every byte from the query's offset up to here that is not in
    /// [`ranges`](Allocation::ranges) reads as zeroes.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Whether the answer covers the whole query.
    pub fn is_complete(&self) -> bool {
        self.end == Allocation::query_end(self.query)
    }

    /// Whether a device answered (not [`Allocation::unknown`]).
    pub fn is_known(&self) -> bool {
        self.known
    }

    /// This answer and `extra` ranges also holding data (a cache's dirty blocks), within
    /// what this answer covers.
    pub fn union(mut self, extra: impl IntoIterator<Item = AllocatedRange>) -> Allocation {
        let start = self.query.offset;
        let end = self.end;
        let mut all: Vec<AllocatedRange> = self.ranges;
        all.extend(extra.into_iter().filter_map(|r| {
            let from = r.offset.max(start);
            let to = r.end().unwrap_or(u64::MAX).min(end);
            (from < to).then(|| AllocatedRange::between(from, to))
        }));
        all.sort_unstable_by_key(|r| r.offset);
        let mut merged: Vec<AllocatedRange> = Vec::with_capacity(all.len());
        for r in all {
            let r_end = r.offset + r.length;
            match merged.last_mut() {
                Some(last) if r.offset <= last.offset + last.length => {
                    last.length = last.length.max(r_end - last.offset);
                }
                _ => merged.push(r),
            }
        }
        self.ranges = merged;
        self
    }

    /// At most `max_ranges` ranges (at least one): when there are more, the answer ends
    /// with the last one kept (`STATUS_BUFFER_OVERFLOW`'s meaning).
    pub fn limited(mut self, max_ranges: usize) -> Allocation {
        let max = max_ranges.max(1);
        if self.ranges.len() > max {
            self.ranges.truncate(max);
            if let Some(last) = self.ranges.last() {
                self.end = last.offset + last.length;
            }
        }
        self
    }

    /// The pieces from the query's offset to [`end`](Allocation::end), in order:
    /// allocated ranges and the holes between them.
    pub fn extents(&self) -> impl Iterator<Item = AllocationExtent> + '_ {
        let mut at = self.query.offset;
        let mut next = self.ranges.iter().peekable();
        std::iter::from_fn(move || {
            if at >= self.end {
                return None;
            }
            let piece = match next.peek().copied() {
                Some(r) if r.offset <= at => {
                    next.next();
                    AllocationExtent { range: *r, allocated: true }
                }
                Some(r) => {
                    AllocationExtent { range: AllocatedRange::between(at, r.offset), allocated: false }
                }
                None => AllocationExtent { range: AllocatedRange::between(at, self.end), allocated: false },
            };
            at = piece.range.offset + piece.range.length;
            Some(piece)
        })
    }

    /// The answer as the system buffer carries it, and its status: `SUCCESS`, or
    /// `BUFFER_OVERFLOW` when it does not cover the whole query.
    pub fn encode(&self) -> (Vec<u8>, Status) {
        let bytes = self.ranges.iter().flat_map(AllocatedRange::to_bytes).collect();
        let status = if self.is_complete() { Status::SUCCESS } else { Status::BUFFER_OVERFLOW };
        (bytes, status)
    }

    /// Completes a query IRP with this answer, cut to `max_ranges`.
    pub fn complete(self, mut irp: Irp, max_ranges: usize) -> Status {
        let (bytes, status) = self.limited(max_ranges).encode();
        let information = bytes.len() as u64;
        *irp.system_buffer_mut() = bytes;
        irp.complete_with(status, information)
    }

    /// Decodes what a device answered to `query`: its status and system buffer (the first
    /// `information` bytes). `INVALID_DEVICE_REQUEST` is [`Allocation::unknown`].
    pub fn decode(
        query: AllocatedRange,
        status: Status,
        buffer: &[u8],
    ) -> Result<Allocation, AllocationError> {
        match status {
            Status::SUCCESS | Status::BUFFER_OVERFLOW => {}
            Status::INVALID_DEVICE_REQUEST => return Ok(Allocation::unknown(query)),
            failed => return Err(AllocationError::Failed(failed)),
        }
        let (chunks, rest) = buffer.as_chunks::<{ AllocatedRange::ENCODED_LEN }>();
        if !rest.is_empty() {
            return Err(AllocationError::Ragged(buffer.len()));
        }
        let end = Allocation::query_end(query);
        let mut ranges = Vec::with_capacity(chunks.len());
        let mut after = query.offset;
        for chunk in chunks {
            let range = AllocatedRange::from_bytes(chunk);
            match range.end() {
                Some(range_end) if range.length > 0 && range.offset >= after && range_end <= end => {
                    after = range_end;
                    ranges.push(range);
                }
                _ => return Err(AllocationError::Misplaced { range, query }),
            }
        }
        let end = if status == Status::BUFFER_OVERFLOW {
            ranges.last().map(|r| r.offset + r.length).ok_or(AllocationError::OverflowWithoutRange)?
        } else {
            end
        };
        Ok(Allocation { query, ranges, end, known: true })
    }
}

/// An `FSCTL_QUERY_ALLOCATED_RANGES` request: the range asked about and how many ranges
/// the answer has room for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocationQuery {
    /// The range asked about.
    pub range: AllocatedRange,
    /// Room in the output, in ranges (at least 1).
    pub max_ranges: usize,
}

impl AllocationQuery {
    /// A query of `range` with room for `max_ranges` ranges.
    pub fn new(range: AllocatedRange, max_ranges: usize) -> AllocationQuery {
        AllocationQuery { range, max_ranges: max_ranges.max(1) }
    }

    /// `irp` (an `IRP_MJ_DEVICE_CONTROL`) made this query: its parameters and system buffer.
    pub fn into_irp(self, irp: Irp) -> Irp {
        let room = self.max_ranges.saturating_mul(AllocatedRange::ENCODED_LEN);
        let output_length = u32::try_from(room).unwrap_or(u32::MAX);
        irp.with_parameters(Parameters::DeviceControl { code: FSCTL_QUERY_ALLOCATED_RANGES, output_length })
            .with_system_buffer(self.range.to_bytes().to_vec())
    }

    /// The query an IRP carries, checked against a device of `size` bytes: `None` when it
    /// is another request, else the query or the status to fail it with.
    pub fn decode(irp: &Irp, size: u64) -> Option<Result<AllocationQuery, Status>> {
        let Parameters::DeviceControl { code: FSCTL_QUERY_ALLOCATED_RANGES, output_length } =
            *irp.parameters()
        else {
            return None;
        };
        let Ok(input) = <&[u8; AllocatedRange::ENCODED_LEN]>::try_from(irp.system_buffer()) else {
            return Some(Err(Status::INVALID_PARAMETER));
        };
        let range = AllocatedRange::from_bytes(input);
        if range.end().is_none_or(|end| end > size) {
            return Some(Err(Status::INVALID_PARAMETER));
        }
        let max_ranges = output_length as usize / AllocatedRange::ENCODED_LEN;
        if max_ranges == 0 {
            return Some(Err(Status::BUFFER_TOO_SMALL));
        }
        Some(Ok(AllocationQuery { range, max_ranges }))
    }
}

#[cfg(test)]
#[path = "allocated_tests.rs"]
mod tests;
