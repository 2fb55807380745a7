//! File objects and access rights (`FILE_OBJECT`, `ACCESS_MASK`).

use std::any::Any;
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

    /// Whether all rights in `other` are granted.
    pub const fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the handle may write (write or append), which is what flushing needs
    /// (`NtFlushBuffersFile`).
    pub const fn can_write(self) -> bool {
        self.0 & (Access::WRITE.0 | Access::APPEND.0) != 0
    }

    /// The raw mask.
    pub const fn bits(self) -> u32 {
        self.0
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
    /// The file system's per-open context (`FsContext`), set once at create.
    context: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for FileObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileObject")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

impl FileObject {
    /// A file object for `path` (empty for the device or volume itself).
    pub fn new(path: impl Into<String>, access: Access) -> FileObject {
        FileObject {
            id: NEXT_FILE_ID.fetch_add(1, Ordering::Relaxed),
            path: path.into(),
            access,
            context: OnceLock::new(),
        }
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
