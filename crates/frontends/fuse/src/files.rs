//! File data: `open` (`IRP_MJ_CREATE` by inode number, `O_TRUNC` as `FILE_OVERWRITE`),
//! `read` and `write` (`IRP_MJ_READ` / `IRP_MJ_WRITE` on the open's handle), `flush` (the
//! open's deferred write errors: a `FILE_DATA_ONLY` flush, which syncs nothing), `release` (cleanup and close), `fsync`
//! (`IRP_MJ_FLUSH_BUFFERS` on the open's handle; `FILE_DATA_SYNC_ONLY` for fdatasync),
//! `fallocate` and `lseek(SEEK_DATA/SEEK_HOLE)` (file-system controls), `copy_file_range`
//! (reads and writes).

use fuser::{Errno, FileHandle, INodeNo, Request, WriteFlags};
use irp::file::{AllocateMode, CreateDisposition, CreateOptions, CreateRequest, Credentials, SeekWhence};
use irp::{Access, FlushFlags, MajorFunction, Mdl, Status};

use crate::caller::credentials;
use crate::errno::{self, Op};
use crate::filesystem::IrpFs;
use crate::names::access_of;
use crate::opens::{self, Open};

/// The most `copy_file_range` copies in one request (it answers a 32-bit count).
const COPY_MAX: u64 = 1 << 30;
/// One read-and-write step of `copy_file_range`.
const COPY_CHUNK: u64 = 1 << 20;

impl IrpFs {
    /// The open `fh` names.
    pub(crate) fn open_of(&self, fh: FileHandle) -> Result<std::sync::Arc<Open>, Errno> {
        self.opens.get(fh.0).ok_or(Errno::EBADF)
    }

    /// `open`: a handle on the inode with the access the flags ask for, as the caller (the
    /// file system checks the mode bits); `O_TRUNC` truncates as it opens.
    pub(crate) fn open_file(&self, req: &Request, node: INodeNo, flags: i32) -> Result<u64, Errno> {
        let ino = self.ino(node)?;
        let disposition =
            if flags & libc::O_TRUNC != 0 { CreateDisposition::Overwrite } else { CreateDisposition::Open };
        let request = CreateRequest::open(ino.to_string(), access_of(flags, self.options.writeback_cache))
            .disposition(disposition)
            .options(CreateOptions::OPEN_BY_FILE_ID | CreateOptions::NON_DIRECTORY_FILE)
            .credentials(credentials(req));
        let handle = self.create(&request).map_err(errno::of)?;
        Ok(self.opens.insert(Open::new(handle, ino)))
    }

    /// `read`: what the file holds at `offset` (fewer bytes at its end, none past it): the
    /// buffer and how many of its bytes were read.
    pub(crate) fn read_data(&self, fh: FileHandle, offset: u64, size: u32) -> Result<(Mdl, usize), Errno> {
        let open = self.open_of(fh)?;
        let mdl = Mdl::with_len(size as usize).map_err(|_| Errno::ENOMEM)?;
        let (mdl, result) = open.handle.read_mdl(offset, mdl);
        match result {
            Ok(n) => Ok((mdl, n.min(size as usize))),
            Err(Status::END_OF_FILE) => Ok((mdl, 0)),
            Err(status) => Err(errno::of(status)),
        }
    }

