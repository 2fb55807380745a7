//! [`MdlError`]: why an MDL or I/O buffer operation failed.

use std::io;

/// Why building, locking or slicing an [`Mdl`](super::Mdl) or allocating an
/// [`IoBuffer`](super::IoBuffer) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MdlError {
    /// The requested alignment is not a power of two.
    #[error("I/O buffer alignment {align} is not a power of two")]
    BadAlignment {
        /// The alignment that was asked for.
        align: usize,
    },
    /// The allocator could not provide the buffer (or its size overflows).
    #[error("cannot allocate an I/O buffer of {len} bytes aligned to {align}")]
    AllocationFailed {
        /// The length that was asked for.
        len: usize,
        /// The alignment used.
        align: usize,
    },
    /// An MDL cannot describe 2 GiB or more (`IoAllocateMdl` fails the same way).
    #[error("an MDL cannot describe {len} bytes: the limit is below 2 GiB (as for IoAllocateMdl)")]
    TooLarge {
        /// The byte count that was asked for.
        len: usize,
    },
    /// `probe_and_lock` on an MDL whose pages are already locked (by itself or, for a partial
    /// MDL, through its source). NT forbids locking an MDL twice.
    #[error("the MDL's pages are already locked (MmProbeAndLockPages twice)")]
    AlreadyLocked,
    /// The operation needs an MDL whose pages are locked (e.g. `IoBuildPartialMdl`'s source).
    #[error("the MDL's pages are not locked (call probe_and_lock first)")]
    NotLocked,
    /// A partial MDL's range does not lie within its source MDL.
    #[error("range at offset {offset}, length {len} is outside the MDL's {byte_count} bytes")]
    OutOfRange {
        /// Offset into the source MDL.
        offset: usize,
        /// Length asked for (0 means "to the end").
        len: usize,
        /// The source MDL's byte count.
        byte_count: usize,
    },
    /// `mlock` refused because the process would exceed its locked-memory limit.
    #[error(
        "cannot lock {requested} bytes of I/O buffer: RLIMIT_MEMLOCK is {} for all memory the \
         process locks; raise it (`ulimit -l <KiB>` or `ulimit -l unlimited` in the shell, \
         `LimitMEMLOCK=` in a systemd unit, `--ulimit memlock=-1` for docker) or grant \
         CAP_IPC_LOCK",
        display_limit(*.limit)
    )]
    LockLimit {
        /// Bytes this lock asked for (whole pages).
        requested: usize,
        /// The soft `RLIMIT_MEMLOCK` in bytes (`u64::MAX` when unlimited).
        limit: u64,
    },
    /// `mlock` failed for another reason.
    #[error("cannot lock {requested} bytes of I/O buffer")]
    Lock {
        /// Bytes this lock asked for (whole pages).
        requested: usize,
        /// The error `mlock` returned.
        #[source]
        source: io::Error,
    },
}

fn display_limit(limit: u64) -> String {
    if limit == u64::MAX { "unlimited".to_owned() } else { format!("{limit} bytes") }
}
