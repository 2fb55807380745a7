//! The seam between the IRP driver and the file system it runs: [`Backend`] is what every
//! request reads through, [`Mutations`] what changes the volume.
//!
//! A read-only mount's backend is [`ReadOnlyVolume`], the read path of [`Volume`] (over the
//! journal replayed into memory), and [`Backend::mutations`] is `None`: every request that
//! would change the volume completes with `STATUS_MEDIA_WRITE_PROTECTED`. A read-write
//! mount's is [`FilesystemBackend`](super::FilesystemBackend), the write path
//! (`fs::Filesystem`), which implements both. The driver decides the NT side (dispositions,
//! access, permissions, names); the backend does what it is told, in inode numbers.

use irp::file::{AllocateMode, FileKind, PosixChanges, VolumeStat, XattrSetMode};

use super::Failure;
use crate::device::BlockDevice;
use crate::filesystem::Timestamp;
use crate::ondisk::features::ro_compat;
use crate::ondisk::inode::Inode;
use crate::volume::{DirEntryInfo, Mapping, Volume};

/// An inode's extended attributes: `(full name, value)` pairs.
pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// What the driver reads: inodes, directories, file data, links, xattrs, block maps.
pub trait Backend: Send + Sync {
    /// The block size.
    fn block_size(&self) -> u32;
    /// Inodes in the volume (valid numbers are `1..=inodes_count`).
    fn inodes_count(&self) -> u32;
    /// Inode `ino`, checksum verified.
    fn read_inode(&self, ino: u32) -> Result<Inode, Failure>;
    /// The inode `name` names in directory `dir`.
    fn lookup(&self, dir: u32, name: &[u8]) -> Result<Option<u32>, Failure>;
    /// Every entry of directory `dir`, `.` and `..` included, in on-disk order.
    fn read_dir(&self, dir: u32) -> Result<Vec<DirEntryInfo>, Failure>;
    /// Up to `buf.len()` bytes of a file at `offset`; how many (0 at or past the end).
    fn read(&self, ino: u32, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize, Failure>;
    /// A symbolic link's target.
    fn read_link(&self, ino: u32, inode: &Inode) -> Result<Vec<u8>, Failure>;
    /// Every extended attribute, `(full name, value)`.
    fn xattrs(&self, ino: u32, inode: &Inode) -> Result<Xattrs, Failure>;
    /// Where logical block `lblk` of a file is (for SEEK_DATA / SEEK_HOLE).
    fn map_block(&self, ino: u32, inode: &Inode, lblk: u32) -> Result<Mapping, Failure>;
    /// Space used by an inode, in 512-byte units (`st_blocks`).
    fn blocks_512(&self, inode: &Inode) -> u64;
    /// Sizes and counts (`statfs`), `read_only` left false.
    fn volume_stat(&self) -> VolumeStat;
    /// The write path, if this backend has one (`None`: read-only).
    fn mutations(&self) -> Option<&dyn Mutations> {
        None
    }
}

/// The times a set-times request changes (`None` leaves one; ctime becomes now).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeChanges {
    /// Access time.
    pub atime: Option<Timestamp>,
    /// Modification time.
    pub mtime: Option<Timestamp>,
    /// Creation time.
    pub crtime: Option<Timestamp>,
}

