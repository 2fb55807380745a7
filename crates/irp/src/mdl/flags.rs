//! [`MdlFlags`]: the `MdlFlags` field of an NT MDL, with NT's bit values.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

/// The state bits of an [`Mdl`](super::Mdl) (NT `MDL::MdlFlags`, `MDL_*`), with NT's values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MdlFlags(u16);

impl MdlFlags {
    /// The buffer has a system-space address (set by
    /// [`Mdl::system_address`](super::Mdl::system_address)).
    #[doc(alias = "MDL_MAPPED_TO_SYSTEM_VA")]
    pub const MAPPED_TO_SYSTEM_VA: MdlFlags = MdlFlags(0x1);
    /// The pages are locked in memory (set by
    /// [`Mdl::probe_and_lock`](super::Mdl::probe_and_lock)).
    #[doc(alias = "MDL_PAGES_LOCKED")]
    pub const PAGES_LOCKED: MdlFlags = MdlFlags(0x2);
    /// The buffer is nonpaged memory (`MmBuildMdlForNonPagedPool`).
    #[doc(alias = "MDL_SOURCE_IS_NONPAGED_POOL")]
    pub const SOURCE_IS_NONPAGED_POOL: MdlFlags = MdlFlags(0x4);
    /// The MDL describes a sub-range of another MDL (`IoBuildPartialMdl`).
    #[doc(alias = "MDL_PARTIAL")]
    pub const PARTIAL: MdlFlags = MdlFlags(0x10);
    /// The pages were locked for writing (the device writes to memory).
    #[doc(alias = "MDL_WRITE_OPERATION")]
    pub const WRITE_OPERATION: MdlFlags = MdlFlags(0x80);
    /// The pages are device (I/O space) memory rather than RAM.
    #[doc(alias = "MDL_IO_SPACE")]
    pub const IO_SPACE: MdlFlags = MdlFlags(0x800);

    const NAMES: [(MdlFlags, &'static str); 6] = [
        (Self::MAPPED_TO_SYSTEM_VA, "MAPPED_TO_SYSTEM_VA"),
        (Self::PAGES_LOCKED, "PAGES_LOCKED"),
        (Self::SOURCE_IS_NONPAGED_POOL, "SOURCE_IS_NONPAGED_POOL"),
        (Self::PARTIAL, "PARTIAL"),
        (Self::WRITE_OPERATION, "WRITE_OPERATION"),
        (Self::IO_SPACE, "IO_SPACE"),
    ];

    /// No flags.
    pub const fn empty() -> MdlFlags {
        MdlFlags(0)
    }

    /// The flags from raw NT bits; unknown bits are kept.
    pub const fn from_bits_retain(bits: u16) -> MdlFlags {
        MdlFlags(bits)
    }

    /// The raw NT bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: MdlFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    pub const fn intersects(self, other: MdlFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: MdlFlags) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: MdlFlags) {
        self.0 &= !other.0;
    }
}

impl BitOr for MdlFlags {
    type Output = MdlFlags;
    fn bitor(self, rhs: MdlFlags) -> MdlFlags {
        MdlFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for MdlFlags {
    fn bitor_assign(&mut self, rhs: MdlFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for MdlFlags {
    type Output = MdlFlags;
    fn bitand(self, rhs: MdlFlags) -> MdlFlags {
        MdlFlags(self.0 & rhs.0)
    }
}

impl Not for MdlFlags {
    type Output = MdlFlags;
    fn not(self) -> MdlFlags {
        MdlFlags(!self.0)
    }
}

impl fmt::Debug for MdlFlags {
    /// Prints the set flag names, e.g. `MdlFlags(PAGES_LOCKED | WRITE_OPERATION)`, and any
    /// unknown bits in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MdlFlags(")?;
        let mut rest = self.0;
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !flag.0;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str(" | ")?;
            }
            write!(f, "{rest:#x}")?;
        } else if first {
            f.write_str("empty")?;
        }
        f.write_str(")")
    }
}
