//! The superblock's three feature sets and what this implementation does with each.
//!
//! - An unknown or unsupported INCOMPAT feature means the volume cannot be read correctly:
//!   [`check_features`] refuses it.
//! - An unknown or unsupported RO_COMPAT feature can be read but not written: read-only.
//! - COMPAT features never stop us.

/// `s_feature_compat` bits.
pub mod compat {
    /// Directory preallocation.
    pub const DIR_PREALLOC: u32 = 0x1;
    /// AFS server inodes.
    pub const IMAGIC_INODES: u32 = 0x2;
    /// A journal (inode `s_journal_inum`).
    pub const HAS_JOURNAL: u32 = 0x4;
    /// Extended attributes.
    pub const EXT_ATTR: u32 = 0x8;
    /// Reserved GDT blocks for online growth (inode 7).
    pub const RESIZE_INODE: u32 = 0x10;
    /// Hashed (htree) directories.
    pub const DIR_INDEX: u32 = 0x20;
    /// Lazy block groups.
    pub const LAZY_BG: u32 = 0x40;
    /// Exclude inode (snapshots).
    pub const EXCLUDE_INODE: u32 = 0x80;
    /// Exclude bitmap (snapshots).
    pub const EXCLUDE_BITMAP: u32 = 0x100;
    /// Sparse super block, v2.
    pub const SPARSE_SUPER2: u32 = 0x200;
    /// Fast commits in the journal.
    pub const FAST_COMMIT: u32 = 0x400;
    /// Inode numbers never change.
    pub const STABLE_INODES: u32 = 0x800;
    /// Orphan file.
    pub const ORPHAN_FILE: u32 = 0x1000;
}

/// `s_feature_ro_compat` bits.
pub mod ro_compat {
    /// Superblock backups only in groups 0, 1 and powers of 3, 5, 7.
    pub const SPARSE_SUPER: u32 = 0x1;
    /// Files larger than 2 GiB.
    pub const LARGE_FILE: u32 = 0x2;
    /// B-tree directories (never used).
    pub const BTREE_DIR: u32 = 0x4;
    /// `i_blocks` in file-system blocks for huge files.
    pub const HUGE_FILE: u32 = 0x8;
    /// Group descriptor crc16 checksums.
    pub const GDT_CSUM: u32 = 0x10;
    /// Directories with more than 65000 subdirectories.
    pub const DIR_NLINK: u32 = 0x20;
    /// Large inodes carry `i_extra_isize` fields.
    pub const EXTRA_ISIZE: u32 = 0x40;
    /// Snapshots.
    pub const HAS_SNAPSHOT: u32 = 0x80;
    /// Quota inodes.
    pub const QUOTA: u32 = 0x100;
    /// Allocation in clusters of blocks.
    pub const BIGALLOC: u32 = 0x200;
    /// crc32c checksums on all metadata.
    pub const METADATA_CSUM: u32 = 0x400;
    /// Replicas.
    pub const REPLICA: u32 = 0x800;
    /// Read-only file system image.
    pub const READONLY: u32 = 0x1000;
    /// Project quotas.
    pub const PROJECT: u32 = 0x2000;
    /// Shared blocks.
    pub const SHARED_BLOCKS: u32 = 0x4000;
    /// fs-verity files.
    pub const VERITY: u32 = 0x8000;
    /// The orphan file holds entries.
    pub const ORPHAN_PRESENT: u32 = 0x10000;
}

/// `s_feature_incompat` bits.
pub mod incompat {
    /// Compression.
    pub const COMPRESSION: u32 = 0x1;
    /// Directory entries carry a file type.
    pub const FILETYPE: u32 = 0x2;
    /// The journal needs replaying.
    pub const RECOVER: u32 = 0x4;
    /// This is an external journal device.
    pub const JOURNAL_DEV: u32 = 0x8;
    /// Meta block groups.
    pub const META_BG: u32 = 0x10;
    /// Files mapped by extent trees.
    pub const EXTENTS: u32 = 0x40;
    /// 64-bit block numbers, 64-byte group descriptors.
    pub const BIT64: u32 = 0x80;
    /// Multiple-mount protection.
    pub const MMP: u32 = 0x100;
    /// Flexible block groups.
    pub const FLEX_BG: u32 = 0x200;
    /// Large xattr values in inodes.
    pub const EA_INODE: u32 = 0x400;
    /// Data in directory entries.
    pub const DIRDATA: u32 = 0x1000;
    /// The checksum seed is stored in `s_checksum_seed`.
    pub const CSUM_SEED: u32 = 0x2000;
    /// Directories over 2 GiB, 3-level htrees.
    pub const LARGEDIR: u32 = 0x4000;
    /// Data inside the inode.
    pub const INLINE_DATA: u32 = 0x8000;
    /// Encrypted files.
    pub const ENCRYPT: u32 = 0x10000;
    /// Case-insensitive names.
    pub const CASEFOLD: u32 = 0x20000;
}

