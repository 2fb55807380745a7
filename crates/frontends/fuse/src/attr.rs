//! What the kernel is told about an inode: [`FileStatInformation`] (irpstack's stat class) as
//! FUSE's attributes, and file kinds as FUSE's file types.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{FileAttr, FileType, INodeNo};
use irp::file::{FileKind, FileStatInformation, FileTime};

use crate::nodes::node_of;

/// FUSE's file type of `kind`; `None` for a kind the directory does not record.
pub fn file_type(kind: FileKind) -> Option<FileType> {
    Some(match kind {
        FileKind::Regular => FileType::RegularFile,
        FileKind::Directory => FileType::Directory,
        FileKind::Symlink => FileType::Symlink,
        FileKind::CharDevice => FileType::CharDevice,
        FileKind::BlockDevice => FileType::BlockDevice,
        FileKind::Fifo => FileType::NamedPipe,
        FileKind::Socket => FileType::Socket,
        FileKind::Unknown => return None,
    })
}

/// A file time as a `SystemTime` (before 1970 too).
pub fn system_time(t: FileTime) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(t.nanos));
    if t.secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(t.secs as u64) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(t.secs.unsigned_abs()) + nanos
    }
}

/// A `SystemTime` as a file time.
pub fn file_time(t: SystemTime) -> FileTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => FileTime::new(d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            if d.subsec_nanos() == 0 {
                FileTime::new(-(d.as_secs() as i64), 0)
            } else {
                FileTime::new(-(d.as_secs() as i64) - 1, 1_000_000_000 - d.subsec_nanos())
            }
        }
    }
}

/// A device number as the kernel's `new_encode_dev` packs it (FUSE's `rdev`).
pub fn encode_dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

/// The major and minor of a `new_encode_dev` device number.
pub fn decode_dev(rdev: u32) -> (u32, u32) {
    ((rdev >> 8) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00))
}

/// The attributes of the inode `st` describes. `ino` is its FUSE node id (the root's is 1),
/// which fuser also reports as `st_ino`: the root's attributes carry inode 2 instead, as
/// ext4 reports it, since the kernel takes the root's node id from the mount, not from them.
pub fn file_attr(st: &FileStatInformation) -> FileAttr {
    let ino = if st.ino == crate::nodes::ROOT_INO { INodeNo(st.ino) } else { node_of(st.ino) };
    FileAttr {
        ino,
        size: st.size,
        blocks: st.blocks,
        atime: system_time(st.atime),
        mtime: system_time(st.mtime),
        ctime: system_time(st.ctime),
        crtime: system_time(st.btime),
        kind: file_type(st.kind()).unwrap_or(FileType::RegularFile),
        perm: (st.mode & 0o7777) as u16,
        nlink: st.nlink,
        uid: st.uid,
        gid: st.gid,
        rdev: encode_dev(st.rdev_major, st.rdev_minor),
        blksize: st.block_size,
        flags: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_round_trip_as_the_kernel_packs_them() {
        for (major, minor) in [(0, 0), (1, 3), (8, 17), (259, 70000), (4095, 0xfffff)] {
            assert_eq!(decode_dev(encode_dev(major, minor)), (major, minor));
        }
        // makedev(1, 3) = /dev/null as stat shows it.
        assert_eq!(encode_dev(1, 3), 0x103);
        assert_eq!(encode_dev(8, 300), (300 & 0xff) | (8 << 8) | ((300 & !0xff) << 12));
    }

    #[test]
    fn times_round_trip_before_and_after_the_epoch() {
        for t in [FileTime::new(1_700_000_000, 123), FileTime::new(-5, 999_999_999), FileTime::EPOCH] {
            assert_eq!(file_time(system_time(t)), t);
        }
        assert_eq!(file_time(UNIX_EPOCH - Duration::from_secs(3)), FileTime::new(-3, 0));
    }

    #[test]
    fn the_root_keeps_its_inode_number_and_the_rest_their_node_ids() {
        let st = FileStatInformation { ino: 2, mode: 0o040755, nlink: 3, ..Default::default() };
        let a = file_attr(&st);
        assert_eq!((a.ino, a.kind, a.perm, a.nlink), (INodeNo(2), FileType::Directory, 0o755, 3));
        let st = FileStatInformation { ino: 12, mode: 0o120777, ..Default::default() };
        assert_eq!(file_attr(&st).ino, INodeNo(12));
        assert_eq!(file_attr(&st).kind, FileType::Symlink);
    }
}