/// What the write path answers. Inode numbers and names are the on-disk ones; each call is
/// one atomic operation in the running transaction (a failed one changes nothing).
/// Permissions are the driver's business: the backend checks none.
pub trait Mutations: Send + Sync {
    /// Creates `name` in `dir`: a regular file, a directory, a device, FIFO or socket
    /// (`kind`), with permission bits `mode`, owned by `owner` (uid, gid). `rdev` is a
    /// device's (major, minor).
    fn create(
        &self,
        dir: u32,
        name: &[u8],
        kind: FileKind,
        mode: u32,
        owner: (u32, u32),
        rdev: (u32, u32),
    ) -> Result<u32, Failure>;
    /// Creates the symbolic link `name` → `target` in `dir`.
    fn symlink(&self, dir: u32, name: &[u8], target: &[u8], owner: (u32, u32)) -> Result<u32, Failure>;
    /// Writes `data` at `offset`; how many bytes (fewer only when the volume filled).
    fn write(&self, ino: u32, offset: u64, data: &[u8]) -> Result<usize, Failure>;
    /// Writes `data` at the end of the file, atomically; the offset and the bytes written.
    fn append(&self, ino: u32, data: &[u8]) -> Result<(u64, usize), Failure>;
    /// Sets the size.
    fn truncate(&self, ino: u32, size: u64) -> Result<(), Failure>;
    /// `fallocate`: preallocate (`KEEP_SIZE` or not), punch a hole, zero a range.
    fn allocate(&self, ino: u32, offset: u64, length: u64, mode: AllocateMode) -> Result<(), Failure>;
    /// Removes `name` from `dir`: a non-directory, or an empty directory.
    fn unlink(&self, dir: u32, name: &[u8]) -> Result<(), Failure>;
    /// Moves `from_dir/from_name` to `to_dir/to_name` atomically, replacing what is there
    /// if `replace` (else `STATUS_OBJECT_NAME_COLLISION`).
    fn rename(
        &self,
        from_dir: u32,
        from_name: &[u8],
        to_dir: u32,
        to_name: &[u8],
        replace: bool,
    ) -> Result<(), Failure>;
    /// Gives `ino` the name `name` in `dir`.
    fn link(&self, ino: u32, dir: u32, name: &[u8]) -> Result<(), Failure>;
    /// Changes mode and owner.
    fn set_posix(&self, ino: u32, changes: &PosixChanges) -> Result<(), Failure>;
    /// Changes times (ctime becomes now).
    fn set_times(&self, ino: u32, times: &TimeChanges) -> Result<(), Failure>;
    /// Sets an extended attribute.
    fn set_xattr(&self, ino: u32, name: &[u8], value: &[u8], mode: XattrSetMode) -> Result<(), Failure>;
    /// Removes an extended attribute.
    fn remove_xattr(&self, ino: u32, name: &[u8]) -> Result<(), Failure>;
    /// Counts an open of `ino` (its FCB's first), so an unlinked inode lives on.
    fn open(&self, ino: u32) -> Result<(), Failure>;
    /// Counts the close of `ino`'s last open; an inode without links left is freed.
    fn release(&self, ino: u32) -> Result<(), Failure>;
    /// The file's part of `fsync` (`data_only`: `fdatasync`): commits the journal up to its
    /// last change. Data is on the device below already; the driver then forwards the flush.
    fn fsync(&self, ino: u32, data_only: bool) -> Result<(), Failure>;
    /// Commits the journal (a directory's or the volume's flush, without the device sync).
    fn sync(&self) -> Result<(), Failure>;
    /// At shutdown: commit, checkpoint, mark the volume clean; changes are refused after.
    fn shutdown(&self) -> Result<(), Failure>;
}

/// The read path as a backend: [`Volume`] over whatever the mount read it through.
#[derive(Debug)]
pub struct ReadOnlyVolume<D: BlockDevice> {
    vol: Volume<D>,
}

impl<D: BlockDevice> ReadOnlyVolume<D> {
    /// The backend of `vol`.
    pub fn new(vol: Volume<D>) -> ReadOnlyVolume<D> {
        ReadOnlyVolume { vol }
    }

    /// The volume.
    pub fn volume(&self) -> &Volume<D> {
        &self.vol
    }
}

impl<D: BlockDevice> Backend for ReadOnlyVolume<D> {
    fn block_size(&self) -> u32 {
        self.vol.block_size()
    }

    fn inodes_count(&self) -> u32 {
        self.vol.superblock().inodes_count
    }

    fn read_inode(&self, ino: u32) -> Result<Inode, Failure> {
        Ok(self.vol.read_inode(ino)?)
    }

    fn lookup(&self, dir: u32, name: &[u8]) -> Result<Option<u32>, Failure> {
        Ok(self.vol.lookup(dir, name)?)
    }

    fn read_dir(&self, dir: u32) -> Result<Vec<DirEntryInfo>, Failure> {
        Ok(self.vol.read_dir(dir)?)
    }

    fn read(&self, ino: u32, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize, Failure> {
        Ok(self.vol.read_at(ino, inode, offset, buf)?)
    }

    fn read_link(&self, ino: u32, inode: &Inode) -> Result<Vec<u8>, Failure> {
        Ok(self.vol.read_link_inode(ino, inode)?)
    }

    fn xattrs(&self, ino: u32, inode: &Inode) -> Result<Xattrs, Failure> {
        Ok(self.vol.xattrs(ino, inode)?)
    }

    fn map_block(&self, ino: u32, inode: &Inode, lblk: u32) -> Result<Mapping, Failure> {
        Ok(self.vol.map_block(ino, inode, lblk)?)
    }

    fn blocks_512(&self, inode: &Inode) -> u64 {
        let huge = self.vol.superblock().features.ro_compat & ro_compat::HUGE_FILE != 0;
        inode.blocks_512(huge, self.vol.block_size())
    }

    fn volume_stat(&self) -> VolumeStat {
        let sb = self.vol.superblock();
        // The superblock's free counts are updated lazily by the kernel; the groups' are
        // current.
        let free_blocks: u64 = self.vol.groups().iter().map(|g| u64::from(g.free_blocks_count)).sum();
        let free_inodes: u64 = self.vol.groups().iter().map(|g| u64::from(g.free_inodes_count)).sum();
        VolumeStat {
            fs_name: "ext4".into(),
            block_size: self.vol.block_size(),
            blocks: sb.blocks_count,
            blocks_free: free_blocks,
            blocks_available: free_blocks.saturating_sub(sb.r_blocks_count),
            files: u64::from(sb.inodes_count),
            files_free: free_inodes,
            name_max: 255,
            read_only: false,
        }
    }
}
