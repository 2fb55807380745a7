//! One request as a sequence of system calls, shared by both engines.
//!
//! A [`Machine`] turns a request into [`Step`]s — `pread`, `pwrite` (with `RWF_DSYNC` for
//! ForceUnitAccess), `fdatasync`, `fallocate` — and folds each step's result back in:
//! short transfers continue where they stopped, `EINTR`/`EAGAIN` retry, an unsupported
//! `fallocate` falls back to writing zeroes, a FUA write-zeroes ends with a sync. The
//! thread pool runs the steps with blocking system calls, io_uring as SQEs; both see the
//! same semantics because they share this code.

use std::fs::File;
use std::sync::OnceLock;

use irp::{IoBuffer, Irp, Mdl, Status};

use crate::sticky::StickyError;

/// The largest transfer one system call is asked for (Linux's `MAX_RW_COUNT`).
const MAX_STEP: u64 = 0x7fff_f000;
/// The size of the shared zero buffer the write-zeroes fallback writes from.
const ZERO_CHUNK: usize = 256 * 1024;
/// How many `EINTR`/`EAGAIN` in a row a step may see before the request fails.
const MAX_RETRIES: u32 = 64;

/// The open medium every request of a disk works on.
#[derive(Debug)]
pub(crate) struct Backing {
    /// The file or block device.
    pub(crate) file: File,
    /// The sticky flush error (see [`StickyError`]).
    pub(crate) sticky: StickyError,
}

/// What a request asks of the medium, decoded and checked by the dispatch routine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Read `len` bytes at `offset` into the IRP's MDL.
    Read { offset: u64, len: u64 },
    /// Write `len` bytes of the IRP's MDL at `offset`; `fua`: with `RWF_DSYNC`.
    Write { offset: u64, len: u64, fua: bool },
    /// `fdatasync` (a flush or a shutdown).
    Sync,
    /// Deallocate a range (`FALLOC_FL_PUNCH_HOLE`); a medium that cannot is left as is.
    Discard { offset: u64, len: u64 },
    /// Zero a range (`FALLOC_FL_ZERO_RANGE`, or `PUNCH_HOLE` when `unmap`), falling back
    /// to writing zeroes; `fua`: `fdatasync` afterwards.
    WriteZeroes { offset: u64, len: u64, unmap: bool, fua: bool },
}

/// One system call to make.
///
/// The buffer pointers of `Read` and `Write` point into the MDL of the IRP the step was
/// made for (or into the static zero buffer), and stay valid while that IRP is alive and
/// its MDL not replaced.
#[derive(Debug)]
pub(crate) enum Step {
    /// `pread(fd, buf, len, offset)`.
    Read { buf: *mut u8, len: u32, offset: u64 },
    /// `pwrite(fd, buf, len, offset)`, or `pwritev2(.., RWF_DSYNC)` when `dsync`.
    Write { buf: *const u8, len: u32, offset: u64, dsync: bool },
    /// `fdatasync(fd)`.
    Sync,
    /// `fallocate(fd, mode, offset, len)`.
    Fallocate { mode: i32, offset: u64, len: u64 },
}

/// What happens after a step's result was folded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Make the next step ([`Machine::next`]).
    Again,
    /// Complete the IRP with this status and information.
    Done(Status, u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Transfer,
    Allocate,
    ZeroFill,
    Sync,
}

/// The state of one request: which phase it is in and how far it got.
#[derive(Debug)]
pub(crate) struct Machine {
    op: Op,
    phase: Phase,
    done: u64,
    retries: u32,
}

/// An IRP and the state of its request, owned by an engine until it completes.
#[derive(Debug)]
pub(crate) struct Request {
    /// The IRP; its MDL is the transfer buffer.
    pub(crate) irp: Irp,
    /// Where the request stands.
    pub(crate) machine: Machine,
}

impl Request {
    /// A request for `op` on `irp`.
    pub(crate) fn new(irp: Irp, op: Op) -> Request {
        Request { irp, machine: Machine::new(op) }
    }
}

fn zeroes() -> Option<&'static IoBuffer> {
    static ZEROES: OnceLock<Option<IoBuffer>> = OnceLock::new();
    ZEROES.get_or_init(|| IoBuffer::new(ZERO_CHUNK).ok()).as_ref()
}

fn step_len(remaining: u64, cap: u64) -> u32 {
    // `cap` is at most MAX_STEP, which fits in u32.
    remaining.min(cap) as u32
}

impl Machine {
    /// A request for `op`, not started.
    pub(crate) fn new(op: Op) -> Machine {
        let phase = match op {
            Op::Read { .. } | Op::Write { .. } => Phase::Transfer,
            Op::Sync => Phase::Sync,
            Op::Discard { .. } | Op::WriteZeroes { .. } => Phase::Allocate,
        };
        Machine { op, phase, done: 0, retries: 0 }
    }

