//! The ext4 superblock (`struct ext4_super_block`): 1024 bytes at byte 1024 of the volume,
//! with backups in some groups. Every field is decoded so that encoding reproduces the
//! bytes exactly (the 94 reserved words at 0x284 must be zero).

use super::bytes::{array, put, put_u8, put_u16, put_u32, put_u64, u8_at, u16_at, u32_at, u64_at};
use super::error::{Corruption, FormatError, Result, check_csum, need};
use super::features::{Features, incompat, ro_compat};
use crate::csum::crc32c_raw;

/// Size of the on-disk superblock.
pub const SUPERBLOCK_SIZE: usize = 1024;
/// Byte offset of the primary superblock on the volume.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
/// `s_magic`.
pub const EXT4_MAGIC: u16 = 0xEF53;
/// Offset of `s_checksum`.
const CSUM_OFF: usize = 0x3FC;
/// Offset of `s_reserved` (zero).
const RESERVED_OFF: usize = 0x284;

/// `s_flags`: directory hashes use signed chars.
pub const FLAG_SIGNED_HASH: u32 = 0x1;
/// `s_flags`: directory hashes use unsigned chars.
pub const FLAG_UNSIGNED_HASH: u32 = 0x2;
/// `s_checksum_type` for crc32c.
pub const CHECKSUM_TYPE_CRC32C: u8 = 1;

/// A decoded superblock. Field names follow the kernel's `s_` names; 64-bit quantities split
/// into `_lo`/`_hi` on disk are joined (the `_hi` halves are only stored with `64bit`, but
/// are kept whatever the features say, so encoding is exact).
#[allow(missing_docs)] // the fields are the kernel's, one per on-disk field
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    pub inodes_count: u32,
    pub blocks_count: u64,
    pub r_blocks_count: u64,
    pub free_blocks_count: u64,
    pub free_inodes_count: u32,
    pub first_data_block: u32,
    pub log_block_size: u32,
    pub log_cluster_size: u32,
    pub blocks_per_group: u32,
    pub clusters_per_group: u32,
    pub inodes_per_group: u32,
    pub mtime: u32,
    pub wtime: u32,
    pub mnt_count: u16,
    pub max_mnt_count: u16,
    pub magic: u16,
    pub state: u16,
    pub errors: u16,
    pub minor_rev_level: u16,
    pub lastcheck: u32,
    pub checkinterval: u32,
    pub creator_os: u32,
    pub rev_level: u32,
    pub def_resuid: u16,
    pub def_resgid: u16,
    pub first_ino: u32,
    pub inode_size: u16,
    pub block_group_nr: u16,
    pub features: Features,
    pub uuid: [u8; 16],
    pub volume_name: [u8; 16],
    pub last_mounted: [u8; 64],
    pub algorithm_usage_bitmap: u32,
    pub prealloc_blocks: u8,
    pub prealloc_dir_blocks: u8,
    pub reserved_gdt_blocks: u16,
    pub journal_uuid: [u8; 16],
    pub journal_inum: u32,
    pub journal_dev: u32,
    pub last_orphan: u32,
    pub hash_seed: [u32; 4],
    pub def_hash_version: u8,
    pub jnl_backup_type: u8,
    pub desc_size: u16,
    pub default_mount_opts: u32,
    pub first_meta_bg: u32,
    pub mkfs_time: u32,
    pub jnl_blocks: [u32; 17],
    pub min_extra_isize: u16,
    pub want_extra_isize: u16,
    pub flags: u32,
    pub raid_stride: u16,
    pub mmp_update_interval: u16,
    pub mmp_block: u64,
    pub raid_stripe_width: u32,
    pub log_groups_per_flex: u8,
    pub checksum_type: u8,
    pub encryption_level: u8,
    pub reserved_pad: u8,
    pub kbytes_written: u64,
    pub snapshot_inum: u32,
    pub snapshot_id: u32,
    pub snapshot_r_blocks_count: u64,
    pub snapshot_list: u32,
    pub error_count: u32,
    pub first_error_time: u32,
    pub first_error_ino: u32,
    pub first_error_block: u64,
    pub first_error_func: [u8; 32],
    pub first_error_line: u32,
    pub last_error_time: u32,
    pub last_error_ino: u32,
    pub last_error_line: u32,
    pub last_error_block: u64,
    pub last_error_func: [u8; 32],
    pub mount_opts: [u8; 64],
    pub usr_quota_inum: u32,
    pub grp_quota_inum: u32,
    pub overhead_clusters: u32,
    pub backup_bgs: [u32; 2],
    pub encrypt_algos: [u8; 4],
    pub encrypt_pw_salt: [u8; 16],
    pub lpf_ino: u32,
    pub prj_quota_inum: u32,
    pub checksum_seed: u32,
    pub wtime_hi: u8,
    pub mtime_hi: u8,
    pub mkfs_time_hi: u8,
    pub lastcheck_hi: u8,
    pub first_error_time_hi: u8,
    pub last_error_time_hi: u8,
    pub first_error_errcode: u8,
    pub last_error_errcode: u8,
    pub encoding: u16,
    pub encoding_flags: u16,
    pub orphan_file_inum: u32,
    /// `s_checksum` as stored (crc32c of bytes 0..0x3FC with metadata_csum).
    pub checksum: u32,
}

