//! The file methods of [`Handle`]: each builds one request for the handle's file object,
//! sends it, and decodes the answer from the system buffer.

use super::{
    AllocateMode, BasicChanges, DecodeError, DirectoryEntry, FileBasicInformation, FileInformation, FileKind,
    FileStandardInformation, FileStatInformation, FsControl, FsControlOutput, MINOR_QUERY_DIRECTORY,
    MINOR_USER_FS_REQUEST, NameChange, PosixChanges, QueryDirectory, SeekWhence, SetFileInformation,
    VolumeInformationClass, VolumeStat, XattrSetMode, decode_entries,
};
use crate::{CompletedIrp, Handle, InformationClass, MajorFunction, Parameters, Status};

/// A driver answered with a buffer that is not what was asked for: that is its bug.
fn bad_answer(major: MajorFunction, e: DecodeError) -> Status {
    tracing::error!(%major, "the driver's answer does not decode: {e}");
    Status::INTERNAL_ERROR
}

impl Handle {
    fn answer(&self, irp: crate::Irp) -> Result<CompletedIrp, Status> {
        let done = self.call(irp);
        done.status().ok()?;
        Ok(done)
    }

    /// Queries one information class (`NtQueryInformationFile`).
    #[doc(alias = "NtQueryInformationFile")]
    pub fn query_information(&self, class: InformationClass) -> Result<FileInformation, Status> {
        let irp = self
            .new_irp(MajorFunction::QueryInformation)
            .with_parameters(Parameters::Information { class, value: 0 });
        let mut done = self.answer(irp)?;
        FileInformation::decode(class, &done.take_system_buffer())
            .map_err(|e| bad_answer(MajorFunction::QueryInformation, e))
    }

    /// Times and attributes (`FileBasicInformation`).
    pub fn query_basic(&self) -> Result<FileBasicInformation, Status> {
        match self.query_information(InformationClass::Basic)? {
            FileInformation::Basic(b) => Ok(b),
            _ => Err(Status::INTERNAL_ERROR),
        }
    }

    /// Sizes, links, delete pending, directory (`FileStandardInformation`).
    pub fn query_standard(&self) -> Result<FileStandardInformation, Status> {
        match self.query_information(InformationClass::Standard)? {
            FileInformation::Standard(s) => Ok(s),
            _ => Err(Status::INTERNAL_ERROR),
        }
    }

    /// What POSIX `fstat` reports (irpstack's stat class).
    #[doc(alias = "fstat")]
    pub fn query_stat(&self) -> Result<FileStatInformation, Status> {
        match self.query_information(InformationClass::Stat)? {
            FileInformation::Stat(s) => Ok(s),
            _ => Err(Status::INTERNAL_ERROR),
        }
    }

    /// Changes one information class (`NtSetInformationFile`). Changing the size needs
    /// write access (`STATUS_ACCESS_DENIED` otherwise, checked here as NT's I/O manager
    /// does); the file system checks the rest.
    #[doc(alias = "NtSetInformationFile")]
    pub fn set_information(&self, info: SetFileInformation) -> Result<(), Status> {
        if matches!(info, SetFileInformation::EndOfFile(_) | SetFileInformation::Allocation(_)) {
            self.need(self.access().can_write())?;
        }
        let irp =
            self.new_irp(MajorFunction::SetInformation).with_parameters(Parameters::SetFile(Box::new(info)));
        self.answer(irp).map(drop)
    }

    /// Truncates or extends the file (`ftruncate`, `FileEndOfFileInformation`).
    #[doc(alias = "ftruncate")]
    pub fn set_end_of_file(&self, size: u64) -> Result<(), Status> {
        self.set_information(SetFileInformation::EndOfFile(size))
    }

    /// Changes times and attributes (`utimensat`, `FileBasicInformation`).
    pub fn set_basic(&self, changes: BasicChanges) -> Result<(), Status> {
        self.set_information(SetFileInformation::Basic(changes))
    }

    /// Changes mode and owner (`fchmod`, `fchown`).
    pub fn set_posix(&self, changes: PosixChanges) -> Result<(), Status> {
        self.set_information(SetFileInformation::Posix(changes))
    }

