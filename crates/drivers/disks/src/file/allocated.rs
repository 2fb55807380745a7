//! The file disk's allocation query (`FSCTL_QUERY_ALLOCATED_RANGES`): `lseek(SEEK_DATA)`
//! and `lseek(SEEK_HOLE)` on its descriptor walk the file's data and holes as the file
//! system knows them (written pages still in the page cache count as data). A block
//! device has no holes to tell: all of it is data.
//!
//! Only the result of `lseek` is used, never the descriptor's file position (every
//! transfer names its offset), so moving that position is harmless.

use std::os::fd::{AsRawFd, BorrowedFd};

use irp::Status;
use irp::block::AllocatedRange;

/// `lseek(fd, offset, whence)`: the offset found, or the errno.
fn seek(fd: BorrowedFd<'_>, offset: u64, whence: libc::c_int) -> Result<u64, i32> {
    let offset = libc::off_t::try_from(offset).map_err(|_| libc::EOVERFLOW)?;
    // SAFETY: lseek takes no pointers; `fd` is borrowed, so it stays open for the call.
    let found = unsafe { libc::lseek(fd.as_raw_fd(), offset, whence) };
    if found < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO));
    }
    u64::try_from(found).map_err(|_| libc::EOVERFLOW)
}

/// The data ranges of the file open as `fd` within `query` (not empty), in order, at most
/// `max_ranges + 1` of them (one more than the answer has room for, so that the caller
/// knows whether the answer overflows).
///
/// A file system that cannot seek for data (`EINVAL`, `EOPNOTSUPP`) gives
/// `STATUS_INVALID_DEVICE_REQUEST` (everything counts as data); other failures their
/// status.
pub(super) fn data_ranges(
    fd: BorrowedFd<'_>,
    query: AllocatedRange,
    max_ranges: usize,
) -> Result<Vec<AllocatedRange>, Status> {
    let end = query.end().ok_or(Status::INVALID_PARAMETER)?;
    let failed = |errno: i32| match errno {
        libc::EINVAL | libc::EOPNOTSUPP => Status::INVALID_DEVICE_REQUEST,
        errno => Status::from_errno(errno),
    };
    let mut ranges = Vec::new();
    let mut at = query.offset;
    while at < end && ranges.len() <= max_ranges {
        let data = match seek(fd, at, libc::SEEK_DATA) {
            Ok(data) => data,
            // No data at or after `at` (at or past the end of the file): holes to the end.
            Err(libc::ENXIO) => break,
            Err(errno) => return Err(failed(errno)),
        };
        if data >= end {
            break;
        }
        // Past the file's data there is always a hole: the end of the file counts as one.
        let stop = match seek(fd, data, libc::SEEK_HOLE) {
            Ok(hole) if hole > data => hole.min(end),
            // The file shrank between the two calls: call the rest data, to be safe.
            Ok(_) | Err(libc::ENXIO) => end,
            Err(errno) => return Err(failed(errno)),
        };
        ranges.push(AllocatedRange::new(data, stop - data));
        at = stop;
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileExt;

    use super::*;

    /// A sparse file of 1 MiB with data at 64 KiB and at 512 KiB; `None` when the file
    /// system keeps no holes (then there is nothing to test here).
    fn sparse() -> Option<std::fs::File> {
        let mut file = tempfile::tempfile().unwrap();
        file.set_len(1 << 20).unwrap();
        file.write_all_at(&[1; 4096], 64 << 10).unwrap();
        file.write_all_at(&[2; 8192], 512 << 10).unwrap();
        file.flush().unwrap();
        match seek(file.as_fd(), 0, libc::SEEK_DATA) {
            Ok(at) if at == 64 << 10 => Some(file),
            _ => {
                irp::testing::skip("the temporary directory's file system reports no holes");
                None
            }
        }
    }

    #[test]
    fn data_ranges_follow_the_written_blocks() {
        let Some(file) = sparse() else { return };
        let all = data_ranges(file.as_fd(), AllocatedRange::new(0, 1 << 20), 8).unwrap();
        assert_eq!(all, [AllocatedRange::new(64 << 10, 4096), AllocatedRange::new(512 << 10, 8192)]);
        // Clipped to the query, which may start inside data.
        let part = data_ranges(file.as_fd(), AllocatedRange::new((64 << 10) + 100, 600 << 10), 8).unwrap();
        assert_eq!(part, [AllocatedRange::new((64 << 10) + 100, 3996), AllocatedRange::new(512 << 10, 8192)]);
        // One more than there is room for, then it stops.
        let room = data_ranges(file.as_fd(), AllocatedRange::new(0, 1 << 20), 0).unwrap();
        assert_eq!(room, [AllocatedRange::new(64 << 10, 4096)]);
        let holes = data_ranges(file.as_fd(), AllocatedRange::new(0, 64 << 10), 8).unwrap();
        assert!(holes.is_empty(), "{holes:?}");
        let tail = data_ranges(file.as_fd(), AllocatedRange::new(600 << 10, 400 << 10), 8).unwrap();
        assert!(tail.is_empty(), "nothing after the last data: {tail:?}");
    }

    #[test]
    fn past_the_end_of_the_file_is_a_hole() {
        let Some(file) = sparse() else { return };
        let beyond = data_ranges(file.as_fd(), AllocatedRange::new(1 << 20, 4096), 8).unwrap();
        assert!(beyond.is_empty());
    }
}
