//! Major and minor function codes, flush flags, request parameters.

use std::fmt;

/// The major function of an IRP (`IRP_MJ_*`): which dispatch routine handles it.
#[doc(alias = "IRP_MJ")]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum MajorFunction {
    /// `IRP_MJ_CREATE` (0x00): open a file or device.
    Create = 0x00,
    /// `IRP_MJ_CLOSE` (0x02): the last reference to a file object is gone.
    Close = 0x02,
    /// `IRP_MJ_READ` (0x03).
    Read = 0x03,
    /// `IRP_MJ_WRITE` (0x04).
    Write = 0x04,
    /// `IRP_MJ_QUERY_INFORMATION` (0x05).
    QueryInformation = 0x05,
    /// `IRP_MJ_SET_INFORMATION` (0x06).
    SetInformation = 0x06,
    /// `IRP_MJ_FLUSH_BUFFERS` (0x09): make everything written before it durable.
    FlushBuffers = 0x09,
    /// `IRP_MJ_QUERY_VOLUME_INFORMATION` (0x0a): what a mounted volume reports (statfs).
    QueryVolumeInformation = 0x0a,
    /// `IRP_MJ_DIRECTORY_CONTROL` (0x0c).
    DirectoryControl = 0x0c,
    /// `IRP_MJ_FILE_SYSTEM_CONTROL` (0x0d): irpstack's file-system controls
    /// ([`FsControl`](crate::file::FsControl): symlinks, xattrs, fallocate, seek data/hole).
    FileSystemControl = 0x0d,
    /// `IRP_MJ_DEVICE_CONTROL` (0x0e).
    DeviceControl = 0x0e,
    /// `IRP_MJ_INTERNAL_DEVICE_CONTROL` (0x0f).
    InternalDeviceControl = 0x0f,
    /// `IRP_MJ_SHUTDOWN` (0x10): write everything cached; the system is stopping.
    Shutdown = 0x10,
    /// `IRP_MJ_CLEANUP` (0x12): the last handle to a file object was closed.
    Cleanup = 0x12,
    /// Block-level discard (TRIM / UNMAP); NT sends it as an IOCTL, irpstack gives it a major code.
    Discard = 0x1c,
    /// Block-level write of zeroes (NBD WRITE_ZEROES); an irpstack extension.
    WriteZeroes = 0x1d,
}

impl MajorFunction {
    /// Every major function, in code order.
    pub const ALL: [MajorFunction; 16] = [
        MajorFunction::Create,
        MajorFunction::Close,
        MajorFunction::Read,
        MajorFunction::Write,
        MajorFunction::QueryInformation,
        MajorFunction::SetInformation,
        MajorFunction::FlushBuffers,
        MajorFunction::QueryVolumeInformation,
        MajorFunction::DirectoryControl,
        MajorFunction::FileSystemControl,
        MajorFunction::DeviceControl,
        MajorFunction::InternalDeviceControl,
        MajorFunction::Shutdown,
        MajorFunction::Cleanup,
        MajorFunction::Discard,
        MajorFunction::WriteZeroes,
    ];

    /// Whether a device that does not handle this request has still done all it was
    /// asked. A device without a cache has nothing to flush or to write back at shutdown,
    /// one without per-open state nothing to open, clean up or close, and a discard is a
    /// hint; so `STATUS_INVALID_DEVICE_REQUEST` from below counts as success for these
    /// (fastfat does the same for a flush). [`Status::counted_for`](crate::Status::counted_for) applies the rule; it is
    /// the only place it is decided.
    pub fn succeeds_unhandled(self) -> bool {
        matches!(
            self,
            MajorFunction::Create
                | MajorFunction::Cleanup
                | MajorFunction::Close
                | MajorFunction::FlushBuffers
                | MajorFunction::Shutdown
                | MajorFunction::Discard
        )
    }

    /// The NT name (`IRP_MJ_READ`, ...).
    pub fn nt_name(self) -> &'static str {
        match self {
            MajorFunction::Create => "IRP_MJ_CREATE",
            MajorFunction::Close => "IRP_MJ_CLOSE",
            MajorFunction::Read => "IRP_MJ_READ",
            MajorFunction::Write => "IRP_MJ_WRITE",
            MajorFunction::QueryInformation => "IRP_MJ_QUERY_INFORMATION",
            MajorFunction::SetInformation => "IRP_MJ_SET_INFORMATION",
            MajorFunction::FlushBuffers => "IRP_MJ_FLUSH_BUFFERS",
            MajorFunction::QueryVolumeInformation => "IRP_MJ_QUERY_VOLUME_INFORMATION",
            MajorFunction::DirectoryControl => "IRP_MJ_DIRECTORY_CONTROL",
            MajorFunction::FileSystemControl => "IRP_MJ_FILE_SYSTEM_CONTROL",
            MajorFunction::DeviceControl => "IRP_MJ_DEVICE_CONTROL",
            MajorFunction::InternalDeviceControl => "IRP_MJ_INTERNAL_DEVICE_CONTROL",
            MajorFunction::Shutdown => "IRP_MJ_SHUTDOWN",
            MajorFunction::Cleanup => "IRP_MJ_CLEANUP",
            MajorFunction::Discard => "IRP_MJ_DISCARD",
            MajorFunction::WriteZeroes => "IRP_MJ_WRITE_ZEROES",
        }
    }

    /// Whether the request writes to the medium (and so is covered by a later flush).
    pub fn modifies_data(self) -> bool {
        matches!(self, MajorFunction::Write | MajorFunction::Discard | MajorFunction::WriteZeroes)
    }
}

