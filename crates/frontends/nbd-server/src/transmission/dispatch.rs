//! Requests to IRPs, and IRP completions to replies.

use std::io::{self, Read};
use std::sync::Arc;

use irp::{CompletedIrp, Irp, MajorFunction, Parameters, RequestFlags, Status};
use nbd::consts::{EIO, ENOMEM};
use nbd::transmission::Command;

use super::Shared;
use super::outgoing::Ticket;
use super::outgoing::{Reply, nbd_errno};

/// What a completion does after a successful IRP.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Reply success.
    Reply,
    /// Reply with the `length` bytes read at `offset` (the IRP's MDL).
    ReplyData { offset: u64, length: usize },
}

/// Starts `command`: reads a write's payload, submits its IRP. Returns `false` for
/// `NBD_CMD_DISC`; an error when the socket failed while reading a payload.
pub(super) fn start(
    reader: &mut impl Read,
    shared: &Arc<Shared>,
    cookie: u64,
    command: Command,
) -> io::Result<bool> {
    match command {
        Command::Read { offset, length, .. } => {
            let ticket = Ticket::acquire(shared, cookie, length as usize);
            irp::testing::panics::panic_point("nbd-server-connection", &shared.export);
            if length == 0 {
                ticket.reply(Reply::Ok);
                return Ok(true);
            }
            let mdl = match shared.buffers.take(length as usize) {
                Ok(mdl) => mdl,
                Err(e) => {
                    ticket.reply(Reply::error(ENOMEM, format!("no buffer for the read: {e}")));
                    return Ok(true);
                }
            };
            let irp = shared.irp(MajorFunction::Read).with_parameters(Parameters::Read { offset, length });
            submit(ticket, irp.with_mdl(mdl), Then::ReplyData { offset, length: length as usize });
        }
        Command::Write { offset, length, fua } => {
            let ticket = Ticket::acquire(shared, cookie, length as usize);
            let mut mdl = match shared.buffers.take(length as usize) {
                Ok(mdl) => mdl,
                Err(e) => {
                    // The payload is on the wire whatever happens: skip it, then refuse.
                    let skipped = io::copy(&mut reader.by_ref().take(length.into()), &mut io::sink());
                    if skipped.ok() != Some(length.into()) {
                        ticket.abandon();
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    ticket.reply(Reply::error(ENOMEM, format!("no buffer for the write: {e}")));
                    return Ok(true);
                }
            };
            // The payload goes straight into the MDL the IRP carries down: no copy here.
            let read = match mdl.bytes_mut() {
                Some(bytes) => reader.read_exact(bytes),
                None => Err(io::Error::other("a fresh MDL is shared")),
            };
            if let Err(e) = read {
                ticket.abandon();
                return Err(e);
            }
            if length == 0 {
                ticket.reply(Reply::Ok);
                return Ok(true);
            }
            let flags = if fua { RequestFlags::FORCE_UNIT_ACCESS } else { RequestFlags::NONE };
            let irp = shared
                .irp(MajorFunction::Write)
                .with_parameters(Parameters::Write { offset, length })
                .with_flags(flags)
                .with_mdl(mdl);
            submit(ticket, irp, Then::Reply);
        }
        Command::Flush => {
            let ticket = Ticket::acquire(shared, cookie, 0);
            if shared.read_only {
                // Nothing was written through a read-only export: nothing to make durable.
                ticket.reply(Reply::Ok);
            } else {
                // No flags: data, metadata and the device's cache (NtFlushBuffersFile).
                submit(ticket, shared.irp(MajorFunction::FlushBuffers), Then::Reply);
            }
        }
        Command::Trim { offset, length, fua } => {
            let ticket = Ticket::acquire(shared, cookie, 0);
            if length == 0 {
                ticket.reply(Reply::Ok);
                return Ok(true);
            }
            let length = u64::from(length);
            let irp =
                shared.irp(MajorFunction::Discard).with_parameters(Parameters::Discard { offset, length });
            if !fua {
                submit(ticket, irp, Then::Reply);
            } else {
                // The discard, then a flush that covers it. The flush is sent from here
                // rather than from the discard's completion, which may run inside a
                // driver that still holds a lock its flush path takes.
                let done = shared.device.call_and_wait(irp);
                match failure(&done) {
                    Some(reply) => ticket.reply(reply),
                    None => submit(ticket, shared.irp(MajorFunction::FlushBuffers), Then::Reply),
                }
            }
        }
        Command::WriteZeroes { offset, length, fua, no_hole, .. } => {
            let ticket = Ticket::acquire(shared, cookie, 0);
            if length == 0 {
                ticket.reply(Reply::Ok);
                return Ok(true);
            }
            let mut flags = if fua { RequestFlags::FORCE_UNIT_ACCESS } else { RequestFlags::NONE };
            if !no_hole {
                flags = flags | RequestFlags::MAY_UNMAP;
            }
            let length = u64::from(length);
            let irp = shared
                .irp(MajorFunction::WriteZeroes)
                .with_parameters(Parameters::WriteZeroes { offset, length })
                .with_flags(flags);
            submit(ticket, irp, Then::Reply);
        }
        // A hint; nothing to do.
        Command::Cache { .. } => Ticket::acquire(shared, cookie, 0).reply(Reply::Ok),
        Command::BlockStatus { offset, length, req_one } => {
            super::block_status::start(shared, cookie, offset, length, req_one);
        }
        Command::Disc => return Ok(false),
    }
    Ok(true)
}

fn submit(ticket: Ticket, irp: Irp, then: Then) {
    let device = Arc::clone(&ticket.shared.device);
    // The status returned says only whether it completed yet; the callback has the result.
    let _ = device.submit(irp, move |done| complete(ticket, done, then));
}

/// The error reply for a failed IRP, `None` when it succeeded.
fn failure(done: &CompletedIrp) -> Option<Reply> {
    let status = done.status();
    let major = done.major_function();
    // A device without a cache has nothing to flush, and a trim is only a hint: a
    // stack that does not handle them answers "not supported", which is success here.
    let unsupported_is_fine = matches!(major, MajorFunction::FlushBuffers | MajorFunction::Discard);
    if status.is_success() || (unsupported_is_fine && status == Status::INVALID_DEVICE_REQUEST) {
        return None;
    }
    tracing::debug!(%major, %status, "request failed");
    Some(Reply::error(nbd_errno(status), format!("{major} failed: {status}")))
}

/// Runs in whatever thread completed the IRP (maybe inside a driver holding a lock):
/// it only queues the reply, which never blocks, and submits nothing.
fn complete(ticket: Ticket, mut done: CompletedIrp, then: Then) {
    if let Some(reply) = failure(&done) {
        return ticket.reply(reply);
    }
    match then {
        Then::Reply => {
            if let Some(mdl) = done.take_mdl() {
                ticket.shared.buffers.give(mdl);
            }
            ticket.reply(Reply::Ok);
        }
        Then::ReplyData { offset, length } => {
            let read = usize::try_from(done.information()).unwrap_or(usize::MAX);
            match done.take_mdl() {
                Some(mdl) if read >= length && mdl.byte_count() >= length => {
                    ticket.reply(Reply::Data { offset, mdl, length });
                }
                _ => ticket.reply(Reply::error(EIO, format!("short read: {read} of {length} bytes"))),
            }
        }
    }
}