    /// Moves the file to `target` (`rename`; `replace_if_exists` false is `RENAME_NOREPLACE`).
    pub fn rename(&self, target: &str, replace_if_exists: bool) -> Result<(), Status> {
        let change = NameChange { target: target.to_owned(), replace_if_exists };
        self.set_information(SetFileInformation::Rename(change))
    }

    /// Gives the file another name, `target` (`link`).
    pub fn link(&self, target: &str, replace_if_exists: bool) -> Result<(), Status> {
        let change = NameChange { target: target.to_owned(), replace_if_exists };
        self.set_information(SetFileInformation::Link(change))
    }

    /// Deletes the name when the last handle closes (`delete` true), or not any more
    /// (`FileDispositionInformation`; `unlink` is this and a close).
    pub fn set_delete_disposition(&self, delete: bool) -> Result<(), Status> {
        self.set_information(SetFileInformation::Disposition { delete })
    }

    /// Deletes the name when this handle is closed, even while other handles keep the
    /// file open (`FileDispositionInformationEx` with `FILE_DISPOSITION_POSIX_SEMANTICS`;
    /// POSIX `unlink` is this and a close). The handle needs `DELETE` access.
    #[doc(alias = "unlink")]
    pub fn set_posix_delete(&self) -> Result<(), Status> {
        self.set_information(SetFileInformation::DispositionEx { delete: true, posix_semantics: true })
    }

    /// One directory query (`NtQueryDirectoryFile`): the entries that fit in
    /// `query.output_length`. The end of the enumeration is `Err(STATUS_NO_MORE_FILES)`; a
    /// first query whose pattern matches nothing is `Err(STATUS_NO_SUCH_FILE)`, as NT.
    #[doc(alias = "NtQueryDirectoryFile")]
    pub fn query_directory(&self, query: &QueryDirectory) -> Result<Vec<DirectoryEntry>, Status> {
        self.need(self.access().contains(crate::Access::READ))?;
        let mut irp = self
            .new_irp(MajorFunction::DirectoryControl)
            .with_parameters(Parameters::Directory(Box::new(query.clone())));
        irp.next_location_mut().minor = MINOR_QUERY_DIRECTORY;
        let mut done = self.answer(irp)?;
        decode_entries(&done.take_system_buffer()).map_err(|e| bad_answer(MajorFunction::DirectoryControl, e))
    }

    /// Every entry of the directory matching `pattern` (all with `None`), `.` and `..`
    /// included, in the file system's order: a restarted scan, continued to its end.
    pub fn list_directory(&self, pattern: Option<&str>) -> Result<Vec<DirectoryEntry>, Status> {
        let mut all = Vec::new();
        let mut query = QueryDirectory::restart(pattern);
        loop {
            match self.query_directory(&query) {
                Ok(batch) if batch.is_empty() => return Ok(all),
                Ok(batch) => all.extend(batch),
                Err(Status::NO_MORE_FILES) => return Ok(all),
                Err(Status::NO_SUCH_FILE) if all.is_empty() => return Ok(all),
                Err(e) => return Err(e),
            }
            query = QueryDirectory::next();
        }
    }

    /// Sends a file-system control (`NtFsControlFile`) and returns its answer.
    #[doc(alias = "NtFsControlFile")]
    pub fn fs_control(&self, control: FsControl) -> Result<FsControlOutput, Status> {
        let mut irp = self
            .new_irp(MajorFunction::FileSystemControl)
            .with_parameters(Parameters::FsControl(Box::new(control)));
        irp.next_location_mut().minor = MINOR_USER_FS_REQUEST;
        let mut done = self.answer(irp)?;
        let buf = done.take_system_buffer();
        if buf.is_empty() {
            return Ok(FsControlOutput::None);
        }
        FsControlOutput::decode(&buf).map_err(|e| bad_answer(MajorFunction::FileSystemControl, e))
    }

    fn fs_control_bytes(&self, control: FsControl) -> Result<Vec<u8>, Status> {
        match self.fs_control(control)? {
            FsControlOutput::Bytes(b) => Ok(b),
            _ => Err(Status::INTERNAL_ERROR),
        }
    }