const COMPAT_NAMES: &[(u32, &str)] = &[
    (compat::DIR_PREALLOC, "dir_prealloc"),
    (compat::IMAGIC_INODES, "imagic_inodes"),
    (compat::HAS_JOURNAL, "has_journal"),
    (compat::EXT_ATTR, "ext_attr"),
    (compat::RESIZE_INODE, "resize_inode"),
    (compat::DIR_INDEX, "dir_index"),
    (compat::LAZY_BG, "lazy_bg"),
    (compat::EXCLUDE_INODE, "exclude_inode"),
    (compat::EXCLUDE_BITMAP, "exclude_bitmap"),
    (compat::SPARSE_SUPER2, "sparse_super2"),
    (compat::FAST_COMMIT, "fast_commit"),
    (compat::STABLE_INODES, "stable_inodes"),
    (compat::ORPHAN_FILE, "orphan_file"),
];

const RO_COMPAT_NAMES: &[(u32, &str)] = &[
    (ro_compat::SPARSE_SUPER, "sparse_super"),
    (ro_compat::LARGE_FILE, "large_file"),
    (ro_compat::BTREE_DIR, "btree_dir"),
    (ro_compat::HUGE_FILE, "huge_file"),
    (ro_compat::GDT_CSUM, "uninit_bg"),
    (ro_compat::DIR_NLINK, "dir_nlink"),
    (ro_compat::EXTRA_ISIZE, "extra_isize"),
    (ro_compat::HAS_SNAPSHOT, "snapshot"),
    (ro_compat::QUOTA, "quota"),
    (ro_compat::BIGALLOC, "bigalloc"),
    (ro_compat::METADATA_CSUM, "metadata_csum"),
    (ro_compat::REPLICA, "replica"),
    (ro_compat::READONLY, "read-only"),
    (ro_compat::PROJECT, "project"),
    (ro_compat::SHARED_BLOCKS, "shared_blocks"),
    (ro_compat::VERITY, "verity"),
    (ro_compat::ORPHAN_PRESENT, "orphan_present"),
];

const INCOMPAT_NAMES: &[(u32, &str)] = &[
    (incompat::COMPRESSION, "compression"),
    (incompat::FILETYPE, "filetype"),
    (incompat::RECOVER, "needs_recovery"),
    (incompat::JOURNAL_DEV, "journal_dev"),
    (incompat::META_BG, "meta_bg"),
    (incompat::EXTENTS, "extent"),
    (incompat::BIT64, "64bit"),
    (incompat::MMP, "mmp"),
    (incompat::FLEX_BG, "flex_bg"),
    (incompat::EA_INODE, "ea_inode"),
    (incompat::DIRDATA, "dirdata"),
    (incompat::CSUM_SEED, "metadata_csum_seed"),
    (incompat::LARGEDIR, "large_dir"),
    (incompat::INLINE_DATA, "inline_data"),
    (incompat::ENCRYPT, "encrypt"),
    (incompat::CASEFOLD, "casefold"),
];

/// INCOMPAT features we read and write. `RECOVER` is accepted here: replaying the journal
/// is the journal layer's job, and [`super::superblock::Superblock::needs_recovery`] tells.
pub const SUPPORTED_INCOMPAT: u32 = incompat::FILETYPE
    | incompat::RECOVER
    | incompat::EXTENTS
    | incompat::BIT64
    | incompat::FLEX_BG
    | incompat::CSUM_SEED;

/// RO_COMPAT features we can also write.
pub const SUPPORTED_RO_COMPAT: u32 = ro_compat::SPARSE_SUPER
    | ro_compat::LARGE_FILE
    | ro_compat::HUGE_FILE
    | ro_compat::GDT_CSUM
    | ro_compat::DIR_NLINK
    | ro_compat::EXTRA_ISIZE
    | ro_compat::METADATA_CSUM;

/// Which of the three sets a feature bit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureSet {
    /// `s_feature_compat`.
    Compat,
    /// `s_feature_ro_compat`.
    RoCompat,
    /// `s_feature_incompat`.
    Incompat,
}

