//! The backend of a read-write mount: the write path, [`Filesystem`], over the device
//! below, read and changed through it (so reads see every change at once), with the
//! periodic commit of its journal (`commit_timer`).

use std::sync::Arc;

use irp::Status;
use irp::file::{AllocateMode, FileKind, PosixChanges, VolumeStat, XattrSetMode};

use super::Failure;
use super::backend::{Backend, Mutations, TimeChanges, Xattrs};
use super::commit_timer::CommitTimer;
use super::write_errors::WriteErrors;
use crate::filesystem::{self, Filesystem, RenameMode, SetAttr, XattrMode};
use crate::jbd2::ReplayReport;
use crate::ondisk::dirent::FileType;
use crate::ondisk::inode::{Inode, mode};
use crate::volume::{DirEntryInfo, Mapping};

/// [`Filesystem`] as the driver's [`Backend`] and [`Mutations`].
#[derive(Debug)]
pub struct FilesystemBackend {
    /// Stopped (and joined) first when the backend goes.
    _timer: Option<CommitTimer>,
    fs: Arc<Filesystem>,
    block_size: u32,
    inodes_count: u32,
    huge_file: bool,
}

impl FilesystemBackend {
    /// The backend of `fs`; with a `commit_interval`, a thread commits the journal's
    /// running transaction once it is that old (as jbd2 does every 5 s), recording a
    /// failure in `errors`.
    pub fn new(
        fs: Filesystem,
        commit_interval: Option<std::time::Duration>,
        errors: Arc<WriteErrors>,
    ) -> FilesystemBackend {
        let fs = Arc::new(fs);
        let stat = fs.statfs();
        FilesystemBackend {
            _timer: commit_interval.and_then(|every| CommitTimer::start(&fs, every, errors)),
            block_size: stat.block_size,
            inodes_count: u32::try_from(stat.files).unwrap_or(u32::MAX),
            huge_file: fs.huge_file(),
            fs,
        }
    }

    /// The file system.
    pub fn filesystem(&self) -> &Filesystem {
        &self.fs
    }

    /// What journal recovery did at mount, if the journal needed it.
    pub fn recovery(&self) -> Option<ReplayReport> {
        self.fs.recovery()
    }
}

fn file_type(kind: filesystem::FileKind) -> FileType {
    use filesystem::FileKind as K;
    match kind {
        K::Regular => FileType::Regular,
        K::Directory => FileType::Directory,
        K::Symlink => FileType::Symlink,
        K::CharDevice => FileType::CharDevice,
        K::BlockDevice => FileType::BlockDevice,
        K::Fifo => FileType::Fifo,
        K::Socket => FileType::Socket,
        K::Unknown => FileType::Unknown,
    }
}

/// A device number as Linux's `new_encode_dev` packs it (what the write path stores).
fn encode_rdev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

impl Backend for FilesystemBackend {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn inodes_count(&self) -> u32 {
        self.inodes_count
    }

    fn read_inode(&self, ino: u32) -> Result<Inode, Failure> {
        Ok(self.fs.inode(ino)?)
    }

    fn lookup(&self, dir: u32, name: &[u8]) -> Result<Option<u32>, Failure> {
        Ok(self.fs.lookup_ino(dir, name)?)
    }

    fn read_dir(&self, dir: u32) -> Result<Vec<DirEntryInfo>, Failure> {
        let mut out = Vec::new();
        let mut cookie = 0;
        loop {
            let batch = self.fs.readdir(dir, cookie)?;
            let Some(last) = batch.last() else { return Ok(out) };
            cookie = last.cookie;
            out.extend(batch.into_iter().map(|e| DirEntryInfo {
                name: e.name,
                inode: e.ino,
                file_type: file_type(e.kind),
            }));
        }
    }

    fn read(&self, ino: u32, _: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize, Failure> {
        Ok(self.fs.read(ino, offset, buf)?)
    }

    fn read_link(&self, ino: u32, _: &Inode) -> Result<Vec<u8>, Failure> {
        Ok(self.fs.readlink(ino)?)
    }

    fn xattrs(&self, ino: u32, _: &Inode) -> Result<Xattrs, Failure> {
        let mut out = Vec::new();
        for name in self.fs.listxattr(ino)? {
            let value = self.fs.getxattr(ino, &name)?;
            out.push((name, value));
        }
        Ok(out)
    }

    fn map_block(&self, ino: u32, _: &Inode, lblk: u32) -> Result<Mapping, Failure> {
        Ok(self.fs.map_block(ino, lblk)?)
    }

    fn blocks_512(&self, inode: &Inode) -> u64 {
        inode.blocks_512(self.huge_file, self.block_size)
    }

    fn volume_stat(&self) -> VolumeStat {
        let s = self.fs.statfs();
        VolumeStat {
            fs_name: "ext4".into(),
            block_size: s.block_size,
            blocks: s.blocks,
            blocks_free: s.free_blocks,
            blocks_available: s.available_blocks,
            files: s.files,
            files_free: s.free_files,
            name_max: s.name_max,
            read_only: false,
        }
    }

    fn mutations(&self) -> Option<&dyn Mutations> {
        Some(self)
    }
}

impl Mutations for FilesystemBackend {
    fn create(
        &self,
        dir: u32,
        name: &[u8],
        kind: FileKind,
        perm: u32,
        (uid, gid): (u32, u32),
        (major, minor): (u32, u32),
    ) -> Result<u32, Failure> {
        let perm = (perm & 0o7777) as u16;
        let node = |bits: u16, rdev: u32| self.fs.mknod(dir, name, bits | perm, rdev, uid, gid);
        let attr = match kind {
            FileKind::Regular => self.fs.create(dir, name, perm, uid, gid)?,
            FileKind::Directory => self.fs.mkdir(dir, name, perm, uid, gid)?,
            FileKind::CharDevice => node(mode::S_IFCHR, encode_rdev(major, minor))?,
            FileKind::BlockDevice => node(mode::S_IFBLK, encode_rdev(major, minor))?,
            FileKind::Fifo => node(mode::S_IFIFO, 0)?,
            FileKind::Socket => node(mode::S_IFSOCK, 0)?,
            other => {
                return Err(Failure::new(Status::INVALID_PARAMETER, format!("creating a {other:?}")));
            }
        };
        Ok(attr.ino)
    }