    /// The next system call to make for `irp`, or the status to complete it with when
    /// its buffer is not usable.
    pub(crate) fn next(&mut self, irp: &mut Irp) -> Result<Step, Status> {
        match (self.phase, self.op) {
            (Phase::Transfer, Op::Read { offset, len }) => {
                let buf = irp.mdl_mut().and_then(Mdl::bytes_mut).ok_or(Status::INVALID_PARAMETER)?;
                let rest = buf.get_mut(self.done as usize..len as usize).ok_or(Status::INVALID_PARAMETER)?;
                let len = step_len(rest.len() as u64, MAX_STEP);
                Ok(Step::Read { buf: rest.as_mut_ptr(), len, offset: offset + self.done })
            }
            (Phase::Transfer, Op::Write { offset, len, fua }) => {
                let buf = irp.mdl().map(Mdl::bytes).ok_or(Status::INVALID_PARAMETER)?;
                let rest = buf.get(self.done as usize..len as usize).ok_or(Status::INVALID_PARAMETER)?;
                let len = step_len(rest.len() as u64, MAX_STEP);
                Ok(Step::Write { buf: rest.as_ptr(), len, offset: offset + self.done, dsync: fua })
            }
            (Phase::Allocate, Op::Discard { offset, len }) => {
                // A hole in a file; on a block device, "zero, unmapping where the device
                // can" (blkdev_fallocate), which is a discard that reads back as zeroes.
                Ok(Step::Fallocate {
                    mode: libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    offset,
                    len,
                })
            }
            (Phase::Allocate, Op::WriteZeroes { offset, len, unmap, .. }) => {
                // On a block device PUNCH_HOLE is "zero, unmapping if the device can" and
                // fails with EOPNOTSUPP where it cannot (then we write zeroes); ZERO_RANGE
                // zeroes in any case. Both read back as zeroes on files and devices.
                let zero = if unmap { libc::FALLOC_FL_PUNCH_HOLE } else { libc::FALLOC_FL_ZERO_RANGE };
                Ok(Step::Fallocate { mode: zero | libc::FALLOC_FL_KEEP_SIZE, offset, len })
            }
            (Phase::ZeroFill, Op::WriteZeroes { offset, len, .. }) => {
                let zero = zeroes().ok_or(Status::INSUFFICIENT_RESOURCES)?;
                let len = step_len(len - self.done, zero.len() as u64);
                Ok(Step::Write { buf: zero.as_ptr(), len, offset: offset + self.done, dsync: false })
            }
            (Phase::Sync, _) => Ok(Step::Sync),
            (phase, op) => {
                tracing::error!(?phase, ?op, "file disk: a request reached a phase it has no step for");
                Err(Status::INTERNAL_ERROR)
            }
        }
    }

    /// Folds in the result of the last step: a byte count, or a negative errno (the
    /// io_uring CQE convention; the pool converts its system calls' results to it).
    pub(crate) fn advance(&mut self, irp: &mut Irp, backing: &Backing, result: i64) -> Progress {
        let errno = if result < 0 { i32::try_from(-result).unwrap_or(libc::EIO) } else { 0 };
        if matches!(errno, libc::EINTR | libc::EAGAIN) {
            self.retries += 1;
            if self.retries < MAX_RETRIES {
                return Progress::Again;
            }
        }
        self.retries = 0;
        let failed = Progress::Done(Status::from_errno(errno), 0);
        match (self.phase, self.op) {
            (Phase::Transfer, Op::Read { len, .. }) => {
                if errno != 0 {
                    return failed;
                }
                if result == 0 {
                    // End of file: the file is shorter than the disk (it was truncated
                    // behind our back); what is not there reads as zeroes, as a hole would.
                    if let Some(buf) = irp.mdl_mut().and_then(Mdl::bytes_mut) {
                        buf[self.done as usize..len as usize].fill(0);
                    }
                    return Progress::Done(Status::SUCCESS, len);
                }
                self.done += result as u64;
                if self.done >= len { Progress::Done(Status::SUCCESS, len) } else { Progress::Again }
            }
            (Phase::Transfer, Op::Write { len, fua, .. }) => {
                if errno != 0 {
                    if fua {
                        backing.sticky.fua_write_failed(errno);
                    }
                    return failed;
                }
                if result == 0 {
                    return Progress::Done(Status::IO_DEVICE_ERROR, 0);
                }
                self.done += result as u64;
                if self.done >= len { Progress::Done(Status::SUCCESS, len) } else { Progress::Again }
            }
            (Phase::Allocate, op) => match (errno, op) {
                (0, _) => self.zeroed(),
                // Discard is advisory: a medium that cannot deallocate keeps its data.
                (libc::EOPNOTSUPP | libc::ENOSYS, Op::Discard { .. }) => Progress::Done(Status::SUCCESS, 0),
                (libc::EOPNOTSUPP | libc::ENOSYS, _) => {
                    self.phase = Phase::ZeroFill;
                    self.done = 0;
                    Progress::Again
                }
                _ => failed,
            },
            (Phase::ZeroFill, Op::WriteZeroes { len, .. }) => {
                if errno != 0 {
                    return failed;
                }
                if result == 0 {
                    return Progress::Done(Status::IO_DEVICE_ERROR, 0);
                }
                self.done += result as u64;
                if self.done >= len { self.zeroed() } else { Progress::Again }
            }
            (Phase::Sync, _) => {
                let outcome = if errno == 0 { Ok(()) } else { Err(errno) };
                match backing.sticky.sync_result(outcome, "fdatasync") {
                    Ok(()) => Progress::Done(Status::SUCCESS, 0),
                    Err(status) => Progress::Done(status, 0),
                }
            }
            _ => Progress::Done(Status::INTERNAL_ERROR, 0),
        }
    }

    /// A discard or write-zeroes range is done: sync if it asked for ForceUnitAccess.
    fn zeroed(&mut self) -> Progress {
        match self.op {
            Op::WriteZeroes { fua: true, .. } => {
                self.phase = Phase::Sync;
                Progress::Again
            }
            _ => Progress::Done(Status::SUCCESS, 0),
        }
    }
}
