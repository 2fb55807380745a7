//! Where mkfs puts things: groups, their superblock backups (sparse_super), descriptor
//! table, bitmaps and inode table (each group's own, which flex_bg permits), and the
//! first data blocks of group 0 for the root directory, lost+found and the journal.

/// Block size mkfs formats with.
pub const BLOCK_SIZE: u64 = 4096;
/// Blocks (and clusters) per group: one bitmap block's bits.
pub const BLOCKS_PER_GROUP: u64 = BLOCK_SIZE * 8;
/// Inode size.
pub const INODE_SIZE: u64 = 256;
/// Blocks of lost+found (16 KiB, like mke2fs).
pub const LPF_BLOCKS: u64 = 4;

/// One group's metadata placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLayout {
    /// First block of the group.
    pub start: u64,
    /// Blocks in the group (the last may be short).
    pub blocks: u64,
    /// A superblock and descriptor table copy starts the group.
    pub has_super: bool,
    /// Block bitmap.
    pub block_bitmap: u64,
    /// Inode bitmap.
    pub inode_bitmap: u64,
    /// First inode table block.
    pub inode_table: u64,
    /// First block after the metadata.
    pub data_start: u64,
}

/// The whole volume's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Blocks in the file system.
    pub blocks: u64,
    /// Inodes per group (a multiple of 16, so the table is whole blocks).
    pub inodes_per_group: u32,
    /// Blocks of one inode table.
    pub itable_blocks: u64,
    /// Blocks of the descriptor table.
    pub gdt_blocks: u64,
    /// Groups.
    pub groups: Vec<GroupLayout>,
    /// Journal blocks.
    pub journal_blocks: u64,
    /// Root directory block.
    pub root_block: u64,
    /// First of lost+found's blocks.
    pub lpf_block: u64,
    /// First journal block.
    pub journal_block: u64,
}

/// sparse_super: groups 0, 1 and powers of 3, 5 and 7 carry backups.
pub fn has_super(g: u64) -> bool {
    fn power_of(mut n: u64, base: u64) -> bool {
        while n > 1 && n.is_multiple_of(base) {
            n /= base;
        }
        n == 1
    }
    g <= 1 || power_of(g, 3) || power_of(g, 5) || power_of(g, 7)
}

/// mke2fs's default journal size for a volume of `blocks` 4 KiB blocks.
pub fn default_journal_blocks(blocks: u64) -> u64 {
    if blocks < 32_768 {
        1024
    } else if blocks < 262_144 {
        4096
    } else if blocks < 524_288 {
        8192
    } else {
        16_384
    }
}

/// Plans a volume of `device_blocks` blocks with one inode per `inode_ratio` bytes.
/// None if it is too small to hold the metadata, the journal and the root.
pub fn plan(device_blocks: u64, inode_ratio: u64, journal_blocks: Option<u64>) -> Option<Layout> {
    let mut blocks = device_blocks.min(u64::from(u32::MAX));
    let mut ngroups = blocks.div_ceil(BLOCKS_PER_GROUP);
    // A short last group must hold its own metadata with room to spare; else drop it.
    if ngroups > 1 && blocks - (ngroups - 1) * BLOCKS_PER_GROUP < 1024 {
        ngroups -= 1;
        blocks = ngroups * BLOCKS_PER_GROUP;
    }
    let inodes = (blocks * BLOCK_SIZE / inode_ratio.max(1024)).max(16 * ngroups);
    let ipg = inodes.div_ceil(ngroups).next_multiple_of(16).min(BLOCKS_PER_GROUP);
    let itable_blocks = ipg * INODE_SIZE / BLOCK_SIZE;
    let gdt_blocks = (ngroups * 64).div_ceil(BLOCK_SIZE);
    let journal_blocks = journal_blocks.unwrap_or_else(|| default_journal_blocks(blocks)).min(32_768);
    let mut groups = Vec::new();
    for g in 0..ngroups {
        let start = g * BLOCKS_PER_GROUP;
        let gblocks = (blocks - start).min(BLOCKS_PER_GROUP);
        let sup = has_super(g);
        let block_bitmap = start + if sup { 1 + gdt_blocks } else { 0 };
        let data_start = block_bitmap + 2 + itable_blocks;
        if data_start >= start + gblocks {
            return None;
        }
        groups.push(GroupLayout {
            start,
            blocks: gblocks,
            has_super: sup,
            block_bitmap,
            inode_bitmap: block_bitmap + 1,
            inode_table: block_bitmap + 2,
            data_start,
        });
    }
    let g0 = groups.first()?;
    let root_block = g0.data_start;
    let lpf_block = root_block + 1;
    let journal_block = lpf_block + LPF_BLOCKS;
    if journal_block + journal_blocks > g0.start + g0.blocks {
        return None;
    }
    Some(Layout {
        blocks,
        inodes_per_group: ipg as u32,
        itable_blocks,
        gdt_blocks,
        groups,
        journal_blocks,
        root_block,
        lpf_block,
        journal_block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_super_groups() {
        let with: Vec<u64> = (0..100).filter(|&g| has_super(g)).collect();
        assert_eq!(with, [0, 1, 3, 5, 7, 9, 25, 27, 49, 81]);
    }

    #[test]
    fn sixty_four_mib_is_one_group_like_mke2fs() {
        let l = plan(16384, 16384, None).unwrap();
        assert_eq!(
            (l.groups.len(), l.inodes_per_group, l.itable_blocks, l.journal_blocks),
            (1, 4096, 256, 1024)
        );
        assert!(plan(100, 16384, None).is_none());
        let big = plan(5 * 32768 + 500, 16384, None).unwrap();
        assert_eq!(big.groups.len(), 5, "a 500-block tail group is dropped");
    }
}