fn lo_hi(b: &[u8], lo: usize, hi: usize) -> u64 {
    u64::from(u32_at(b, lo)) | u64::from(u32_at(b, hi)) << 32
}

fn words<const N: usize>(b: &[u8], off: usize) -> [u32; N] {
    std::array::from_fn(|i| u32_at(b, off + 4 * i))
}

impl Superblock {
    /// Decodes the 1024 bytes of a superblock, checking only what is needed to trust the
    /// geometry (magic, block size, group sizes); [`Superblock::verify_checksum`] is separate.
    pub fn decode(b: &[u8]) -> Result<Superblock> {
        need("superblock", b, SUPERBLOCK_SIZE)?;
        let sb = Superblock::fields(b);
        sb.validate()?;
        Ok(sb)
    }

    /// Every field zero (not a valid superblock: a start for building one).
    pub fn zeroed() -> Superblock {
        Superblock::fields(&[0; SUPERBLOCK_SIZE])
    }

    fn fields(b: &[u8]) -> Superblock {
        Superblock {
            inodes_count: u32_at(b, 0x00),
            blocks_count: lo_hi(b, 0x04, 0x150),
            r_blocks_count: lo_hi(b, 0x08, 0x154),
            free_blocks_count: lo_hi(b, 0x0C, 0x158),
            free_inodes_count: u32_at(b, 0x10),
            first_data_block: u32_at(b, 0x14),
            log_block_size: u32_at(b, 0x18),
            log_cluster_size: u32_at(b, 0x1C),
            blocks_per_group: u32_at(b, 0x20),
            clusters_per_group: u32_at(b, 0x24),
            inodes_per_group: u32_at(b, 0x28),
            mtime: u32_at(b, 0x2C),
            wtime: u32_at(b, 0x30),
            mnt_count: u16_at(b, 0x34),
            max_mnt_count: u16_at(b, 0x36),
            magic: u16_at(b, 0x38),
            state: u16_at(b, 0x3A),
            errors: u16_at(b, 0x3C),
            minor_rev_level: u16_at(b, 0x3E),
            lastcheck: u32_at(b, 0x40),
            checkinterval: u32_at(b, 0x44),
            creator_os: u32_at(b, 0x48),
            rev_level: u32_at(b, 0x4C),
            def_resuid: u16_at(b, 0x50),
            def_resgid: u16_at(b, 0x52),
            first_ino: u32_at(b, 0x54),
            inode_size: u16_at(b, 0x58),
            block_group_nr: u16_at(b, 0x5A),
            features: Features {
                compat: u32_at(b, 0x5C),
                incompat: u32_at(b, 0x60),
                ro_compat: u32_at(b, 0x64),
            },
            uuid: array(b, 0x68),
            volume_name: array(b, 0x78),
            last_mounted: array(b, 0x88),
            algorithm_usage_bitmap: u32_at(b, 0xC8),
            prealloc_blocks: u8_at(b, 0xCC),
            prealloc_dir_blocks: u8_at(b, 0xCD),
            reserved_gdt_blocks: u16_at(b, 0xCE),
            journal_uuid: array(b, 0xD0),
            journal_inum: u32_at(b, 0xE0),
            journal_dev: u32_at(b, 0xE4),
            last_orphan: u32_at(b, 0xE8),
            hash_seed: words(b, 0xEC),
            def_hash_version: u8_at(b, 0xFC),
            jnl_backup_type: u8_at(b, 0xFD),
            desc_size: u16_at(b, 0xFE),
            default_mount_opts: u32_at(b, 0x100),
            first_meta_bg: u32_at(b, 0x104),
            mkfs_time: u32_at(b, 0x108),
            jnl_blocks: words(b, 0x10C),
            min_extra_isize: u16_at(b, 0x15C),
            want_extra_isize: u16_at(b, 0x15E),
            flags: u32_at(b, 0x160),
            raid_stride: u16_at(b, 0x164),
            mmp_update_interval: u16_at(b, 0x166),
            mmp_block: u64_at(b, 0x168),
            raid_stripe_width: u32_at(b, 0x170),
            log_groups_per_flex: u8_at(b, 0x174),
            checksum_type: u8_at(b, 0x175),
            encryption_level: u8_at(b, 0x176),
            reserved_pad: u8_at(b, 0x177),
            kbytes_written: u64_at(b, 0x178),
            snapshot_inum: u32_at(b, 0x180),
            snapshot_id: u32_at(b, 0x184),
            snapshot_r_blocks_count: u64_at(b, 0x188),
            snapshot_list: u32_at(b, 0x190),
            error_count: u32_at(b, 0x194),
            first_error_time: u32_at(b, 0x198),
            first_error_ino: u32_at(b, 0x19C),
            first_error_block: u64_at(b, 0x1A0),
            first_error_func: array(b, 0x1A8),
            first_error_line: u32_at(b, 0x1C8),
            last_error_time: u32_at(b, 0x1CC),
            last_error_ino: u32_at(b, 0x1D0),
            last_error_line: u32_at(b, 0x1D4),
            last_error_block: u64_at(b, 0x1D8),
            last_error_func: array(b, 0x1E0),
            mount_opts: array(b, 0x200),
            usr_quota_inum: u32_at(b, 0x240),
            grp_quota_inum: u32_at(b, 0x244),
            overhead_clusters: u32_at(b, 0x248),
            backup_bgs: words(b, 0x24C),
            encrypt_algos: array(b, 0x254),
            encrypt_pw_salt: array(b, 0x258),
            lpf_ino: u32_at(b, 0x268),
            prj_quota_inum: u32_at(b, 0x26C),
            checksum_seed: u32_at(b, 0x270),
            wtime_hi: u8_at(b, 0x274),
            mtime_hi: u8_at(b, 0x275),
            mkfs_time_hi: u8_at(b, 0x276),
            lastcheck_hi: u8_at(b, 0x277),
            first_error_time_hi: u8_at(b, 0x278),
            last_error_time_hi: u8_at(b, 0x279),
            first_error_errcode: u8_at(b, 0x27A),
            last_error_errcode: u8_at(b, 0x27B),
            encoding: u16_at(b, 0x27C),
            encoding_flags: u16_at(b, 0x27E),
            orphan_file_inum: u32_at(b, 0x280),
            checksum: u32_at(b, CSUM_OFF),
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(FormatError::invalid("superblock", why));
        if self.magic != EXT4_MAGIC {
            return Err(FormatError::new(
                "superblock",
                Corruption::BadMagic { found: self.magic.into(), expected: EXT4_MAGIC.into() },
            ));
        }
        if self.log_block_size > 6 {
            return bad(format!("s_log_block_size {} (block size over 64 KiB)", self.log_block_size));
        }
        let bs = self.block_size();
        if self.blocks_per_group == 0 || u64::from(self.blocks_per_group) > 8 * u64::from(bs) {
            return bad(format!("{} blocks per group with {bs}-byte blocks", self.blocks_per_group));
        }
        if self.inodes_per_group == 0 || u64::from(self.inodes_per_group) > 8 * u64::from(bs) {
            return bad(format!("{} inodes per group with {bs}-byte blocks", self.inodes_per_group));
        }
        let isz = self.inode_size();
        if isz < 128 || !isz.is_power_of_two() || u32::from(isz) > bs {
            return bad(format!("inode size {isz}"));
        }
        let expect_first = u32::from(bs == 1024);
        if self.first_data_block != expect_first {
            return bad(format!("s_first_data_block {} with {bs}-byte blocks", self.first_data_block));
        }
        if self.blocks_count <= u64::from(self.first_data_block) {
            return bad(format!("{} blocks", self.blocks_count));
        }
        let ds = self.desc_size();
        if self.is_64bit() && (ds < 64 || !ds.is_power_of_two() || ds > 1024) {
            return bad(format!("s_desc_size {ds} with 64bit"));
        }
        if self.inodes_count == 0
            || self.inodes_count > self.inodes_per_group.saturating_mul(self.group_count())
        {
            return bad(format!(
                "{} inodes for {} groups of {}",
                self.inodes_count,
                self.group_count(),
                self.inodes_per_group
            ));
        }
        if self.has_metadata_csum() && self.checksum_type != CHECKSUM_TYPE_CRC32C {
            return bad(format!("s_checksum_type {}, expected 1 (crc32c)", self.checksum_type));
        }
        Ok(())
    }

    /// Encodes into 1024 bytes, with the `checksum` field as it is (see
    /// [`Superblock::update_checksum`]).
    pub fn encode(&self) -> [u8; SUPERBLOCK_SIZE] {
        let mut b = [0u8; SUPERBLOCK_SIZE];
        let lo = |v: u64| v as u32;
        let hi = |v: u64| (v >> 32) as u32;
        put_u32(&mut b, 0x00, self.inodes_count);
        put_u32(&mut b, 0x04, lo(self.blocks_count));
        put_u32(&mut b, 0x08, lo(self.r_blocks_count));
        put_u32(&mut b, 0x0C, lo(self.free_blocks_count));
        put_u32(&mut b, 0x10, self.free_inodes_count);
        put_u32(&mut b, 0x14, self.first_data_block);
        put_u32(&mut b, 0x18, self.log_block_size);
        put_u32(&mut b, 0x1C, self.log_cluster_size);
        put_u32(&mut b, 0x20, self.blocks_per_group);
        put_u32(&mut b, 0x24, self.clusters_per_group);
        put_u32(&mut b, 0x28, self.inodes_per_group);
        put_u32(&mut b, 0x2C, self.mtime);
        put_u32(&mut b, 0x30, self.wtime);
        put_u16(&mut b, 0x34, self.mnt_count);
        put_u16(&mut b, 0x36, self.max_mnt_count);
        put_u16(&mut b, 0x38, self.magic);
        put_u16(&mut b, 0x3A, self.state);
        put_u16(&mut b, 0x3C, self.errors);
        put_u16(&mut b, 0x3E, self.minor_rev_level);
        put_u32(&mut b, 0x40, self.lastcheck);
        put_u32(&mut b, 0x44, self.checkinterval);
        put_u32(&mut b, 0x48, self.creator_os);
        put_u32(&mut b, 0x4C, self.rev_level);
        put_u16(&mut b, 0x50, self.def_resuid);
        put_u16(&mut b, 0x52, self.def_resgid);
        put_u32(&mut b, 0x54, self.first_ino);
        put_u16(&mut b, 0x58, self.inode_size);
        put_u16(&mut b, 0x5A, self.block_group_nr);
        put_u32(&mut b, 0x5C, self.features.compat);
        put_u32(&mut b, 0x60, self.features.incompat);
        put_u32(&mut b, 0x64, self.features.ro_compat);
        put(&mut b, 0x68, &self.uuid);
        put(&mut b, 0x78, &self.volume_name);
        put(&mut b, 0x88, &self.last_mounted);
        put_u32(&mut b, 0xC8, self.algorithm_usage_bitmap);
        put_u8(&mut b, 0xCC, self.prealloc_blocks);
        put_u8(&mut b, 0xCD, self.prealloc_dir_blocks);
        put_u16(&mut b, 0xCE, self.reserved_gdt_blocks);
        put(&mut b, 0xD0, &self.journal_uuid);
        put_u32(&mut b, 0xE0, self.journal_inum);
        put_u32(&mut b, 0xE4, self.journal_dev);
        put_u32(&mut b, 0xE8, self.last_orphan);
        for (i, w) in self.hash_seed.iter().enumerate() {
            put_u32(&mut b, 0xEC + 4 * i, *w);
        }
        put_u8(&mut b, 0xFC, self.def_hash_version);
        put_u8(&mut b, 0xFD, self.jnl_backup_type);
        put_u16(&mut b, 0xFE, self.desc_size);
        put_u32(&mut b, 0x100, self.default_mount_opts);
        put_u32(&mut b, 0x104, self.first_meta_bg);
        put_u32(&mut b, 0x108, self.mkfs_time);
        for (i, w) in self.jnl_blocks.iter().enumerate() {
            put_u32(&mut b, 0x10C + 4 * i, *w);
        }
        put_u32(&mut b, 0x150, hi(self.blocks_count));
        put_u32(&mut b, 0x154, hi(self.r_blocks_count));
        put_u32(&mut b, 0x158, hi(self.free_blocks_count));
        put_u16(&mut b, 0x15C, self.min_extra_isize);
        put_u16(&mut b, 0x15E, self.want_extra_isize);
        put_u32(&mut b, 0x160, self.flags);
        put_u16(&mut b, 0x164, self.raid_stride);
        put_u16(&mut b, 0x166, self.mmp_update_interval);
        put_u64(&mut b, 0x168, self.mmp_block);
        put_u32(&mut b, 0x170, self.raid_stripe_width);
        put_u8(&mut b, 0x174, self.log_groups_per_flex);
        put_u8(&mut b, 0x175, self.checksum_type);
        put_u8(&mut b, 0x176, self.encryption_level);
        put_u8(&mut b, 0x177, self.reserved_pad);
        put_u64(&mut b, 0x178, self.kbytes_written);
        put_u32(&mut b, 0x180, self.snapshot_inum);
        put_u32(&mut b, 0x184, self.snapshot_id);
        put_u64(&mut b, 0x188, self.snapshot_r_blocks_count);
        put_u32(&mut b, 0x190, self.snapshot_list);
        put_u32(&mut b, 0x194, self.error_count);
        put_u32(&mut b, 0x198, self.first_error_time);
        put_u32(&mut b, 0x19C, self.first_error_ino);
        put_u64(&mut b, 0x1A0, self.first_error_block);
        put(&mut b, 0x1A8, &self.first_error_func);
        put_u32(&mut b, 0x1C8, self.first_error_line);
        put_u32(&mut b, 0x1CC, self.last_error_time);
        put_u32(&mut b, 0x1D0, self.last_error_ino);
        put_u32(&mut b, 0x1D4, self.last_error_line);
        put_u64(&mut b, 0x1D8, self.last_error_block);
        put(&mut b, 0x1E0, &self.last_error_func);
        put(&mut b, 0x200, &self.mount_opts);
        put_u32(&mut b, 0x240, self.usr_quota_inum);
        put_u32(&mut b, 0x244, self.grp_quota_inum);
        put_u32(&mut b, 0x248, self.overhead_clusters);
        put_u32(&mut b, 0x24C, self.backup_bgs[0]);
        put_u32(&mut b, 0x250, self.backup_bgs[1]);
        put(&mut b, 0x254, &self.encrypt_algos);
        put(&mut b, 0x258, &self.encrypt_pw_salt);
        put_u32(&mut b, 0x268, self.lpf_ino);
        put_u32(&mut b, 0x26C, self.prj_quota_inum);
        put_u32(&mut b, 0x270, self.checksum_seed);
        put_u8(&mut b, 0x274, self.wtime_hi);
        put_u8(&mut b, 0x275, self.mtime_hi);
        put_u8(&mut b, 0x276, self.mkfs_time_hi);
        put_u8(&mut b, 0x277, self.lastcheck_hi);
        put_u8(&mut b, 0x278, self.first_error_time_hi);
        put_u8(&mut b, 0x279, self.last_error_time_hi);
        put_u8(&mut b, 0x27A, self.first_error_errcode);
        put_u8(&mut b, 0x27B, self.last_error_errcode);
        put_u16(&mut b, 0x27C, self.encoding);
        put_u16(&mut b, 0x27E, self.encoding_flags);
        put_u32(&mut b, 0x280, self.orphan_file_inum);
        debug_assert!(b[RESERVED_OFF + 4..CSUM_OFF].iter().all(|&x| x == 0));
        put_u32(&mut b, CSUM_OFF, self.checksum);
        b
    }

    /// The crc32c of the encoded superblock (`s_checksum` with metadata_csum).
    pub fn compute_checksum(&self) -> u32 {
        superblock_csum(&self.encode())
    }

    /// Sets `checksum` to [`Superblock::compute_checksum`].
    pub fn update_checksum(&mut self) {
        self.checksum = self.compute_checksum();
    }

    /// With metadata_csum, fails unless `s_checksum` matches; without it, always succeeds.
    pub fn verify_checksum(&self) -> Result<()> {
        if !self.has_metadata_csum() {
            return Ok(());
        }
        check_csum("superblock", self.checksum, self.compute_checksum())
    }

    /// Block size in bytes.
    pub fn block_size(&self) -> u32 {
        1024u32 << self.log_block_size.min(6)
    }

    /// Inode size in bytes (128 for revision 0).
    pub fn inode_size(&self) -> u16 {
        if self.rev_level == 0 { 128 } else { self.inode_size }
    }

    /// First non-reserved inode.
    pub fn first_ino(&self) -> u32 {
        if self.rev_level == 0 { 11 } else { self.first_ino }
    }

    /// Group descriptor size: `s_desc_size` with 64bit, else 32.
    pub fn desc_size(&self) -> u16 {
        if self.is_64bit() { self.desc_size } else { 32 }
    }

    /// Number of block groups.
    pub fn group_count(&self) -> u32 {
        let data = self.blocks_count.saturating_sub(u64::from(self.first_data_block));
        let bpg = u64::from(self.blocks_per_group.max(1));
        u32::try_from(data.div_ceil(bpg)).unwrap_or(u32::MAX)
    }

    /// `64bit` is on.
    pub fn is_64bit(&self) -> bool {
        self.features.incompat & incompat::BIT64 != 0
    }

    /// `metadata_csum` is on.
    pub fn has_metadata_csum(&self) -> bool {
        self.features.ro_compat & ro_compat::METADATA_CSUM != 0
    }

    /// `uninit_bg` (crc16 group descriptor checksums) is on, without metadata_csum.
    pub fn has_gdt_csum(&self) -> bool {
        self.features.ro_compat & ro_compat::GDT_CSUM != 0 && !self.has_metadata_csum()
    }

    /// The journal must be replayed before the volume is consistent.
    pub fn needs_recovery(&self) -> bool {
        self.features.incompat & incompat::RECOVER != 0
    }

    /// The seed of every metadata checksum but the superblock's own: `s_checksum_seed`
    /// with `metadata_csum_seed`, else crc32c of the UUID.
    pub fn csum_seed(&self) -> u32 {
        if self.features.incompat & incompat::CSUM_SEED != 0 {
            self.checksum_seed
        } else {
            crc32c_raw(!0, &self.uuid)
        }
    }

    /// Directory hashes treat names as unsigned chars (`s_flags` says unsigned).
    pub fn unsigned_dir_hash(&self) -> bool {
        self.flags & FLAG_UNSIGNED_HASH != 0
    }
}

/// crc32c of a raw 1024-byte superblock up to its checksum field.
pub fn superblock_csum(raw: &[u8]) -> u32 {
    crc32c_raw(!0, super::bytes::slice(raw, 0, CSUM_OFF))
}

#[cfg(test)]
mod tests;