    /// The target of the symbolic link this handle opened (with `OPEN_REPARSE_POINT`).
    #[doc(alias = "readlink")]
    pub fn read_link(&self) -> Result<Vec<u8>, Status> {
        self.fs_control_bytes(FsControl::ReadLink)
    }

    /// Creates the symbolic link `name` → `target` in the directory this handle opened.
    #[doc(alias = "symlink")]
    pub fn create_symlink(&self, name: &str, target: &[u8]) -> Result<(), Status> {
        self.fs_control(FsControl::CreateSymlink { name: name.to_owned(), target: target.to_vec() }).map(drop)
    }

    /// Creates a device file, FIFO or socket `name` in the directory this handle opened.
    #[doc(alias = "mknod")]
    pub fn make_node(&self, name: &str, kind: FileKind, mode: u32, rdev: (u32, u32)) -> Result<(), Status> {
        let control =
            FsControl::MakeNode { name: name.to_owned(), kind, mode, rdev_major: rdev.0, rdev_minor: rdev.1 };
        self.fs_control(control).map(drop)
    }

    /// Every extended attribute name (`listxattr`).
    #[doc(alias = "listxattr")]
    pub fn list_xattrs(&self) -> Result<Vec<Vec<u8>>, Status> {
        match self.fs_control(FsControl::ListXattrs)? {
            FsControlOutput::Names(n) => Ok(n),
            _ => Err(Status::INTERNAL_ERROR),
        }
    }

    /// One extended attribute's value (`getxattr`; `STATUS_NONEXISTENT_EA_ENTRY` if absent).
    #[doc(alias = "getxattr")]
    pub fn get_xattr(&self, name: &[u8]) -> Result<Vec<u8>, Status> {
        self.fs_control_bytes(FsControl::GetXattr { name: name.to_vec() })
    }

    /// Sets an extended attribute (`setxattr`).
    #[doc(alias = "setxattr")]
    pub fn set_xattr(&self, name: &[u8], value: &[u8], mode: XattrSetMode) -> Result<(), Status> {
        self.fs_control(FsControl::SetXattr { name: name.to_vec(), value: value.to_vec(), mode }).map(drop)
    }

    /// Removes an extended attribute (`removexattr`).
    #[doc(alias = "removexattr")]
    pub fn remove_xattr(&self, name: &[u8]) -> Result<(), Status> {
        self.fs_control(FsControl::RemoveXattr { name: name.to_vec() }).map(drop)
    }

    /// `fallocate` over `offset..offset + length` (needs write access).
    #[doc(alias = "fallocate")]
    pub fn allocate(&self, offset: u64, length: u64, mode: AllocateMode) -> Result<(), Status> {
        self.need(self.access().can_write())?;
        self.fs_control(FsControl::Allocate { offset, length, mode }).map(drop)
    }

    /// `lseek` with `SEEK_DATA` or `SEEK_HOLE` from `offset` (`STATUS_END_OF_FILE` at or
    /// past the end, POSIX's `ENXIO`).
    #[doc(alias = "SEEK_DATA")]
    #[doc(alias = "SEEK_HOLE")]
    pub fn seek(&self, offset: u64, whence: SeekWhence) -> Result<u64, Status> {
        match self.fs_control(FsControl::Seek { offset, whence })? {
            FsControlOutput::Offset(o) => Ok(o),
            _ => Err(Status::INTERNAL_ERROR),
        }
    }

    /// What the volume reports about itself (`statfs`, `NtQueryVolumeInformationFile`).
    #[doc(alias = "statfs")]
    #[doc(alias = "NtQueryVolumeInformationFile")]
    pub fn query_volume_stat(&self) -> Result<VolumeStat, Status> {
        let irp = self
            .new_irp(MajorFunction::QueryVolumeInformation)
            .with_parameters(Parameters::QueryVolume { class: VolumeInformationClass::Stat });
        let mut done = self.answer(irp)?;
        VolumeStat::decode(&done.take_system_buffer())
            .map_err(|e| bad_answer(MajorFunction::QueryVolumeInformation, e))
    }
}
