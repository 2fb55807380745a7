//! The shape of a volume, taken from its superblock once at mount: block and group sizes,
//! where the descriptor table and the backups are, which checksums are kept.

use crate::ondisk::features::{compat, incompat, ro_compat};
use crate::ondisk::superblock::Superblock;

/// What every layer of the write path needs to know about the volume's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Block size in bytes.
    pub bs: u32,
    /// Blocks in the volume.
    pub blocks_count: u64,
    /// First block of group 0 (1 with 1 KiB blocks, else 0).
    pub first_data_block: u64,
    /// Blocks per group.
    pub bpg: u32,
    /// Inodes per group.
    pub ipg: u32,
    /// Inodes in the volume.
    pub inodes_count: u32,
    /// On-disk inode size.
    pub inode_size: u16,
    /// Number of groups.
    pub groups: u32,
    /// Group descriptor size.
    pub desc_size: u16,
    /// Blocks of the group descriptor table.
    pub gdt_blocks: u64,
    /// Reserved GDT blocks after the table (resize_inode).
    pub reserved_gdt: u64,
    /// First non-reserved inode.
    pub first_ino: u32,
    /// metadata_csum.
    pub metadata_csum: bool,
    /// uninit_bg (crc16 descriptors) without metadata_csum.
    pub gdt_csum: bool,
    /// sparse_super: backups only in groups 0, 1 and powers of 3, 5 and 7.
    pub sparse_super: bool,
    /// sparse_super2: backups only in the groups `backup_bgs` names.
    pub sparse_super2: Option<[u32; 2]>,
    /// Directory entries carry a file type.
    pub filetype: bool,
    /// Blocks of one inode table.
    pub itable_blocks: u64,
}

impl Geometry {
    /// Reads the geometry from a superblock that [`Superblock::decode`] accepted.
    pub fn from_superblock(sb: &Superblock) -> Geometry {
        let bs = sb.block_size();
        let groups = sb.group_count();
        let ds = sb.desc_size();
        let ipg = sb.inodes_per_group;
        let isz = sb.inode_size();
        Geometry {
            bs,
            blocks_count: sb.blocks_count,
            first_data_block: u64::from(sb.first_data_block),
            bpg: sb.blocks_per_group,
            ipg,
            inodes_count: sb.inodes_count,
            inode_size: isz,
            groups,
            desc_size: ds,
            gdt_blocks: (u64::from(groups) * u64::from(ds)).div_ceil(u64::from(bs)),
            reserved_gdt: if sb.features.compat & compat::RESIZE_INODE != 0 {
                u64::from(sb.reserved_gdt_blocks)
            } else {
                0
            },
            first_ino: sb.first_ino(),
            metadata_csum: sb.has_metadata_csum(),
            gdt_csum: sb.has_gdt_csum(),
            sparse_super: sb.features.ro_compat & ro_compat::SPARSE_SUPER != 0,
            sparse_super2: (sb.features.compat & compat::SPARSE_SUPER2 != 0).then_some(sb.backup_bgs),
            filetype: sb.features.incompat & incompat::FILETYPE != 0,
            itable_blocks: (u64::from(ipg) * u64::from(isz)).div_ceil(u64::from(bs)),
        }
    }

    /// Block size as a `usize`.
    pub fn bsz(&self) -> usize {
        self.bs as usize
    }

    /// First block of group `g`.
    pub fn group_start(&self, g: u32) -> u64 {
        self.first_data_block + u64::from(g) * u64::from(self.bpg)
    }

    /// Blocks in group `g` (the last one may be short).
    pub fn group_len(&self, g: u32) -> u64 {
        let start = self.group_start(g);
        self.blocks_count.saturating_sub(start).min(u64::from(self.bpg))
    }

    /// The group holding block `b`.
    pub fn group_of_block(&self, b: u64) -> u32 {
        (b.saturating_sub(self.first_data_block) / u64::from(self.bpg)).min(u64::from(self.groups - 1)) as u32
    }

    /// The group holding inode `ino`.
    pub fn group_of_inode(&self, ino: u32) -> u32 {
        (ino - 1) / self.ipg
    }

    /// Group `g` starts with a superblock backup (and a descriptor table copy).
    pub fn has_super(&self, g: u32) -> bool {
        if g == 0 {
            return true;
        }
        if let Some(b) = self.sparse_super2 {
            return b.contains(&g);
        }
        if !self.sparse_super {
            return true;
        }
        crate::mkfs::has_super(u64::from(g))
    }

    /// Block holding the primary superblock (0, or 1 with 1 KiB blocks).
    pub fn superblock_block(&self) -> u64 {
        1024 / u64::from(self.bs)
    }

    /// Byte offset of the primary superblock within [`Geometry::superblock_block`].
    pub fn superblock_offset(&self) -> usize {
        if self.bs == 1024 { 0 } else { 1024 }
    }

    /// Where group `g`'s descriptor lives: (block, byte offset).
    pub fn desc_location(&self, g: u32) -> (u64, usize) {
        let byte = u64::from(g) * u64::from(self.desc_size);
        (self.first_data_block + 1 + byte / u64::from(self.bs), (byte % u64::from(self.bs)) as usize)
    }

    /// Uninit flags mean something (descriptors are checksummed).
    pub fn uninit_flags(&self) -> bool {
        self.metadata_csum || self.gdt_csum
    }

    /// Block and byte offset of inode `ino` in its group's inode table starting at `table`.
    pub fn inode_location(&self, table: u64, ino: u32) -> (u64, usize) {
        let index = u64::from((ino - 1) % self.ipg);
        let byte = index * u64::from(self.inode_size);
        (table + byte / u64::from(self.bs), (byte % u64::from(self.bs)) as usize)
    }

    /// Extent (and index) entries that fit in one tree block.
    pub fn extents_per_block(&self) -> u16 {
        ((self.bs as usize - 12) / 12) as u16
    }
}