/// The e2fsprogs name of a feature bit, if it is a known one.
pub fn feature_name(set: FeatureSet, bit: u32) -> Option<&'static str> {
    let table = match set {
        FeatureSet::Compat => COMPAT_NAMES,
        FeatureSet::RoCompat => RO_COMPAT_NAMES,
        FeatureSet::Incompat => INCOMPAT_NAMES,
    };
    table.iter().find(|(b, _)| *b == bit).map(|(_, n)| *n)
}

/// Names of every bit set in `mask` (unknown bits as `FEATURE_I31`-style names, like
/// e2fsprogs prints them), in bit order.
pub fn feature_names(set: FeatureSet, mask: u32) -> Vec<String> {
    let prefix = match set {
        FeatureSet::Compat => "C",
        FeatureSet::RoCompat => "R",
        FeatureSet::Incompat => "I",
    };
    (0..32)
        .map(|i| 1u32 << i)
        .filter(|b| mask & b != 0)
        .map(|b| match feature_name(set, b) {
            Some(n) => n.to_string(),
            None => format!("FEATURE_{prefix}{}", b.trailing_zeros()),
        })
        .collect()
}

/// The three feature words of a superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// `s_feature_compat`.
    pub compat: u32,
    /// `s_feature_incompat`.
    pub incompat: u32,
    /// `s_feature_ro_compat`.
    pub ro_compat: u32,
}

/// What the volume may be used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Every feature is supported.
    ReadWrite,
    /// Readable, but writing would break something we do not maintain.
    ReadOnly {
        /// Which RO_COMPAT features, e.g. `"unsupported ro_compat features: quota, FEATURE_R20"`.
        reason: String,
    },
}

/// An INCOMPAT feature we cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported incompat feature {name} (bit {bit:#x}); cannot read this volume")]
pub struct UnsupportedFeature {
    /// The bit (the lowest unsupported one).
    pub bit: u32,
    /// Its name, or `FEATURE_I<n>` if unknown.
    pub name: String,
}

/// Decides whether a volume with these features can be used, and how.
pub fn check_features(f: &Features) -> Result<Access, UnsupportedFeature> {
    let bad = f.incompat & !SUPPORTED_INCOMPAT;
    if bad != 0 {
        let bit = 1u32 << bad.trailing_zeros();
        let name = feature_names(FeatureSet::Incompat, bit).remove(0);
        return Err(UnsupportedFeature { bit, name });
    }
    let ro = f.ro_compat & !SUPPORTED_RO_COMPAT;
    if ro != 0 {
        let names = feature_names(FeatureSet::RoCompat, ro).join(", ");
        return Ok(Access::ReadOnly { reason: format!("unsupported ro_compat features: {names}") });
    }
    Ok(Access::ReadWrite)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: Features = Features {
        compat: compat::HAS_JOURNAL | compat::EXT_ATTR | compat::RESIZE_INODE | compat::DIR_INDEX,
        incompat: incompat::FILETYPE | incompat::EXTENTS | incompat::BIT64 | incompat::FLEX_BG,
        ro_compat: ro_compat::SPARSE_SUPER
            | ro_compat::LARGE_FILE
            | ro_compat::HUGE_FILE
            | ro_compat::DIR_NLINK
            | ro_compat::EXTRA_ISIZE
            | ro_compat::METADATA_CSUM,
    };

    #[test]
    fn debian_defaults_are_read_write() {
        assert_eq!(check_features(&DEBIAN), Ok(Access::ReadWrite));
        let unknown_compat = Features { compat: DEBIAN.compat | 0x8000_0000, ..DEBIAN };
        assert_eq!(check_features(&unknown_compat), Ok(Access::ReadWrite));
    }

    #[test]
    fn unknown_incompat_is_refused_by_bit_and_known_one_by_name() {
        let e = check_features(&Features { incompat: DEBIAN.incompat | 1 << 30, ..DEBIAN }).unwrap_err();
        assert_eq!(e.bit, 1 << 30);
        assert_eq!(e.name, "FEATURE_I30");
        let e = check_features(&Features { incompat: DEBIAN.incompat | incompat::INLINE_DATA, ..DEBIAN })
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported incompat feature inline_data (bit 0x8000); cannot read this volume"
        );
    }

    #[test]
    fn unknown_ro_compat_is_read_only_with_reason() {
        let f = Features { ro_compat: DEBIAN.ro_compat | ro_compat::QUOTA | 1 << 20, ..DEBIAN };
        assert_eq!(
            check_features(&f),
            Ok(Access::ReadOnly { reason: "unsupported ro_compat features: quota, FEATURE_R20".into() })
        );
    }
}
