//! Inodes (`struct ext4_inode`): the 128-byte base, the `i_extra_isize` fields after it,
//! and whatever follows them up to `s_inode_size` (the in-inode xattr area), kept raw.

use super::bytes::{array, put, put_u16, put_u32, slice, u16_at, u32_at};
use super::error::{FormatError, Result, check_csum, need};
use crate::csum::crc32c_raw;

/// Size of the original inode, before `i_extra_isize`.
pub const GOOD_OLD_INODE_SIZE: usize = 128;
/// The root directory.
pub const ROOT_INO: u32 = 2;
/// The resize inode (reserved GDT blocks).
pub const RESIZE_INO: u32 = 7;
/// The journal inode.
pub const JOURNAL_INO: u32 = 8;
/// lost+found, as mkfs makes it.
pub const LOST_AND_FOUND_INO: u32 = 11;

/// Extra fields known, in `i_extra_isize` order: (offset, size).
const CSUM_HI_OFF: usize = 0x82;
const CSUM_LO_OFF: usize = 0x7C;

/// `i_mode` file-type bits.
pub mod mode {
    /// Mask of the type bits.
    pub const S_IFMT: u16 = 0o170000;
    /// Socket.
    pub const S_IFSOCK: u16 = 0o140000;
    /// Symbolic link.
    pub const S_IFLNK: u16 = 0o120000;
    /// Regular file.
    pub const S_IFREG: u16 = 0o100000;
    /// Block device.
    pub const S_IFBLK: u16 = 0o060000;
    /// Directory.
    pub const S_IFDIR: u16 = 0o040000;
    /// Character device.
    pub const S_IFCHR: u16 = 0o020000;
    /// FIFO.
    pub const S_IFIFO: u16 = 0o010000;
}

/// `i_flags` bits that matter here.
pub mod flags {
    /// Hashed-indexed directory.
    pub const INDEX: u32 = 0x1000;
    /// `i_blocks` counts file-system blocks, not 512-byte sectors (huge_file).
    pub const HUGE_FILE: u32 = 0x40000;
    /// `i_block` holds an extent tree.
    pub const EXTENTS: u32 = 0x80000;
    /// The inode stores a large xattr value.
    pub const EA_INODE: u32 = 0x200000;
    /// Data inside the inode (inline_data).
    pub const INLINE_DATA: u32 = 0x10000000;
}

/// A timestamp: seconds since the epoch (with the 2 epoch bits, 1901..2446) and nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Seconds since 1970-01-01 UTC.
    pub secs: i64,
    /// Nanoseconds (0 when the inode has no `_extra` field for it).
    pub nanos: u32,
}

impl Timestamp {
    /// Decodes `i_xtime` and `i_xtime_extra` (low 2 bits: epoch, high 30: nanoseconds).
    pub fn decode(base: u32, extra: u32) -> Timestamp {
        let secs = i64::from(base as i32) + (i64::from(extra & 3) << 32);
        Timestamp { secs, nanos: extra >> 2 }
    }

    /// The `(i_xtime, i_xtime_extra)` pair for this time.
    pub fn encode(self) -> (u32, u32) {
        let base = self.secs as i32;
        let epoch = ((self.secs - i64::from(base)) >> 32) as u32 & 3;
        (base as u32, (self.nanos << 2) | epoch)
    }
}

/// A decoded inode. 32-bit ids, 64-bit sizes and block counts are joined from their halves.
#[allow(missing_docs)] // the fields are the kernel's i_ fields
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inode {
    pub mode: u16,
    pub uid: u32,
    pub size: u64,
    pub atime: u32,
    pub ctime: u32,
    pub mtime: u32,
    pub dtime: u32,
    pub gid: u32,
    pub links_count: u16,
    /// `i_blocks_lo` | `l_i_blocks_high` << 32, raw (see [`Inode::blocks_512`]).
    pub blocks: u64,
    pub flags: u32,
    /// `l_i_version` (osd1).
    pub version: u32,
    /// `i_block`: the extent tree root, block map, or fast symlink target.
    pub block: [u8; 60],
    pub generation: u32,
    pub file_acl: u64,
    pub obso_faddr: u32,
    /// `l_i_checksum_lo` | `i_checksum_hi` << 16.
    pub checksum: u32,
    pub osd2_reserved: u16,
    pub extra_isize: u16,
    pub ctime_extra: u32,
    pub mtime_extra: u32,
    pub atime_extra: u32,
    pub crtime: u32,
    pub crtime_extra: u32,
    pub version_hi: u32,
    pub projid: u32,
    /// Bytes of the `i_extra_isize` area past the fields known here (future fields).
    pub extra_unknown: Vec<u8>,
    /// Bytes from `128 + i_extra_isize` to the inode size: the in-inode xattr area.
    pub tail: Vec<u8>,
}