    /// `write`. A failed write from the kernel's page cache (writeback) is also kept for the
    /// open's next `flush` or `fsync`: the process that wrote the data is not waiting.
    pub(crate) fn write_data(
        &self,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        flags: WriteFlags,
    ) -> Result<u32, Errno> {
        let open = self.open_of(fh)?;
        match open.handle.write(offset, data) {
            Ok(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(status) => {
                if flags.contains(WriteFlags::FUSE_WRITE_CACHE) {
                    open.defer(status);
                }
                Err(errno::of(status))
            }
        }
    }

    /// `flush` (every `close(2)` of a descriptor): nothing is made durable (POSIX `close`
    /// does not); the open's deferred write errors are reported — a writeback write the
    /// front end saw fail, and, for an open that may write, a write-back failure below the
    /// file system this handle has not seen (a `FILE_DATA_ONLY` flush: the driver writes
    /// nothing for it, file data being below already, and answers the handle's unseen
    /// error).
    pub(crate) fn flush_open(&self, fh: FileHandle) -> Result<(), Errno> {
        let open = self.open_of(fh)?;
        if let Some(status) = open.take_deferred() {
            return Err(errno::errno(status, Op::Sync));
        }
        if self.read_only || !open.handle.access().can_write() {
            return Ok(());
        }
        match open.handle.flush_buffers_ex(FlushFlags::FileDataOnly) {
            Ok(()) => Ok(()),
            Err(s) => s.counted_for(MajorFunction::FlushBuffers).ok().map_err(|s| errno::errno(s, Op::Sync)),
        }
    }

    /// `release`: the last descriptor of the open is closed (cleanup, then close).
    pub(crate) fn release_open(&self, fh: FileHandle) -> Result<(), Errno> {
        let open = self.opens.remove(fh.0).ok_or(Errno::EBADF)?;
        opens::close(open).map_err(errno::of)
    }

    /// Flushes inode `ino` with `flags`, through `open` when it may write, else through a
    /// handle opened for writing on the kernel's behalf (POSIX lets a read-only descriptor
    /// `fsync`, and a directory is opened for reading; the flush IRP needs write access, as
    /// `NtFlushBuffersFile` — for a directory NT's `FILE_ADD_FILE`, the same bit).
    pub(crate) fn flush_inode(
        &self,
        open: Option<&Open>,
        ino: u64,
        flags: FlushFlags,
        dir: bool,
    ) -> Result<(), Status> {
        if self.read_only {
            return Ok(()); // nothing can have been written
        }
        let status = match open {
            Some(o) if o.handle.access().can_write() => o.handle.flush_buffers_ex(flags),
            _ => {
                let kind = if dir { CreateOptions::DIRECTORY_FILE } else { CreateOptions::NONE };
                self.open_ino(ino, Access::WRITE, kind, Credentials::ROOT)
                    .and_then(|h| h.flush_buffers_ex(flags))
            }
        };
        match status {
            Ok(()) => Ok(()),
            Err(s) => s.counted_for(MajorFunction::FlushBuffers).ok(),
        }
    }

    /// `fsync` / `fdatasync`: `IRP_MJ_FLUSH_BUFFERS` (with `FILE_DATA_SYNC_ONLY` for
    /// `datasync`) on the open's handle; an earlier writeback failure is reported first.
    pub(crate) fn fsync_open(&self, fh: FileHandle, datasync: bool) -> Result<(), Errno> {
        let open = self.open_of(fh)?;
        let flags = if datasync { FlushFlags::FileDataSyncOnly } else { FlushFlags::Full };
        let flushed = self.flush_inode(Some(&open), open.ino, flags, false);
        if let Some(status) = open.take_deferred() {
            return Err(errno::errno(status, Op::Sync));
        }
        flushed.map_err(|s| errno::errno(s, Op::Sync))
    }

    /// `fallocate` (the `FALLOC_FL_*` bits are `AllocateMode`'s).
    pub(crate) fn allocate(&self, fh: FileHandle, offset: u64, length: u64, mode: i32) -> Result<(), Errno> {
        let open = self.open_of(fh)?;
        let mode = u32::try_from(mode).map_err(|_| Errno::EINVAL)?;
        open.handle.allocate(offset, length, AllocateMode(mode)).map_err(errno::of)
    }

    /// `lseek` with `SEEK_DATA` or `SEEK_HOLE` (the kernel answers the other whences).
    pub(crate) fn seek(&self, fh: FileHandle, offset: i64, whence: i32) -> Result<i64, Errno> {
        let open = self.open_of(fh)?;
        let whence = match whence {
            libc::SEEK_DATA => SeekWhence::Data,
            libc::SEEK_HOLE => SeekWhence::Hole,
            _ => return Err(Errno::EINVAL),
        };
        let offset = u64::try_from(offset).map_err(|_| Errno::ENXIO)?;
        let found = open.handle.seek(offset, whence).map_err(errno::of)?;
        i64::try_from(found).map_err(|_| Errno::EOVERFLOW)
    }

    /// `copy_file_range`: reads from one open and writes to the other, a chunk at a time,
    /// up to the end of the source; the bytes copied.
    pub(crate) fn copy_range(
        &self,
        from: (FileHandle, u64),
        to: (FileHandle, u64),
        len: u64,
        flags: u64,
    ) -> Result<u32, Errno> {
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        let source = self.open_of(from.0)?;
        let target = self.open_of(to.0)?;
        let len = len.min(COPY_MAX);
        let mut done = 0u64;
        while done < len {
            let step = (len - done).min(COPY_CHUNK) as usize;
            let mut buf = vec![0u8; step];
            let n = match source.handle.read_into(from.1 + done, &mut buf) {
                Ok(0) | Err(Status::END_OF_FILE) => break,
                Ok(n) => n,
                Err(s) if done == 0 => return Err(errno::of(s)),
                Err(_) => break,
            };
            match target.handle.write(to.1 + done, &buf[..n]) {
                Ok(w) => done += w as u64,
                Err(s) if done == 0 => return Err(errno::of(s)),
                Err(_) => break,
            }
            if n < step {
                break;
            }
        }
        Ok(done as u32)
    }
}