impl fmt::Display for MajorFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.nt_name())
    }
}

/// Flags of `NtFlushBuffersFileEx`, carried to drivers as the minor function of a
/// FlushBuffers IRP (`IRP_MN_FLUSH_*`).
#[doc(alias = "FLUSH_FLAGS_FILE_DATA_ONLY")]
#[doc(alias = "IRP_MN_FLUSH_DATA_ONLY")]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum FlushFlags {
    /// Flags 0: data and metadata, then a storage (device cache) sync.
    #[default]
    Full,
    /// `FLUSH_FLAGS_FILE_DATA_ONLY` / `IRP_MN_FLUSH_DATA_ONLY`: data only, no metadata,
    /// no device sync.
    FileDataOnly,
    /// `FLUSH_FLAGS_NO_SYNC` / `IRP_MN_FLUSH_NO_SYNC`: data and metadata, no device sync.
    NoSync,
    /// `FLUSH_FLAGS_FILE_DATA_SYNC_ONLY` / `IRP_MN_FLUSH_DATA_SYNC_ONLY`: data plus the
    /// metadata needed to read it back (fdatasync), with device sync.
    FileDataSyncOnly,
}

impl FlushFlags {
    /// The `NtFlushBuffersFileEx` flag value (0, 1, 2, 4).
    pub fn to_flags(self) -> u32 {
        match self {
            FlushFlags::Full => 0,
            FlushFlags::FileDataOnly => 1,
            FlushFlags::NoSync => 2,
            FlushFlags::FileDataSyncOnly => 4,
        }
    }

    /// Parses an `NtFlushBuffersFileEx` flag value; `None` for combinations NT rejects.
    pub fn from_flags(flags: u32) -> Option<FlushFlags> {
        match flags {
            0 => Some(FlushFlags::Full),
            1 => Some(FlushFlags::FileDataOnly),
            2 => Some(FlushFlags::NoSync),
            4 => Some(FlushFlags::FileDataSyncOnly),
            _ => None,
        }
    }

    /// The minor function code (`IRP_MN_FLUSH_DATA_ONLY` = 2, `NO_SYNC` = 3,
    /// `DATA_SYNC_ONLY` = 4; 0 for a full flush).
    pub fn minor_function(self) -> u8 {
        match self {
            FlushFlags::Full => 0,
            FlushFlags::FileDataOnly => 2,
            FlushFlags::NoSync => 3,
            FlushFlags::FileDataSyncOnly => 4,
        }
    }

    /// Whether the flush must reach the device and sync its cache. A flush whose
    /// flags say "no sync" may be completed above the bottom device.
    pub fn syncs_device(self) -> bool {
        matches!(self, FlushFlags::Full | FlushFlags::FileDataSyncOnly)
    }
}

/// Per-request flags in the stack location (`SL_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct RequestFlags(u8);

impl RequestFlags {
    /// No flags.
    pub const NONE: RequestFlags = RequestFlags(0);
    /// `SL_WRITE_THROUGH`: ForceUnitAccess — the write is durable when it completes.
    #[doc(alias = "SL_WRITE_THROUGH")]
    pub const FORCE_UNIT_ACCESS: RequestFlags = RequestFlags(0x04);
    /// WriteZeroes may deallocate (punch a hole) instead of writing zeroes;
    /// cleared by NBD's `NO_HOLE`.
    pub const MAY_UNMAP: RequestFlags = RequestFlags(0x08);