/// Offsets of the extra fields and whether `i_extra_isize` covers each.
const EXTRA_FIELDS_END: usize = 0xA0;

fn covered(extra_end: usize, off: usize, len: usize) -> bool {
    off + len <= extra_end
}

impl Inode {
    /// An inode with every field zero and no extra fields (a free inode; a start for
    /// building one).
    pub fn zeroed() -> Inode {
        Inode {
            mode: 0,
            uid: 0,
            size: 0,
            atime: 0,
            ctime: 0,
            mtime: 0,
            dtime: 0,
            gid: 0,
            links_count: 0,
            blocks: 0,
            flags: 0,
            version: 0,
            block: [0; 60],
            generation: 0,
            file_acl: 0,
            obso_faddr: 0,
            checksum: 0,
            osd2_reserved: 0,
            extra_isize: 0,
            ctime_extra: 0,
            mtime_extra: 0,
            atime_extra: 0,
            crtime: 0,
            crtime_extra: 0,
            version_hi: 0,
            projid: 0,
            extra_unknown: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// Decodes one on-disk inode of `b.len()` bytes (`s_inode_size`).
    pub fn decode(b: &[u8]) -> Result<Inode> {
        need("inode", b, GOOD_OLD_INODE_SIZE)?;
        let extra_isize = if b.len() > GOOD_OLD_INODE_SIZE { u16_at(b, 0x80) } else { 0 };
        let extra_end = GOOD_OLD_INODE_SIZE + usize::from(extra_isize);
        if b.len() > GOOD_OLD_INODE_SIZE && (extra_end > b.len() || !extra_isize.is_multiple_of(4)) {
            return Err(FormatError::invalid(
                "inode",
                format!("i_extra_isize {extra_isize} does not fit a {}-byte inode", b.len()),
            ));
        }
        let ext = |off: usize, len: usize| covered(extra_end, off, len);
        let x32 = |off: usize| if ext(off, 4) { u32_at(b, off) } else { 0 };
        let csum_hi = if ext(CSUM_HI_OFF, 2) { u32::from(u16_at(b, CSUM_HI_OFF)) } else { 0 };
        let tail_start = extra_end.max(GOOD_OLD_INODE_SIZE);
        Ok(Inode {
            mode: u16_at(b, 0x00),
            uid: u32::from(u16_at(b, 0x02)) | u32::from(u16_at(b, 0x78)) << 16,
            size: u64::from(u32_at(b, 0x04)) | u64::from(u32_at(b, 0x6C)) << 32,
            atime: u32_at(b, 0x08),
            ctime: u32_at(b, 0x0C),
            mtime: u32_at(b, 0x10),
            dtime: u32_at(b, 0x14),
            gid: u32::from(u16_at(b, 0x18)) | u32::from(u16_at(b, 0x7A)) << 16,
            links_count: u16_at(b, 0x1A),
            blocks: u64::from(u32_at(b, 0x1C)) | u64::from(u16_at(b, 0x74)) << 32,
            flags: u32_at(b, 0x20),
            version: u32_at(b, 0x24),
            block: array(b, 0x28),
            generation: u32_at(b, 0x64),
            file_acl: u64::from(u32_at(b, 0x68)) | u64::from(u16_at(b, 0x76)) << 32,
            obso_faddr: u32_at(b, 0x70),
            checksum: u32::from(u16_at(b, CSUM_LO_OFF)) | csum_hi << 16,
            osd2_reserved: u16_at(b, 0x7E),
            extra_isize,
            ctime_extra: x32(0x84),
            mtime_extra: x32(0x88),
            atime_extra: x32(0x8C),
            crtime: x32(0x90),
            crtime_extra: x32(0x94),
            version_hi: x32(0x98),
            projid: x32(0x9C),
            extra_unknown: if extra_end > EXTRA_FIELDS_END {
                slice(b, EXTRA_FIELDS_END, extra_end - EXTRA_FIELDS_END).to_vec()
            } else {
                Vec::new()
            },
            tail: b.get(tail_start..).unwrap_or(&[]).to_vec(),
        })
    }

    /// Encodes into `inode_size` bytes. The extra fields are written as far as
    /// `i_extra_isize` reaches; `extra_unknown` and `tail` fill the rest in order.
    pub fn encode(&self, inode_size: usize) -> Vec<u8> {
        let size = inode_size.max(GOOD_OLD_INODE_SIZE);
        let mut b = vec![0u8; size];
        put_u16(&mut b, 0x00, self.mode);
        put_u16(&mut b, 0x02, self.uid as u16);
        put_u32(&mut b, 0x04, self.size as u32);
        put_u32(&mut b, 0x08, self.atime);
        put_u32(&mut b, 0x0C, self.ctime);
        put_u32(&mut b, 0x10, self.mtime);
        put_u32(&mut b, 0x14, self.dtime);
        put_u16(&mut b, 0x18, self.gid as u16);
        put_u16(&mut b, 0x1A, self.links_count);
        put_u32(&mut b, 0x1C, self.blocks as u32);
        put_u32(&mut b, 0x20, self.flags);
        put_u32(&mut b, 0x24, self.version);
        put(&mut b, 0x28, &self.block);
        put_u32(&mut b, 0x64, self.generation);
        put_u32(&mut b, 0x68, self.file_acl as u32);
        put_u32(&mut b, 0x6C, (self.size >> 32) as u32);
        put_u32(&mut b, 0x70, self.obso_faddr);
        put_u16(&mut b, 0x74, (self.blocks >> 32) as u16);
        put_u16(&mut b, 0x76, (self.file_acl >> 32) as u16);
        put_u16(&mut b, 0x78, (self.uid >> 16) as u16);
        put_u16(&mut b, 0x7A, (self.gid >> 16) as u16);
        put_u16(&mut b, CSUM_LO_OFF, self.checksum as u16);
        put_u16(&mut b, 0x7E, self.osd2_reserved);
        if size > GOOD_OLD_INODE_SIZE {
            put_u16(&mut b, 0x80, self.extra_isize);
            let extra_end = GOOD_OLD_INODE_SIZE + usize::from(self.extra_isize);
            let p32 = |b: &mut Vec<u8>, off: usize, v: u32| {
                if covered(extra_end, off, 4) {
                    put_u32(b, off, v);
                }
            };
            p32(&mut b, 0x84, self.ctime_extra);
            p32(&mut b, 0x88, self.mtime_extra);
            p32(&mut b, 0x8C, self.atime_extra);
            p32(&mut b, 0x90, self.crtime);
            p32(&mut b, 0x94, self.crtime_extra);
            p32(&mut b, 0x98, self.version_hi);
            p32(&mut b, 0x9C, self.projid);
            if covered(extra_end, CSUM_HI_OFF, 2) {
                put_u16(&mut b, CSUM_HI_OFF, (self.checksum >> 16) as u16);
            }
            put(&mut b, EXTRA_FIELDS_END, &self.extra_unknown);
            put(&mut b, extra_end.max(GOOD_OLD_INODE_SIZE), &self.tail);
        }
        b
    }

    /// The file type bits of `i_mode`.
    pub fn file_type(&self) -> u16 {
        self.mode & mode::S_IFMT
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == mode::S_IFDIR
    }

    /// A regular file.
    pub fn is_regular(&self) -> bool {
        self.file_type() == mode::S_IFREG
    }

    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == mode::S_IFLNK
    }

    /// `i_block` holds an extent tree.
    pub fn uses_extents(&self) -> bool {
        self.flags & flags::EXTENTS != 0
    }

    /// Space used, in 512-byte sectors: `i_blocks` scaled by the block size when the inode
    /// has `HUGE_FILE_FL` and the volume `huge_file`.
    pub fn blocks_512(&self, huge_file: bool, block_size: u32) -> u64 {
        let raw = if huge_file { self.blocks } else { self.blocks & 0xFFFF_FFFF };
        if huge_file && self.flags & flags::HUGE_FILE != 0 {
            raw.saturating_mul(u64::from(block_size / 512))
        } else {
            raw
        }
    }

    /// Access time.
    pub fn atime(&self) -> Timestamp {
        Timestamp::decode(self.atime, self.atime_extra)
    }

    /// Modification time.
    pub fn mtime(&self) -> Timestamp {
        Timestamp::decode(self.mtime, self.mtime_extra)
    }

    /// Inode change time.
    pub fn ctime(&self) -> Timestamp {
        Timestamp::decode(self.ctime, self.ctime_extra)
    }

    /// Creation time.
    pub fn crtime(&self) -> Timestamp {
        Timestamp::decode(self.crtime, self.crtime_extra)
    }

    /// The in-inode xattr area (empty unless the inode is larger than `128 + i_extra_isize`).
    pub fn xattr_area(&self) -> &[u8] {
        &self.tail
    }

    /// The seed of this inode's checksums and of its extent, directory and dx blocks:
    /// crc32c(crc32c(volume seed, inode number), generation).
    pub fn csum_seed(&self, fs_seed: u32, ino: u32) -> u32 {
        inode_csum_seed(fs_seed, ino, self.generation)
    }

    /// The inode checksum (all `inode_size` bytes, checksum fields as zero).
    pub fn compute_checksum(&self, fs_seed: u32, ino: u32, inode_size: usize) -> u32 {
        inode_csum(&self.encode(inode_size), fs_seed, ino)
    }

    /// Sets `checksum` (only the low 16 bits are stored without `i_checksum_hi`).
    pub fn update_checksum(&mut self, fs_seed: u32, ino: u32, inode_size: usize) {
        let c = self.compute_checksum(fs_seed, ino, inode_size);
        self.checksum = if self.has_csum_hi(inode_size) { c } else { c & 0xFFFF };
    }

    fn has_csum_hi(&self, inode_size: usize) -> bool {
        inode_size > GOOD_OLD_INODE_SIZE
            && covered(GOOD_OLD_INODE_SIZE + usize::from(self.extra_isize), CSUM_HI_OFF, 2)
    }

    /// Fails unless the stored checksum matches (16 bits of it without `i_checksum_hi`).
    pub fn verify_checksum(&self, fs_seed: u32, ino: u32, inode_size: usize) -> Result<()> {
        let c = self.compute_checksum(fs_seed, ino, inode_size);
        let computed = if self.has_csum_hi(inode_size) { c } else { c & 0xFFFF };
        check_csum("inode", self.checksum, computed)
    }
}

/// Word `i` of a block map (`i_block`, or an indirect block): a little-endian block number.
pub fn i_block_word(b: &[u8], i: usize) -> u32 {
    super::bytes::u32_at(b, i.saturating_mul(4))
}

/// crc32c(crc32c(fs seed, le32 ino), le32 generation).
pub fn inode_csum_seed(fs_seed: u32, ino: u32, generation: u32) -> u32 {
    crc32c_raw(crc32c_raw(fs_seed, &ino.to_le_bytes()), &generation.to_le_bytes())
}

/// The checksum of a raw on-disk inode: over every byte, `l_i_checksum_lo` and (when
/// `i_extra_isize` covers it) `i_checksum_hi` counted as zero.
pub fn inode_csum(raw: &[u8], fs_seed: u32, ino: u32) -> u32 {
    let generation = u32_at(raw, 0x64);
    let mut buf = raw.to_vec();
    put_u16(&mut buf, CSUM_LO_OFF, 0);
    if raw.len() > GOOD_OLD_INODE_SIZE {
        let extra_end = GOOD_OLD_INODE_SIZE + usize::from(u16_at(raw, 0x80));
        if covered(extra_end, CSUM_HI_OFF, 2) {
            put_u16(&mut buf, CSUM_HI_OFF, 0);
        }
    }
    crc32c_raw(inode_csum_seed(fs_seed, ino, generation), &buf)
}

#[cfg(test)]
mod tests;
