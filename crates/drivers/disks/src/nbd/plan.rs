//! Turning a block request into NBD commands: splitting at the server's maximum
//! payload, choosing native or emulated FUA, and the fallbacks for commands the server
//! does not advertise.

use irp::Status;

use super::connect::ExportInfo;
use nbd::transmission::Command;

/// The most a trim or write-zeroes (no payload) covers in one command. Servers may
/// refuse very large effect lengths (the spec allows `EOVERFLOW`); 1 GiB is a multiple
/// of every minimum block size.
pub(super) const MAX_EFFECT: u64 = 1 << 30;

/// A request queued to the writer thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// Read into the IRP's MDL.
    Read { offset: u64, length: u32 },
    /// Write the IRP's MDL.
    Write { offset: u64, length: u32, fua: bool },
    /// Discard.
    Trim { offset: u64, length: u64 },
    /// Write zeroes; `no_hole` unless the caller allowed unmapping.
    Zeroes { offset: u64, length: u64, no_hole: bool, fua: bool },
    /// A flush (FlushBuffers with device sync).
    Flush,
    /// IRP_MJ_SHUTDOWN: flush, then disconnect once nothing is in flight.
    Shutdown,
    /// The second half of an emulated FUA write: a flush on the connection (by
    /// generation) that acknowledged the write; `information` is what the IRP reports.
    FlushAfter { generation: u64, information: u64 },
}

/// Where a command's payload (write) or reply data (read) lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Payload {
    /// No data.
    None,
    /// `len` bytes at `offset` in the IRP's MDL.
    Mdl { offset: usize, len: u32 },
    /// `len` zero bytes (write-zeroes emulated with writes).
    Zeroes { len: u32 },
}

/// One NBD command of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Part {
    pub(super) command: Command,
    pub(super) payload: Payload,
}

/// The commands that carry out a request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(super) struct Plan {
    pub(super) parts: Vec<Part>,
    /// Emulated FUA: flush once every part succeeded, before completing.
    pub(super) then_flush: bool,
    /// `IoStatus.Information` on success.
    pub(super) information: u64,
}

/// Splits `offset..offset + length` into pieces of at most `max` bytes.
pub(super) fn chunks(offset: u64, length: u64, max: u64) -> impl Iterator<Item = (u64, u64)> {
    let max = max.max(1);
    (0..length.div_ceil(max)).map(move |i| {
        let start = i * max;
        (offset + start, max.min(length - start))
    })
}

/// The commands for `op` on an export described by `info`. Fails (before anything is
/// sent) when the request cannot be carried out honestly: a FUA write to a server with
/// neither FUA nor flush, a flush to a server without flush.
pub(super) fn plan(op: Op, info: &ExportInfo) -> Result<Plan, Status> {
    let mut plan = Plan::default();
    let max_request = u64::from(info.max_request());
    let fua_native = |fua: bool| -> Result<bool, Status> {
        match (fua, info.can_fua(), info.can_flush()) {
            (false, ..) => Ok(false),
            (true, true, _) => Ok(true),
            (true, false, true) => Ok(false),
            (true, false, false) => Err(Status::NOT_SUPPORTED),
        }
    };
    match op {
        Op::Read { offset, length } => {
            for (off, len) in chunks(offset, length.into(), max_request) {
                let len = len as u32; // at most max_request (<= 32 MiB)
                let payload = Payload::Mdl { offset: (off - offset) as usize, len };
                plan.parts
                    .push(Part { command: Command::Read { offset: off, length: len, df: false }, payload });
            }
            plan.information = length.into();
        }
        Op::Write { offset, length, fua } => {
            let native = fua_native(fua)?;
            plan.then_flush = fua && !native;
            for (off, len) in chunks(offset, length.into(), max_request) {
                let len = len as u32;
                let payload = Payload::Mdl { offset: (off - offset) as usize, len };
                let command = Command::Write { offset: off, length: len, fua: native };
                plan.parts.push(Part { command, payload });
            }
            plan.information = length.into();
        }
        Op::Trim { offset, length } => {
            // Without SEND_TRIM a discard is a hint nobody takes: it succeeds doing nothing.
            if info.can_trim() {
                for (off, len) in chunks(offset, length, MAX_EFFECT) {
                    let command = Command::Trim { offset: off, length: len as u32, fua: false };
                    plan.parts.push(Part { command, payload: Payload::None });
                }
            }
        }
        Op::Zeroes { offset, length, no_hole, fua } => {
            let native = fua_native(fua)?;
            plan.then_flush = fua && !native;
            if info.can_write_zeroes() {
                for (off, len) in chunks(offset, length, MAX_EFFECT) {
                    let command = Command::WriteZeroes {
                        offset: off,
                        length: len as u32,
                        fua: native,
                        no_hole,
                        fast_zero: false,
                    };
                    plan.parts.push(Part { command, payload: Payload::None });
                }
            } else {
                for (off, len) in chunks(offset, length, max_request) {
                    let len = len as u32;
                    let command = Command::Write { offset: off, length: len, fua: native };
                    plan.parts.push(Part { command, payload: Payload::Zeroes { len } });
                }
            }
        }
        Op::Flush | Op::Shutdown | Op::FlushAfter { .. } => {
            if !info.can_flush() {
                return Err(Status::NOT_SUPPORTED);
            }
            if let Op::FlushAfter { information, .. } = op {
                plan.information = information;
            }
            plan.parts.push(Part { command: Command::Flush, payload: Payload::None });
        }
    }
    Ok(plan)
}