    /// Whether every flag in `other` is set.
    pub const fn contains(self, other: RequestFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both sets.
    pub const fn union(self, other: RequestFlags) -> RequestFlags {
        RequestFlags(self.0 | other.0)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl std::ops::BitOr for RequestFlags {
    type Output = RequestFlags;
    fn bitor(self, rhs: RequestFlags) -> RequestFlags {
        self.union(rhs)
    }
}

/// Information classes for QueryInformation / SetInformation on a device or file
/// (`FILE_INFORMATION_CLASS`). A query's answer is a
/// [`FileInformation`](crate::file::FileInformation) in the system buffer; a set carries a
/// [`SetFileInformation`](crate::file::SetFileInformation) in [`Parameters::SetFile`].
#[doc(alias = "FILE_INFORMATION_CLASS")]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum InformationClass {
    /// `FileStandardInformation`: sizes, links, delete pending, directory. A disk answers
    /// its size in `information` only; a file system also fills the system buffer.
    Standard,
    /// `FileEndOfFileInformation` (SetInformation): truncate or extend.
    EndOfFile,
    /// `FileBasicInformation`: timestamps and attributes.
    Basic,
    /// `FileRenameInformation` (SetInformation).
    Rename,
    /// `FileDispositionInformation` (SetInformation): delete on close.
    Disposition,
    /// `FileDispositionInformationEx` (SetInformation): delete on close, or POSIX-style
    /// when this handle is closed.
    DispositionEx,
    /// `FileAllocationInformation` (SetInformation): allocate without changing the size.
    Allocation,
    /// `FileLinkInformation` (SetInformation): another name.
    Link,
    /// irpstack's stat class ([`FileStatInformation`](crate::file::FileStatInformation)),
    /// NT's `FileStatLxInformation`.
    Stat,
    /// irpstack's POSIX class (SetInformation): mode and owner (`chmod`, `chown`).
    Posix,
    /// A driver-defined class.
    Other(u32),
}

impl InformationClass {
    /// The `FILE_INFORMATION_CLASS` value (NT's numbers; irpstack's own classes from
    /// `0x8000_0000`).
    pub fn code(self) -> u32 {
        match self {
            InformationClass::Basic => 4,
            InformationClass::Standard => 5,
            InformationClass::Rename => 10,
            InformationClass::Link => 11,
            InformationClass::Disposition => 13,
            InformationClass::DispositionEx => 64,
            InformationClass::Allocation => 19,
            InformationClass::EndOfFile => 20,
            InformationClass::Stat => 70,
            InformationClass::Posix => 0x8000_0001,
            InformationClass::Other(code) => code,
        }
    }
}

/// The parameters of the current stack location (`IO_STACK_LOCATION.Parameters`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Parameters {
    /// No parameters (Flush, Shutdown, Close, Cleanup, ...).
    #[default]
    None,
    /// `Parameters.Create`: the path is the file object's
    /// ([`FileObject::path`](crate::FileObject::path), NT's `FileObject->FileName`), the
    /// caller's credentials too ([`FileObject::credentials`](crate::FileObject::credentials)).
    Create {
        /// Desired access mask.
        access: crate::Access,
        /// What to do when the name exists or does not.
        disposition: crate::file::CreateDisposition,
        /// Create options.
        options: crate::file::CreateOptions,
        /// Permission bits of a file the open creates.
        mode: u32,
    },
    /// `Parameters.Read`: the buffer is the IRP's MDL (direct I/O).
    Read {
        /// Byte offset on the device or file.
        offset: u64,
        /// Byte count.
        length: u32,
    },
    /// `Parameters.Write`: the data is the IRP's MDL (direct I/O).
    Write {
        /// Byte offset on the device or file.
        offset: u64,
        /// Byte count.
        length: u32,
    },
    /// A block discard (TRIM): the range may read back as zeroes or old data.
    Discard {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: u64,
    },
    /// Write zeroes over a range.
    WriteZeroes {
        /// Byte offset.
        offset: u64,
        /// Byte count.
        length: u64,
    },
    /// `Parameters.QueryFile`: a QueryInformation of `class` (the answer goes in the
    /// system buffer; a disk answers a `Standard` query with its size in `information`).
    Information {
        /// The information class.
        class: InformationClass,
        /// Unused by queries (0); kept for driver-defined classes.
        value: u64,
    },
    /// `Parameters.SetFile` with its buffer: a SetInformation request.
    SetFile(Box<crate::file::SetFileInformation>),
    /// `Parameters.DeviceIoControl`: input in the system buffer, output written back to it.
    DeviceControl {
        /// The control code.
        code: u32,
        /// How many bytes the caller accepts back.
        output_length: u32,
    },
    /// `Parameters.QueryDirectory` (minor `IRP_MN_QUERY_DIRECTORY`).
    Directory(Box<crate::file::QueryDirectory>),
    /// `Parameters.FileSystemControl` with its buffer: an irpstack file-system control.
    FsControl(Box<crate::file::FsControl>),
    /// `Parameters.QueryVolume`: a QueryVolumeInformation of `class`.
    QueryVolume {
        /// The class.
        class: crate::file::VolumeInformationClass,
    },
}
