//! mkfs: formats a [`BlockDevice`] as ext4 with the Debian 12 default features except
//! `resize_inode` (no reserved GDT blocks: the volume cannot be grown online) — has_journal
//! ext_attr dir_index filetype extent 64bit flex_bg sparse_super large_file huge_file
//! dir_nlink extra_isize metadata_csum — with 4 KiB blocks, the root directory,
//! lost+found (inode 11) and an empty journal (inode 8, jbd2 v2 superblock with CSUM_V3).

mod layout;

use crate::device::{BlockDevice, DeviceIoError};
use crate::jbd2::features::{INCOMPAT_64BIT, INCOMPAT_CSUM_V3};
use crate::jbd2::{Features, JournalSuperblock};
use crate::ondisk::bitmap::{block_bitmap_csum, inode_bitmap_csum, set_bit};
use crate::ondisk::dirent::{DirEntry, FileType, encode_block, rec_len_for, set_dirblock_csum};
use crate::ondisk::extent::{Extent, ExtentHeader, ExtentNode};
use crate::ondisk::features::{compat, incompat, ro_compat};
use crate::ondisk::group_desc::{BG_INODE_UNINIT, BG_INODE_ZEROED, GroupDesc};
use crate::ondisk::inode::{Inode, JOURNAL_INO, LOST_AND_FOUND_INO, ROOT_INO, flags, mode};
use crate::ondisk::superblock::{CHECKSUM_TYPE_CRC32C, EXT4_MAGIC, FLAG_SIGNED_HASH, Superblock};

use layout::{BLOCK_SIZE, BLOCKS_PER_GROUP, INODE_SIZE, LPF_BLOCKS};
pub use layout::{Layout, default_journal_blocks, has_super, plan};

/// What to format with.
#[derive(Debug, Clone)]
pub struct MkfsOptions {
    /// Volume UUID (also the journal's).
    pub uuid: [u8; 16],
    /// Directory hash seed.
    pub hash_seed: [u32; 4],
    /// Volume label (NUL-padded).
    pub volume_name: [u8; 16],
    /// Creation time (seconds since the epoch) for the superblock and inodes.
    pub time: u32,
    /// Bytes per inode.
    pub inode_ratio: u64,
    /// Journal size in blocks (None: mke2fs's default for the size).
    pub journal_blocks: Option<u64>,
}

impl MkfsOptions {
    /// Options with identifiers derived from `seed` (callers pick a random one) and the
    /// current time.
    pub fn from_seed(seed: u64) -> MkfsOptions {
        let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut uuid = [0u8; 16];
        uuid[..8].copy_from_slice(&next().to_le_bytes());
        uuid[8..].copy_from_slice(&next().to_le_bytes());
        uuid[6] = (uuid[6] & 0x0F) | 0x40; // version 4
        uuid[8] = (uuid[8] & 0x3F) | 0x80; // RFC 4122 variant
        let hash_seed = [next() as u32, next() as u32, next() as u32, next() as u32];
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        MkfsOptions { uuid, hash_seed, volume_name: [0; 16], time, inode_ratio: 16384, journal_blocks: None }
    }
}

