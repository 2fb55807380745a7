//! The journal superblock's feature words and what follows from them (tag size, checksums).

use super::error::Jbd2Error;

/// compat: checksum v1 (crc32 of the transaction in the commit block).
pub const COMPAT_CHECKSUM: u32 = 0x1;
/// incompat: the journal has revoke records.
pub const INCOMPAT_REVOKE: u32 = 0x1;
/// incompat: block numbers are 64 bits wide.
pub const INCOMPAT_64BIT: u32 = 0x2;
/// incompat: commit blocks may be written without waiting for the log blocks.
pub const INCOMPAT_ASYNC_COMMIT: u32 = 0x4;
/// incompat: checksum v2.
pub const INCOMPAT_CSUM_V2: u32 = 0x8;
/// incompat: checksum v3 (tag3 with a full 32-bit data checksum).
pub const INCOMPAT_CSUM_V3: u32 = 0x10;
/// incompat: ext4 fast commits share the journal.
pub const INCOMPAT_FAST_COMMIT: u32 = 0x20;

/// The incompat features this code reads and writes.
pub const INCOMPAT_SUPPORTED: u32 =
    INCOMPAT_REVOKE | INCOMPAT_64BIT | INCOMPAT_ASYNC_COMMIT | INCOMPAT_CSUM_V3;

/// The three feature words of a v2 journal superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// `s_feature_compat`.
    pub compat: u32,
    /// `s_feature_incompat`.
    pub incompat: u32,
    /// `s_feature_ro_compat`.
    pub ro_compat: u32,
}

impl Features {
    /// What the Linux kernel sets on an ext4 with `metadata_csum` and `64bit`:
    /// 64BIT | CSUM_V3 (revoke records need no feature bit in practice, but it is set by
    /// the kernel once a revoke block is written; it is harmless to set it up front).
    pub fn kernel_default() -> Features {
        Features { compat: 0, incompat: INCOMPAT_64BIT | INCOMPAT_CSUM_V3 | INCOMPAT_REVOKE, ro_compat: 0 }
    }

    /// Block numbers in tags and revoke records are 64 bits.
    pub fn is_64bit(&self) -> bool {
        self.incompat & INCOMPAT_64BIT != 0
    }

    /// Checksum v3: tag3, descriptor/revoke tails, commit checksum, superblock checksum.
    pub fn csum_v3(&self) -> bool {
        self.incompat & INCOMPAT_CSUM_V3 != 0
    }

    /// Commit blocks may be written before the log blocks are durable.
    pub fn async_commit(&self) -> bool {
        self.incompat & INCOMPAT_ASYNC_COMMIT != 0
    }

    /// Size of a descriptor block tag, without the optional 16-byte UUID.
    pub fn tag_size(&self) -> usize {
        if self.csum_v3() {
            16
        } else if self.is_64bit() {
            12
        } else {
            8
        }
    }

    /// Size of a revoke record.
    pub fn revoke_record_size(&self) -> usize {
        if self.is_64bit() { 8 } else { 4 }
    }

    /// Bytes at the end of descriptor and revoke blocks taken by the tail checksum.
    pub fn tail_size(&self) -> usize {
        if self.csum_v3() { 4 } else { 0 }
    }

    /// Refuses the features this code does not implement: checksum v1 and v2 (superseded
    /// by v3, which every kernel since 3.18 writes), fast commits, unknown bits.
    pub fn check_supported(&self) -> Result<(), Jbd2Error> {
        if self.compat & COMPAT_CHECKSUM != 0 {
            return Err(Jbd2Error::Unsupported {
                what: "COMPAT_CHECKSUM (checksum v1)",
                mask: COMPAT_CHECKSUM,
            });
        }
        if self.incompat & INCOMPAT_CSUM_V2 != 0 {
            return Err(Jbd2Error::Unsupported { what: "INCOMPAT_CSUM_V2", mask: INCOMPAT_CSUM_V2 });
        }
        if self.incompat & INCOMPAT_FAST_COMMIT != 0 {
            return Err(Jbd2Error::Unsupported { what: "INCOMPAT_FAST_COMMIT", mask: INCOMPAT_FAST_COMMIT });
        }
        let unknown = self.incompat & !INCOMPAT_SUPPORTED;
        if unknown != 0 {
            return Err(Jbd2Error::Unsupported { what: "unknown incompat feature", mask: unknown });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_sizes_follow_the_features() {
        let mut f = Features::default();
        assert_eq!((f.tag_size(), f.revoke_record_size(), f.tail_size()), (8, 4, 0));
        f.incompat = INCOMPAT_64BIT;
        assert_eq!((f.tag_size(), f.revoke_record_size()), (12, 8));
        f.incompat |= INCOMPAT_CSUM_V3;
        assert_eq!((f.tag_size(), f.tail_size()), (16, 4));
        f.incompat = INCOMPAT_CSUM_V3;
        assert_eq!((f.tag_size(), f.revoke_record_size()), (16, 4));
    }

    #[test]
    fn unsupported_features_are_refused() {
        assert!(Features::kernel_default().check_supported().is_ok());
        for incompat in [INCOMPAT_CSUM_V2, INCOMPAT_FAST_COMMIT, 0x100] {
            let f = Features { incompat, ..Features::default() };
            assert!(matches!(f.check_supported(), Err(Jbd2Error::Unsupported { .. })));
        }
        let f = Features { compat: COMPAT_CHECKSUM, ..Features::default() };
        assert!(f.check_supported().is_err());
    }
}
