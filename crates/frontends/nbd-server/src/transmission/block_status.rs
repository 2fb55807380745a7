//! `NBD_CMD_BLOCK_STATUS` for the `base:allocation` context: the allocation query
//! (`FSCTL_QUERY_ALLOCATED_RANGES`, [`irp::block::allocated`]) goes down the export's stack
//! as an `IRP_MJ_DEVICE_CONTROL`, and its answer comes back as extents — holes
//! `NBD_STATE_HOLE | NBD_STATE_ZERO` (they read as zeroes), data 0.
//!
//! The reply covers the requested range from its first byte, never past the request (so
//! never past the export), and is bounded: the stack is asked for at most [`MAX_RANGES`]
//! ranges, so a reply holds at most `2 × MAX_RANGES + 1` extents, and when the answer
//! stops early (more ranges below) the reply ends with the last range the stack gave; the
//! client asks again from there, as the spec expects. With `NBD_CMD_FLAG_REQ_ONE` the
//! reply is the first extent only. A stack that cannot tell (`INVALID_DEVICE_REQUEST`)
//! gets one data extent for the whole range; one that fails the query, the error.

use std::sync::Arc;

use irp::block::lower::allocation_answer;
use irp::block::{AllocatedRange, Allocation, AllocationQuery};
use irp::{CompletedIrp, MajorFunction};
use nbd::consts::{EINVAL, STATE_HOLE, STATE_ZERO, STRUCTURED_REPLY_HEADER_LEN};
use nbd::transmission::Extent;

use super::Shared;
use super::outgoing::{Reply, Ticket, nbd_errno};

/// The most ranges one request asks the stack for.
pub(super) const MAX_RANGES: usize = 1024;

/// The largest reply: header, context id, `2 × MAX_RANGES + 1` extents of 8 bytes. A
/// request holds this much of the bytes in flight until its reply is sent.
const MAX_REPLY_BYTES: usize = STRUCTURED_REPLY_HEADER_LEN + 4 + 8 * (2 * MAX_RANGES + 1);

/// Starts a block status query of `length` bytes at `offset` (checked against the
/// export by the request checks).
pub(super) fn start(shared: &Arc<Shared>, cookie: u64, offset: u64, length: u32, req_one: bool) {
    let Some(context_id) = shared.block_status else {
        let reply = Reply::error(EINVAL, "no metadata context was selected (NBD_OPT_SET_META_CONTEXT)");
        return Ticket::acquire(shared, cookie, 0).reply(reply);
    };
    if length == 0 {
        return Ticket::acquire(shared, cookie, 0)
            .reply(Reply::error(EINVAL, "a block status query of 0 bytes"));
    }
    let ticket = Ticket::acquire(shared, cookie, MAX_REPLY_BYTES);
    let range = AllocatedRange::new(offset, u64::from(length));
    let max_ranges = if req_one { 1 } else { MAX_RANGES };
    let irp = AllocationQuery::new(range, max_ranges).into_irp(shared.irp(MajorFunction::DeviceControl));
    let device = Arc::clone(&shared.device);
    // The status returned says only whether it completed yet; the callback has the answer.
    let _ = device.submit(irp, move |mut done| answer(ticket, range, req_one, context_id, &mut done));
}

/// Runs in whatever thread completed the query: builds the reply and queues it.
fn answer(ticket: Ticket, range: AllocatedRange, req_one: bool, context_id: u32, done: &mut CompletedIrp) {
    let peer = &ticket.shared.peer;
    let allocation = match allocation_answer(range, done) {
        Ok(allocation) => allocation,
        Err(status) => {
            tracing::debug!(peer, offset = range.offset, length = range.length, %status, "block status failed");
            let reply = Reply::error(nbd_errno(status), format!("the allocation query failed: {status}"));
            return ticket.reply(reply);
        }
    };
    let extents = extents(&allocation, req_one);
    tracing::debug!(
        peer,
        offset = range.offset,
        length = range.length,
        req_one,
        known = allocation.is_known(),
        extents = extents.len(),
        "block status"
    );
    ticket.reply(Reply::BlockStatus { context_id, extents });
}

/// The `base:allocation` extents of an answer, in order from the query's offset: holes
/// `HOLE | ZERO`, data 0, neighbours of the same status merged; the first one only with
/// `req_one`. Never empty: an answer covers at least the query's first byte (the query
/// is not empty), and should one not, the whole query is called data.
fn extents(allocation: &Allocation, req_one: bool) -> Vec<Extent> {
    let mut out: Vec<Extent> = Vec::new();
    for piece in allocation.extents() {
        let flags = if piece.allocated { 0 } else { STATE_HOLE | STATE_ZERO };
        // The query is at most u32::MAX bytes long, and so is any sum of its pieces.
        let length = u32::try_from(piece.range.length).unwrap_or(u32::MAX);
        match out.last_mut() {
            Some(last) if last.flags == flags => last.length = last.length.saturating_add(length),
            Some(_) if req_one => break,
            _ => out.push(Extent { length, flags }),
        }
    }
    if out.is_empty() {
        let length = u32::try_from(allocation.query().length).unwrap_or(u32::MAX);
        out.push(Extent { length, flags: 0 });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(offset: u64, length: u64) -> AllocatedRange {
        AllocatedRange::new(offset, length)
    }

    const HOLE: u32 = STATE_HOLE | STATE_ZERO;

    fn e(length: u32, flags: u32) -> Extent {
        Extent { length, flags }
    }

    #[test]
    fn holes_and_data_become_extents() {
        let query = r(1000, 9000);
        let a = Allocation::from_ranges(query, [r(0, 2000), r(4000, 1000), r(9500, 1000)]);
        assert_eq!(extents(&a, false), [e(1000, 0), e(2000, HOLE), e(1000, 0), e(4500, HOLE), e(500, 0)]);
        assert_eq!(extents(&a, true), [e(1000, 0)], "REQ_ONE: the first extent");
        let holes = Allocation::nothing(query);
        assert_eq!(extents(&holes, false), [e(9000, HOLE)]);
        assert_eq!(extents(&holes, true), [e(9000, HOLE)]);
        assert_eq!(extents(&Allocation::unknown(query), false), [e(9000, 0)], "cannot tell: data");
    }

    #[test]
    fn a_cut_answer_ends_with_its_last_range() {
        let query = r(0, u64::from(u32::MAX));
        let a = Allocation::from_ranges(query, [r(4096, 4096), r(1 << 20, 512)]).limited(1);
        assert_eq!(extents(&a, false), [e(4096, HOLE), e(4096, 0)], "nothing past what the stack said");
        let whole = Allocation::from_ranges(query, [r(0, 1 << 30)]);
        assert_eq!(extents(&whole, false), [e(1 << 30, 0), e(u32::MAX - (1 << 30), HOLE)]);
    }
}