/// Why mkfs failed.
#[derive(Debug, thiserror::Error)]
pub enum MkfsError {
    /// The device failed.
    #[error(transparent)]
    Device(#[from] DeviceIoError),
    /// Too small for the metadata, the journal and the root directory.
    #[error("a {0}-byte device is too small for an ext4 volume with a journal")]
    TooSmall(u64),
}

/// Formats `dev`; returns the superblock written.
pub fn mkfs<D: BlockDevice + ?Sized>(dev: &D, opts: &MkfsOptions) -> Result<Superblock, MkfsError> {
    let l = plan(dev.size() / BLOCK_SIZE, opts.inode_ratio, opts.journal_blocks)
        .ok_or(MkfsError::TooSmall(dev.size()))?;
    let bs = BLOCK_SIZE as usize;
    let ipg = l.inodes_per_group;
    let mut sb = superblock(&l, opts);
    let seed = sb.csum_seed();

    // Inode tables (zeroed: the groups say ITABLE_ZEROED), the journal's blocks.
    let zeros = vec![0u8; 256 * bs];
    let zero = |start: u64, count: u64| -> Result<(), DeviceIoError> {
        let mut b = start;
        while b < start + count {
            let n = (start + count - b).min(256);
            dev.write_at(b * BLOCK_SIZE, &zeros[..n as usize * bs])?;
            b += n;
        }
        Ok(())
    };
    for g in &l.groups {
        zero(g.inode_table, l.itable_blocks)?;
    }
    zero(l.journal_block, l.journal_blocks)?;

    // Directories, the journal superblock and the three inodes.
    // Small directories are linear (no INDEX flag).
    let dir_inode =
        |m: u16, links: u16, block: u64, nblocks: u64| new_inode(m, links, block, nblocks, opts.time);
    let root = dir_inode(mode::S_IFDIR | 0o755, 3, l.root_block, 1);
    let lpf = dir_inode(mode::S_IFDIR | 0o700, 2, l.lpf_block, LPF_BLOCKS);
    let journal = new_inode(mode::S_IFREG | 0o600, 1, l.journal_block, l.journal_blocks, opts.time);
    let dot = |ino: u32, rec: usize, name: &[u8]| DirEntry {
        inode: ino,
        rec_len: rec as u32,
        file_type: FileType::Directory,
        name: name.to_vec(),
    };
    let mut block = vec![0u8; bs];
    let space = bs - 12;
    encode_block(
        &[
            dot(ROOT_INO, 12, b"."),
            dot(ROOT_INO, 12, b".."),
            dot(LOST_AND_FOUND_INO, space - 24, b"lost+found"),
        ],
        &mut block,
        true,
    );
    set_dirblock_csum(&mut block, root.csum_seed(seed, ROOT_INO));
    dev.write_at(l.root_block * BLOCK_SIZE, &block)?;
    for i in 0..LPF_BLOCKS {
        block.fill(0);
        let entries = if i == 0 {
            vec![dot(LOST_AND_FOUND_INO, 12, b"."), dot(ROOT_INO, space - 12, b"..")]
        } else {
            vec![DirEntry { inode: 0, rec_len: space as u32, file_type: FileType::Unknown, name: vec![] }]
        };
        debug_assert!(entries.iter().all(|e| e.rec_len as usize >= rec_len_for(e.name.len())));
        encode_block(&entries, &mut block, true);
        set_dirblock_csum(&mut block, lpf.csum_seed(seed, LOST_AND_FOUND_INO));
        dev.write_at((l.lpf_block + i) * BLOCK_SIZE, &block)?;
    }
    // An internal journal with checksums v3 and 64-bit block numbers, as the kernel sets them.
    let features = Features { compat: 0, incompat: INCOMPAT_64BIT | INCOMPAT_CSUM_V3, ro_compat: 0 };
    let jsb = JournalSuperblock::new(BLOCK_SIZE as u32, l.journal_blocks as u32, opts.uuid, features);
    dev.write_at(l.journal_block * BLOCK_SIZE, &jsb.encode())?;
    sb.jnl_blocks = std::array::from_fn(|i| match i {
        0..15 => crate::ondisk::inode::i_block_word(&journal.block, i),
        15 => (journal.size >> 32) as u32,
        _ => journal.size as u32,
    });
    let table = l.groups[0].inode_table * BLOCK_SIZE;
    for (ino, mut inode) in [(ROOT_INO, root), (JOURNAL_INO, journal), (LOST_AND_FOUND_INO, lpf)] {
        inode.update_checksum(seed, ino, INODE_SIZE as usize);
        dev.write_at(table + u64::from(ino - 1) * INODE_SIZE, &inode.encode(INODE_SIZE as usize))?;
    }

    // Bitmaps and descriptors.
    let used_data0 = 1 + LPF_BLOCKS + l.journal_blocks;
    let mut descs = Vec::new();
    let (mut free_blocks, mut free_inodes) = (0u64, 0u64);
    for (g, gl) in l.groups.iter().enumerate() {
        let mut bb = vec![0u8; bs];
        let used_to = gl.data_start + if g == 0 { used_data0 } else { 0 };
        for b in 0..BLOCKS_PER_GROUP {
            if gl.start + b < used_to || b >= gl.blocks {
                set_bit(&mut bb, b);
            }
        }
        let mut ib = vec![0u8; bs];
        let used_inodes = if g == 0 { LOST_AND_FOUND_INO } else { 0 };
        for i in (0..used_inodes).chain(ipg..BLOCKS_PER_GROUP as u32) {
            set_bit(&mut ib, u64::from(i));
        }
        let gfree = gl.blocks - (used_to - gl.start);
        free_blocks += gfree;
        free_inodes += u64::from(ipg - used_inodes);
        let mut gd = GroupDesc {
            block_bitmap: gl.block_bitmap,
            inode_bitmap: gl.inode_bitmap,
            inode_table: gl.inode_table,
            free_blocks_count: gfree as u32,
            free_inodes_count: ipg - used_inodes,
            used_dirs_count: if g == 0 { 2 } else { 0 },
            flags: BG_INODE_ZEROED | if g == 0 { 0 } else { BG_INODE_UNINIT },
            itable_unused: ipg - used_inodes,
            ..GroupDesc::default()
        };
        gd.block_bitmap_csum = block_bitmap_csum(&bb, &sb).unwrap_or(0);
        gd.inode_bitmap_csum = inode_bitmap_csum(&ib, &sb).unwrap_or(0);
        gd.update_checksum(&sb, g as u32);
        dev.write_at(gl.block_bitmap * BLOCK_SIZE, &bb)?;
        dev.write_at(gl.inode_bitmap * BLOCK_SIZE, &ib)?;
        descs.push(gd);
    }
    sb.free_blocks_count = free_blocks;
    sb.free_inodes_count = free_inodes as u32;
    let mut gdt = vec![0u8; l.gdt_blocks as usize * bs];
    for (g, gd) in descs.iter().enumerate() {
        gdt[g * 64..(g + 1) * 64].copy_from_slice(&gd.encode(64));
    }

    // Superblock and descriptor table in every group that carries a copy.
    for (g, gl) in l.groups.iter().enumerate().filter(|(_, gl)| gl.has_super) {
        let mut copy = sb.clone();
        copy.block_group_nr = g as u16;
        copy.update_checksum();
        let mut first = vec![0u8; bs];
        let at = if g == 0 { 1024 } else { 0 };
        first[at..at + 1024].copy_from_slice(&copy.encode());
        dev.write_at(gl.start * BLOCK_SIZE, &first)?;
        dev.write_at((gl.start + 1) * BLOCK_SIZE, &gdt)?;
    }
    dev.flush()?;
    sb.update_checksum();
    Ok(sb)
}

/// An in-use inode whose data is `nblocks` contiguous blocks at `block` (one extent).
fn new_inode(m: u16, links: u16, block: u64, nblocks: u64, time: u32) -> Inode {
    let mut i = Inode::zeroed();
    i.mode = m;
    i.links_count = links;
    i.size = nblocks * BLOCK_SIZE;
    i.blocks = nblocks * (BLOCK_SIZE / 512);
    i.flags = flags::EXTENTS;
    (i.atime, i.ctime, i.mtime, i.crtime) = (time, time, time, time);
    i.extra_isize = 32;
    i.tail = vec![0; INODE_SIZE as usize - 160];
    let ext = Extent { block: 0, len: nblocks as u16, unwritten: false, start: block };
    ExtentNode::Leaf(ExtentHeader { entries: 1, max: 4, depth: 0, generation: 0 }, vec![ext])
        .encode_into(&mut i.block);
    i
}

fn superblock(l: &Layout, o: &MkfsOptions) -> Superblock {
    let mut sb = Superblock::zeroed();
    let ngroups = l.groups.len() as u32;
    sb.inodes_count = l.inodes_per_group * ngroups;
    sb.blocks_count = l.blocks;
    sb.r_blocks_count = l.blocks / 20;
    sb.first_data_block = 0;
    sb.log_block_size = 2;
    sb.log_cluster_size = 2;
    sb.blocks_per_group = BLOCKS_PER_GROUP as u32;
    sb.clusters_per_group = BLOCKS_PER_GROUP as u32;
    sb.inodes_per_group = l.inodes_per_group;
    sb.wtime = o.time;
    sb.max_mnt_count = 0xFFFF;
    sb.magic = EXT4_MAGIC;
    sb.state = 1;
    sb.errors = 1;
    sb.lastcheck = o.time;
    sb.rev_level = 1;
    sb.first_ino = 11;
    sb.inode_size = INODE_SIZE as u16;
    sb.features.compat = compat::HAS_JOURNAL | compat::EXT_ATTR | compat::DIR_INDEX;
    sb.features.incompat = incompat::FILETYPE | incompat::EXTENTS | incompat::BIT64 | incompat::FLEX_BG;
    sb.features.ro_compat = ro_compat::SPARSE_SUPER
        | ro_compat::LARGE_FILE
        | ro_compat::HUGE_FILE
        | ro_compat::DIR_NLINK
        | ro_compat::EXTRA_ISIZE
        | ro_compat::METADATA_CSUM;
    sb.uuid = o.uuid;
    sb.volume_name = o.volume_name;
    sb.journal_inum = JOURNAL_INO;
    sb.hash_seed = o.hash_seed;
    sb.def_hash_version = 1; // half_md4
    sb.jnl_backup_type = 1; // s_jnl_blocks holds the journal inode's i_block
    sb.desc_size = 64;
    sb.default_mount_opts = 0x0004 | 0x0008; // user_xattr, acl
    sb.mkfs_time = o.time;
    sb.min_extra_isize = 32;
    sb.want_extra_isize = 32;
    sb.flags = FLAG_SIGNED_HASH;
    sb.log_groups_per_flex = 4;
    sb.checksum_type = CHECKSUM_TYPE_CRC32C;
    sb
}
