//! What the medium under a `file` disk looks like: a block device's size (`BLKGETSIZE64`)
//! and logical sector size (`BLKSSZGET`), and a file's direct-I/O alignment
//! (`statx(STATX_DIOALIGN)`). The `ioctl`/`statx` calls live here and nowhere else.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `BLKGETSIZE64` = `_IOR(0x12, 114, size_t)`: the size of a block device in bytes.
/// libc does not export it.
const BLKGETSIZE64: libc::Ioctl = 0x8008_1272;

/// The size in bytes of the block device open as `fd` (`BLKGETSIZE64`).
pub(super) fn block_device_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through its argument, which points to the live
    // local `size`; `fd` is borrowed, so it stays open for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), BLKGETSIZE64, &raw mut size) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size)
}

/// The logical sector size of the block device open as `fd` (`BLKSSZGET`).
pub(super) fn block_device_sector_size(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut size: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through its argument, which points to the live local
    // `size`; `fd` is borrowed, so it stays open for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::BLKSSZGET, &raw mut size) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Direct-I/O alignment of an open file: `(memory alignment, offset alignment)`, from
/// `statx(STATX_DIOALIGN)` (Linux 6.1+). `None` when the kernel or the file system does
/// not report it.
pub(super) fn dio_alignment(fd: BorrowedFd<'_>) -> Option<(u32, u32)> {
    // SAFETY: `statx` is plain old data; all-zero bytes are a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is a valid NUL-terminated (empty) string, AT_EMPTY_PATH makes statx
    // describe `fd` itself (borrowed, so open for the call), and `stx` is a live, writable
    // `struct statx`.
    let r = unsafe {
        libc::statx(fd.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, libc::STATX_DIOALIGN, &raw mut stx)
    };
    if r < 0 || stx.stx_mask & libc::STATX_DIOALIGN == 0 || stx.stx_dio_offset_align == 0 {
        return None;
    }
    Some((stx.stx_dio_mem_align, stx.stx_dio_offset_align))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn block_ioctls_fail_cleanly_on_a_regular_file() {
        let file = tempfile::tempfile().unwrap();
        let err = block_device_size(file.as_fd()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
        assert!(block_device_sector_size(file.as_fd()).is_err());
    }

    #[test]
    fn dio_alignment_is_a_power_of_two_when_reported() {
        let file = tempfile::tempfile().unwrap();
        if let Some((mem, offset)) = dio_alignment(file.as_fd()) {
            assert!(offset.is_power_of_two(), "offset alignment {offset}");
            assert!(mem == 0 || mem.is_power_of_two(), "memory alignment {mem}");
        }
    }
}
