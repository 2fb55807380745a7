//! The blocking system calls the thread pool makes for a [`Step`]: `pread`, `pwrite`,
//! `pwritev2(RWF_DSYNC)`, `fdatasync`, `fallocate`.

use std::os::fd::RawFd;

use super::op::Step;

/// Makes the system call `step` describes on `fd`. Returns what an io_uring CQE would:
/// the byte count (0 for calls without one) or a negative errno.
///
/// # Safety
///
/// `fd` must be open for the duration of the call. The buffer of a `Read` step must be
/// valid for writes of `len` bytes, and that of a `Write` step valid for reads of `len`
/// bytes, for the duration of the call, and nothing else may access a `Read` buffer
/// meanwhile. Steps made by [`Machine::next`](super::op::Machine::next) for an IRP the
/// caller owns (and does not touch during the call) satisfy this.
pub(super) unsafe fn execute(fd: RawFd, step: &Step) -> i64 {
    let result: i64 = match *step {
        Step::Read { buf, len, offset } => {
            let Ok(offset) = libc::off_t::try_from(offset) else { return -i64::from(libc::EINVAL) };
            // SAFETY: the caller guarantees `buf` is valid for writes of `len` bytes and
            // unaliased during the call, and that `fd` is open.
            unsafe { libc::pread(fd, buf.cast(), len as usize, offset) as i64 }
        }
        Step::Write { buf, len, offset, dsync: false } => {
            let Ok(offset) = libc::off_t::try_from(offset) else { return -i64::from(libc::EINVAL) };
            // SAFETY: the caller guarantees `buf` is valid for reads of `len` bytes during
            // the call, and that `fd` is open.
            unsafe { libc::pwrite(fd, buf.cast(), len as usize, offset) as i64 }
        }
        Step::Write { buf, len, offset, dsync: true } => {
            let Ok(offset) = libc::off_t::try_from(offset) else { return -i64::from(libc::EINVAL) };
            let iov = libc::iovec { iov_base: buf.cast_mut().cast(), iov_len: len as usize };
            // SAFETY: `iov` is a live local describing a buffer the caller guarantees is
            // valid for reads of `len` bytes during the call; pwritev2 only reads through
            // it. `fd` is open (caller).
            unsafe { libc::pwritev2(fd, &raw const iov, 1, offset, libc::RWF_DSYNC) as i64 }
        }
        Step::Sync => {
            // SAFETY: fdatasync takes no pointers; `fd` is open (caller).
            i64::from(unsafe { libc::fdatasync(fd) })
        }
        Step::Fallocate { mode, offset, len } => {
            let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
                return -i64::from(libc::EINVAL);
            };
            // SAFETY: fallocate takes no pointers; `fd` is open (caller).
            i64::from(unsafe { libc::fallocate(fd, mode, offset, len) })
        }
    };
    or_errno(result)
}

/// A system call's result as an io_uring CQE has it: the result, or the negative errno
/// when it failed.
fn or_errno(result: i64) -> i64 {
    if result < 0 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    } else {
        result
    }
}

/// `preadv2(fd, buf, len, offset, RWF_NOWAIT)`: reads only what the page cache holds,
/// without waiting for I/O. Returns the byte count or a negative errno (`-EAGAIN` when
/// the data is not cached).
///
/// # Safety
///
/// `fd` must be open, and `buf` valid for writes of `len` bytes and not accessed by
/// anything else during the call.
pub(super) unsafe fn read_nowait(fd: RawFd, buf: *mut u8, len: usize, offset: u64) -> i64 {
    let Ok(offset) = libc::off_t::try_from(offset) else { return -i64::from(libc::EINVAL) };
    let iov = libc::iovec { iov_base: buf.cast(), iov_len: len };
    // SAFETY: `iov` is a live local describing a buffer the caller guarantees is valid
    // for writes of `len` bytes and unaliased during the call; `fd` is open (caller).
    or_errno(unsafe { libc::preadv2(fd, &raw const iov, 1, offset, libc::RWF_NOWAIT) } as i64)
}

/// `sync_file_range(fd, offset, len, SYNC_FILE_RANGE_WRITE)`: starts writing the range's
/// dirty pages to the device and returns without waiting for them (nor making anything
/// durable: no metadata, no device cache flush). Returns 0 or a negative errno.
pub(super) fn start_writeback(fd: RawFd, offset: u64, len: u64) -> i64 {
    let (Ok(offset), Ok(len)) = (libc::off64_t::try_from(offset), libc::off64_t::try_from(len)) else {
        return -i64::from(libc::EINVAL);
    };
    // SAFETY: sync_file_range takes no pointers; `fd` is a descriptor the caller keeps open.
    or_errno(i64::from(unsafe { libc::sync_file_range(fd, offset, len, libc::SYNC_FILE_RANGE_WRITE) }))
}
