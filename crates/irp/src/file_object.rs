//! File objects and access rights (`FILE_OBJECT`, `ACCESS_MASK`).

use std::any::Any;

use crate::file::Credentials;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Access rights a handle was opened with (`ACCESS_MASK`).
#[doc(alias = "ACCESS_MASK")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Access(u32);

impl Access {
    /// No data access (attributes only).
    pub const NONE: Access = Access(0);
    /// `FILE_READ_DATA`.
    #[doc(alias = "FILE_READ_DATA")]
    pub const READ: Access = Access(0x1);
    /// `FILE_WRITE_DATA`.
    #[doc(alias = "FILE_WRITE_DATA")]
    pub const WRITE: Access = Access(0x2);
    /// `FILE_APPEND_DATA`.
    #[doc(alias = "FILE_APPEND_DATA")]
    pub const APPEND: Access = Access(0x4);
    /// Read and write.
    pub const READ_WRITE: Access = Access(0x3);
    /// `FILE_READ_EA`: read extended attributes.
    #[doc(alias = "FILE_READ_EA")]
    pub const READ_EA: Access = Access(0x8);
    /// `FILE_WRITE_EA`: change extended attributes.
    #[doc(alias = "FILE_WRITE_EA")]
    pub const WRITE_EA: Access = Access(0x10);
    /// `FILE_EXECUTE` (`FILE_TRAVERSE` for a directory): the POSIX `x` bit.
    #[doc(alias = "FILE_EXECUTE")]
    #[doc(alias = "FILE_TRAVERSE")]
    pub const EXECUTE: Access = Access(0x20);
    /// `FILE_READ_ATTRIBUTES`.
    #[doc(alias = "FILE_READ_ATTRIBUTES")]
    pub const READ_ATTRIBUTES: Access = Access(0x80);
    /// `FILE_WRITE_ATTRIBUTES`: change times and attributes.
    #[doc(alias = "FILE_WRITE_ATTRIBUTES")]
    pub const WRITE_ATTRIBUTES: Access = Access(0x100);
    /// `DELETE`: delete or rename the file.
    pub const DELETE: Access = Access(0x1_0000);

    /// Whether all rights in `other` are granted.
    pub const fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the handle may write (write or append), which is what flushing needs
    /// (`NtFlushBuffersFile`).
    pub const fn can_write(self) -> bool {
        self.0 & (Access::WRITE.0 | Access::APPEND.0) != 0
    }

    /// Whether any right would change the file (write, append, write attributes or
    /// extended attributes, delete): what a read-only volume refuses at open.
    pub const fn modifies(self) -> bool {
        self.0
            & (Access::WRITE.0
                | Access::APPEND.0
                | Access::WRITE_EA.0
                | Access::WRITE_ATTRIBUTES.0
                | Access::DELETE.0)
            != 0
    }

    /// The raw mask.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// A mask from raw bits.
    pub const fn from_bits(bits: u32) -> Access {
        Access(bits)
    }
}

impl std::ops::BitOr for Access {
    type Output = Access;
    fn bitor(self, rhs: Access) -> Access {
        Access(self.0 | rhs.0)
    }
}

static NEXT_FILE_ID: AtomicU64 = AtomicU64::new(1);

/// An open instance of a file or device (`FILE_OBJECT`): what a handle refers to and
/// what IRPs for it carry in `IrpSp->FileObject`.
#[doc(alias = "FILE_OBJECT")]
pub struct FileObject {
    id: u64,
    path: String,
    access: Access,
    credentials: Credentials,
    /// The file system's per-open context (`FsContext`), set once at create.
    context: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for FileObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileObject")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("access", &self.access)
            .field("uid", &self.credentials.uid)
            .finish_non_exhaustive()
    }
}

impl FileObject {
    /// A file object for `path` (empty for the device or volume itself), opened by the
    /// calling process ([`Credentials::current`]).
    pub fn new(path: impl Into<String>, access: Access) -> FileObject {
        FileObject::with_credentials(path, access, Credentials::current())
    }

    /// A file object for `path` opened on behalf of `credentials` (a front end serving
    /// another user: FUSE passes the caller's uid and gid).
    pub fn with_credentials(path: impl Into<String>, access: Access, credentials: Credentials) -> FileObject {
        FileObject {
            id: NEXT_FILE_ID.fetch_add(1, Ordering::Relaxed),
            path: path.into(),
            access,
            credentials,
            context: OnceLock::new(),
        }
    }

    /// Who opened it: the user and groups a file system checks mode bits against.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// A process-unique id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The path within the device (`FileName`); empty for a volume open.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether this is an open of the whole volume (or raw device).
    pub fn is_volume(&self) -> bool {
        self.path.is_empty()
    }

    /// Granted access.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Sets the file system's context (`FsContext`); fails if already set.
    pub fn set_context<T: Any + Send + Sync>(&self, context: T) -> Result<(), T> {
        let mut value = Some(context);
        self.context.get_or_init(|| Box::new(value.take().expect("taken once")));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The file system's context, if it is a `T`.
    pub fn context<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.context.get().and_then(|c| c.downcast_ref::<T>())
    }
}