    fn symlink(&self, dir: u32, name: &[u8], target: &[u8], (uid, gid): (u32, u32)) -> Result<u32, Failure> {
        Ok(self.fs.symlink(dir, name, target, uid, gid)?.ino)
    }

    fn write(&self, ino: u32, offset: u64, data: &[u8]) -> Result<usize, Failure> {
        Ok(self.fs.write(ino, offset, data)?)
    }

    fn append(&self, ino: u32, data: &[u8]) -> Result<(u64, usize), Failure> {
        Ok(self.fs.append(ino, data)?)
    }

    fn truncate(&self, ino: u32, size: u64) -> Result<(), Failure> {
        Ok(self.fs.truncate(ino, size)?)
    }

    fn allocate(&self, ino: u32, offset: u64, length: u64, how: AllocateMode) -> Result<(), Failure> {
        let known = AllocateMode::KEEP_SIZE.0 | AllocateMode::PUNCH_HOLE.0 | AllocateMode::ZERO_RANGE.0;
        if how.0 & !known != 0 {
            return Err(Failure::new(Status::NOT_SUPPORTED, format!("fallocate mode {:#x}", how.0)));
        }
        let keep_size = how.contains(AllocateMode::KEEP_SIZE);
        if how.contains(AllocateMode::PUNCH_HOLE) {
            if !keep_size || how.contains(AllocateMode::ZERO_RANGE) {
                return Err(Failure::new(
                    Status::NOT_SUPPORTED,
                    "FALLOC_FL_PUNCH_HOLE goes with FALLOC_FL_KEEP_SIZE only",
                ));
            }
            return Ok(self.fs.punch_hole(ino, offset, length)?);
        }
        if how.contains(AllocateMode::ZERO_RANGE) {
            // Deallocate, then preallocate unwritten (reads as zeros): allocated and zero.
            self.fs.punch_hole(ino, offset, length)?;
        }
        Ok(self.fs.fallocate(ino, offset, length, keep_size)?)
    }

    fn unlink(&self, dir: u32, name: &[u8]) -> Result<(), Failure> {
        let ino = self.fs.lookup_ino(dir, name)?.ok_or_else(|| {
            Failure::new(
                Status::OBJECT_NAME_NOT_FOUND,
                format!("{:?} in {dir}", String::from_utf8_lossy(name)),
            )
        })?;
        if self.fs.inode(ino)?.is_dir() {
            Ok(self.fs.rmdir(dir, name)?)
        } else {
            Ok(self.fs.unlink(dir, name)?)
        }
    }

    fn rename(
        &self,
        from_dir: u32,
        from_name: &[u8],
        to_dir: u32,
        to_name: &[u8],
        replace: bool,
    ) -> Result<(), Failure> {
        let how = if replace { RenameMode::Replace } else { RenameMode::NoReplace };
        Ok(self.fs.rename(from_dir, from_name, to_dir, to_name, how)?)
    }

    fn link(&self, ino: u32, dir: u32, name: &[u8]) -> Result<(), Failure> {
        self.fs.link(ino, dir, name)?;
        Ok(())
    }

    fn set_posix(&self, ino: u32, c: &PosixChanges) -> Result<(), Failure> {
        let set = SetAttr {
            mode: c.mode.map(|m| (m & 0o7777) as u16),
            uid: c.uid,
            gid: c.gid,
            ..SetAttr::default()
        };
        self.fs.setattr(ino, &set)?;
        Ok(())
    }

    fn set_times(&self, ino: u32, t: &TimeChanges) -> Result<(), Failure> {
        let set = SetAttr { atime: t.atime, mtime: t.mtime, crtime: t.crtime, ..SetAttr::default() };
        self.fs.setattr(ino, &set)?;
        Ok(())
    }

    fn set_xattr(&self, ino: u32, name: &[u8], value: &[u8], how: XattrSetMode) -> Result<(), Failure> {
        let how = match how {
            XattrSetMode::Either => XattrMode::Set,
            XattrSetMode::Create => XattrMode::Create,
            XattrSetMode::Replace => XattrMode::Replace,
        };
        Ok(self.fs.setxattr(ino, name, value, how)?)
    }

    fn remove_xattr(&self, ino: u32, name: &[u8]) -> Result<(), Failure> {
        Ok(self.fs.removexattr(ino, name)?)
    }

    fn open(&self, ino: u32) -> Result<(), Failure> {
        Ok(self.fs.open(ino)?)
    }

    fn release(&self, ino: u32) -> Result<(), Failure> {
        Ok(self.fs.release(ino)?)
    }

    fn fsync(&self, ino: u32, data_only: bool) -> Result<(), Failure> {
        Ok(self.fs.commit_for(ino, data_only)?)
    }

    fn sync(&self) -> Result<(), Failure> {
        Ok(self.fs.commit_all()?)
    }

    fn shutdown(&self) -> Result<(), Failure> {
        Ok(self.fs.shutdown()?)
    }
}
