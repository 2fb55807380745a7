//! Context control blocks (fastfat's `CCB`, NT's `FsContext2`): one per open, in the file
//! object's context slot — what was opened, through which name, with which access and
//! options, where a directory enumeration is, and which write-back failures it has seen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use irp::Access;
use irp::file::{CreateOptions, DirectoryEntry};

use super::fcb::{Fcb, Link};
use super::write_errors::SeenErrors;

/// What an open refers to.
#[derive(Debug, Clone)]
pub enum Target {
    /// The volume itself (an empty path): raw reads go to the device below.
    Volume,
    /// A file or directory.
    File(Arc<Fcb>),
}

/// Where a directory enumeration is.
#[derive(Debug, Default)]
pub struct DirScan {
    /// The entries, read at the first query of the scan (or its restart).
    pub snapshot: Option<Vec<DirectoryEntry>>,
    /// The next entry to look at.
    pub position: usize,
    /// The scan's name expression.
    pub pattern: Option<Vec<u8>>,
    /// Whether the scan returned any entry (NT answers `NO_SUCH_FILE`, not `NO_MORE_FILES`,
    /// to a first query that matches nothing).
    pub returned_any: bool,
}

/// One open.
#[doc(alias = "CCB")]
#[derive(Debug)]
pub struct Ccb {
    /// What was opened.
    pub target: Target,
    /// The granted access.
    pub access: Access,
    /// The create options.
    pub options: CreateOptions,
    /// How far this open has seen the volume's write-back failures.
    pub errors_seen: SeenErrors,
    link: Mutex<Option<Link>>,
    posix_delete: AtomicBool,
    scan: Mutex<DirScan>,
    cleaned_up: AtomicBool,
    closed: AtomicBool,
}

impl Ccb {
    /// An open of `target`.
    pub fn new(target: Target, access: Access, options: CreateOptions) -> Ccb {
        Ccb {
            target,
            access,
            options,
            errors_seen: SeenErrors::default(),
            link: Mutex::new(None),
            posix_delete: AtomicBool::new(false),
            scan: Mutex::new(DirScan::default()),
            cleaned_up: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// Opened through `link` (the root has none).
    pub fn with_link(self, link: Option<Link>) -> Ccb {
        *self.link.lock().unwrap_or_else(PoisonError::into_inner) = link;
        self
    }

    /// Seeing write-back failures from `seen` on.
    pub fn with_errors_seen(self, seen: SeenErrors) -> Ccb {
        Ccb { errors_seen: seen, ..self }
    }

    /// The name this open went through (changed by a rename through it).
    pub fn link(&self) -> Option<Link> {
        self.link.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The open now goes through `link` (after a rename).
    pub fn set_link(&self, link: Link) {
        *self.link.lock().unwrap_or_else(PoisonError::into_inner) = Some(link);
    }

    /// Asks for (or cancels) the POSIX delete: the name goes when this open is cleaned up.
    pub fn set_posix_delete(&self, delete: bool) {
        self.posix_delete.store(delete, Ordering::Release);
    }

    /// Whether the name goes when this open is cleaned up.
    pub fn posix_delete(&self) -> bool {
        self.posix_delete.load(Ordering::Acquire)
    }

    /// The FCB of a file open.
    pub fn fcb(&self) -> Option<&Arc<Fcb>> {
        match &self.target {
            Target::File(f) => Some(f),
            Target::Volume => None,
        }
    }

    /// The enumeration state, locked.
    pub fn scan(&self) -> MutexGuard<'_, DirScan> {
        self.scan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the open cleaned up; `false` if it already was (a second cleanup is ignored).
    pub fn mark_cleaned_up(&self) -> bool {
        !self.cleaned_up.swap(true, Ordering::AcqRel)
    }

    /// Marks the open closed; `false` if it already was.
    pub fn mark_closed(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    /// Whether the open was cleaned up (its handle is gone).
    pub fn is_cleaned_up(&self) -> bool {
        self.cleaned_up.load(Ordering::Acquire)
    }
}
