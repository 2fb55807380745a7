//! What the check finds: one [`Problem`] per inconsistency, an error (e2fsck would have to
//! fix it: exit 4) or a warning (e2fsck reports it and still exits 0: the superblock's free
//! counts, which the kernel updates lazily).

use std::fmt;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Reported, not an error (e2fsck's "no" answers that leave the exit code 0).
    Warning,
    /// An inconsistency left uncorrected (exit 4).
    Error,
}

/// Which part of the volume a problem is in (the e2fsck pass that would find it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Area {
    /// The journal (replay).
    Journal,
    /// The superblock.
    Superblock,
    /// A group descriptor.
    GroupDescriptor,
    /// An inode: its checksum, fields, block map (pass 1).
    Inode,
    /// A block claimed twice (pass 1b).
    DuplicateBlock,
    /// A directory's entries (pass 2).
    Directory,
    /// Directory connectivity: `..`, reachability (pass 3).
    Connectivity,
    /// Link counts (pass 4).
    LinkCount,
    /// The block bitmaps (pass 5).
    BlockBitmap,
    /// The inode bitmaps (pass 5).
    InodeBitmap,
    /// Free and directory counts of groups and the superblock (pass 5).
    Counts,
}

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub area: Area,
    /// What, with the numbers (inode, block, group, expected and found).
    pub detail: String,
}

impl Problem {
    /// An error.
    pub fn error(area: Area, detail: impl Into<String>) -> Problem {
        Problem { severity: Severity::Error, area, detail: detail.into() }
    }

    /// A warning.
    pub fn warning(area: Area, detail: impl Into<String>) -> Problem {
        Problem { severity: Severity::Warning, area, detail: detail.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {:?}: {}", self.area, self.detail)
    }
}

/// Where problems are collected, at most a bounded number per area (a badly damaged
/// volume should not print millions of lines); the rest are counted.
#[derive(Debug, Default)]
pub struct Problems {
    list: Vec<Problem>,
    suppressed: std::collections::BTreeMap<Area, u64>,
}

/// Problems kept per area.
const PER_AREA: usize = 100;

impl Problems {
    /// Records one.
    pub fn push(&mut self, p: Problem) {
        if self.list.iter().filter(|q| q.area == p.area).count() >= PER_AREA {
            *self.suppressed.entry(p.area).or_default() += 1;
            if p.severity == Severity::Error
                && !self.list.iter().any(|q| q.area == p.area && q.severity == Severity::Error)
            {
                self.list.push(p);
            }
            return;
        }
        self.list.push(p);
    }

    /// Records an error.
    pub fn error(&mut self, area: Area, detail: impl Into<String>) {
        self.push(Problem::error(area, detail));
    }

    /// Records a warning.
    pub fn warning(&mut self, area: Area, detail: impl Into<String>) {
        self.push(Problem::warning(area, detail));
    }

    /// What was kept, and how many more were found per area.
    pub fn finish(self) -> (Vec<Problem>, Vec<(Area, u64)>) {
        (self.list, self.suppressed.into_iter().collect())
    }
}
