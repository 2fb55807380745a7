//! Deliberately broken variants of the file system, for showing that the crash checker
//! (`crashcheck::fs`) catches what each of them breaks.
//!
//! A [`Breakage`] travels in [`MountOptions`](crate::MountOptions) (a hidden field) and is
//! [`Breakage::NONE`] everywhere but in the crash checker's own tests: one naming a
//! [`Broken`] variant can only be made with `Breakage::new`, which exists only when the
//! crate is built with the cargo feature `broken-variants`. Only `crashcheck`'s
//! dev-dependencies turn that feature on, so no binary, stack spec or command line can.

/// What a broken variant gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Broken {
    /// `fsync` and `fdatasync` flush the device but do not commit the journal: what they
    /// were to make durable is still only in the running transaction.
    FsyncSkipsCommit,
    /// File data is held in memory and written only after the commit of the transaction
    /// whose metadata points at it (the reverse of ordered mode).
    DataAfterCommit,
    /// The commit block is written without the flush that makes the transaction's log
    /// blocks (and its ordered data) durable first.
    CommitWithoutFlush,
    /// Journal replay ignores revoke records: a logged copy of a block that was freed (and
    /// perhaps reused) since is written home anyway.
    ReplayIgnoresRevoke,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Broken::FsyncSkipsCommit => "fsync-skips-commit",
            Broken::DataAfterCommit => "data-after-commit",
            Broken::CommitWithoutFlush => "commit-without-flush",
            Broken::ReplayIgnoresRevoke => "replay-ignores-revoke",
        })
    }
}

/// Which broken variant a mount runs, if any (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Breakage(Option<Broken>);

impl Breakage {
    /// The correct file system.
    pub const NONE: Breakage = Breakage(None);

    /// The broken variant `broken` (only with the `broken-variants` feature: for tests).
    #[cfg(feature = "broken-variants")]
    pub fn new(broken: Broken) -> Breakage {
        Breakage(Some(broken))
    }

    /// The variant, if this is not the correct file system.
    pub fn get(self) -> Option<Broken> {
        self.0
    }

    pub(crate) fn is(self, broken: Broken) -> bool {
        self.0 == Some(broken)
    }
}
