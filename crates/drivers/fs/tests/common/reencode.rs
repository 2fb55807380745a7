//! encode(decode(bytes)) == bytes for every structure of a real image that our code
//! models: superblock, group descriptors, bitmaps (checksums), every inode in use, every
//! extent block, directory leaf block, dx block and xattr block reachable from the root.

use std::collections::BTreeSet;

use fs::BlockDevice;
use fs::ondisk::bitmap::{verify_block_bitmap, verify_inode_bitmap};
use fs::ondisk::dirent::{encode_block, parse_block, set_dirblock_csum};
use fs::ondisk::extent::{ExtentNode, set_extent_block_csum};
use fs::ondisk::group_desc::{BG_BLOCK_UNINIT, BG_INODE_UNINIT, GroupDesc};
use fs::ondisk::htree::{DxNode, DxRoot, NODE_ENTRIES_OFF, ROOT_ENTRIES_OFF, set_dx_csum};
use fs::ondisk::inode::Inode;
use fs::ondisk::superblock::Superblock;
use fs::ondisk::xattr::{encode_xattr_block, parse_xattr_block, set_xattr_block_csum};
use fs::volume::Volume;

/// Counts of structures checked, by kind.
#[derive(Debug, Default)]
pub struct Checked {
    pub inodes: usize,
    pub extent_blocks: usize,
    pub dir_blocks: usize,
    pub dx_blocks: usize,
    pub xattr_blocks: usize,
    /// Directory blocks whose records hold stale bytes past their names (not modeled):
    /// compared with those bytes zeroed.
    pub dir_blocks_with_slack: usize,
}

/// Panics with the first differing offset (not the whole blocks) if `a != b`.
#[track_caller]
pub fn same(a: &[u8], b: &[u8], what: &str) {
    if a != b {
        let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        let show = |v: &[u8]| v[i.saturating_sub(8).min(v.len())..(i + 8).min(v.len())].to_vec();
        panic!(
            "{what}: first difference at byte {i} (lengths {} and {}): {:?} vs {:?}",
            a.len(),
            b.len(),
            show(a),
            show(b)
        );
    }
}

fn zero_slack(block: &[u8], csum: bool) -> Vec<u8> {
    let mut b = block.to_vec();
    let end = if csum { b.len() - 12 } else { b.len() };
    let mut off = 0;
    while off < end {
        let rec = u16::from_le_bytes([b[off + 4], b[off + 5]]) as usize;
        let name = b[off + 6] as usize;
        b[off + 8 + name..off + rec].fill(0);
        off += rec;
    }
    b
}

/// Checks the whole image; panics on the first difference.
pub fn check_reencode<D: BlockDevice>(vol: &Volume<D>) -> Checked {
    let sb: &Superblock = vol.superblock();
    let dev = vol.device();
    let mut raw = vec![0u8; 1024];
    dev.read_at(1024, &mut raw).unwrap();
    assert_eq!(&Superblock::decode(&raw).unwrap().encode()[..], &raw[..], "superblock");
    let bs = u64::from(sb.block_size());
    let ds = usize::from(sb.desc_size());
    let seed = sb.csum_seed();
    let csum = sb.has_metadata_csum();
    let table = vol.read_blocks(u64::from(sb.first_data_block) + 1, 1, "gdt").unwrap();
    for (g, gd) in vol.groups().iter().enumerate() {
        if (g + 1) * ds <= table.len() {
            let rawd = &table[g * ds..(g + 1) * ds];
            assert_eq!(GroupDesc::decode(rawd, ds).unwrap().encode(ds), rawd, "group {g} descriptor");
        }
        assert_eq!(gd.compute_checksum(sb, g as u32), gd.checksum, "group {g} checksum");
        if gd.flags & BG_BLOCK_UNINIT == 0 {
            verify_block_bitmap(&vol.read_block(gd.block_bitmap, "bb").unwrap(), sb, gd).unwrap();
        }
        if gd.flags & BG_INODE_UNINIT == 0 {
            verify_inode_bitmap(&vol.read_block(gd.inode_bitmap, "ib").unwrap(), sb, gd).unwrap();
        }
    }
    let mut c = Checked::default();
    let isz = usize::from(sb.inode_size());
    let mut dirs = vec![2u32];
    let mut seen = BTreeSet::new();
    let mut inodes: Vec<u32> = vec![2, 7, 8, 11];
    while let Some(d) = dirs.pop() {
        if !seen.insert(d) {
            continue;
        }
        for e in vol.read_dir(d).unwrap() {
            if e.name != b"." && e.name != b".." {
                inodes.push(e.inode);
                if vol.read_inode(e.inode).unwrap().is_dir() {
                    dirs.push(e.inode);
                }
            }
        }
    }
    inodes.sort_unstable();
    inodes.dedup();
    for ino in inodes {
        let rawi = vol.read_inode_raw(ino).unwrap();
        let inode = Inode::decode(&rawi).unwrap();
        if inode.mode == 0 && inode.links_count == 0 {
            continue;
        }
        same(&inode.encode(isz), &rawi, &format!("inode {ino}"));
        if csum {
            assert_eq!(inode.compute_checksum(seed, ino, isz), inode.checksum, "inode {ino} checksum");
        }
        c.inodes += 1;
        let iseed = inode.csum_seed(seed, ino);
        if inode.uses_extents() {
            let mut todo = vec![ExtentNode::decode(&inode.block).unwrap()];
            while let Some(node) = todo.pop() {
                if let ExtentNode::Index(_, idx) = node {
                    for e in idx {
                        let blk = vol.read_block(e.leaf, "extent").unwrap();
                        let n = ExtentNode::decode(&blk).unwrap();
                        let mut again = vec![0u8; bs as usize];
                        n.encode_into(&mut again);
                        // Entries past eh_entries are not modeled: copy them over.
                        let used = 12 * (1 + usize::from(n.header().entries));
                        again[used..].copy_from_slice(&blk[used..]);
                        if csum {
                            set_extent_block_csum(&mut again, iseed).unwrap();
                        }
                        same(&again, &blk, &format!("inode {ino} extent block {}", e.leaf));
                        c.extent_blocks += 1;
                        todo.push(n);
                    }
                }
            }
        }
        if inode.file_acl != 0 {
            let blk = vol.read_block(inode.file_acl, "xattr").unwrap();
            let (h, entries) = parse_xattr_block(&blk).unwrap();
            let mut again = vec![0u8; bs as usize];
            encode_xattr_block(&entries, &h, &mut again).unwrap();
            if csum {
                set_xattr_block_csum(&mut again, seed, inode.file_acl);
            }
            same(&again, &blk, &format!("inode {ino} xattr block"));
            c.xattr_blocks += 1;
        }
        if inode.is_dir() {
            let nblocks = (inode.size / bs) as u32;
            let indexed = inode.flags & fs::ondisk::inode::flags::INDEX != 0;
            let mut dx = BTreeSet::new();
            for lblk in 0..nblocks {
                let fs::volume::Mapping::Mapped { physical, .. } = vol.map_block(ino, &inode, lblk).unwrap()
                else {
                    panic!("hole in directory {ino}")
                };
                let blk = vol.read_block(physical, "dir").unwrap();
                let mut again = vec![0u8; bs as usize];
                if indexed && lblk == 0 {
                    let root = DxRoot::decode(&blk).unwrap();
                    dx.extend(root.entries.iter().map(|e| e.block));
                    if root.info.indirect_levels == 0 {
                        dx.clear();
                    }
                    root.encode_into(&mut again);
                    if csum {
                        set_dx_csum(&mut again, ROOT_ENTRIES_OFF, iseed).unwrap();
                    }
                    // Stale entries past `count` are not modeled.
                    let used = ROOT_ENTRIES_OFF + 8 * root.entries.len();
                    let tail = ROOT_ENTRIES_OFF + 8 * usize::from(root.limit);
                    again[used..tail].copy_from_slice(&blk[used..tail]);
                    same(&again, &blk, &format!("inode {ino} dx_root"));
                    c.dx_blocks += 1;
                } else if dx.contains(&lblk) {
                    let node = DxNode::decode(&blk).unwrap();
                    node.encode_into(&mut again);
                    let used = NODE_ENTRIES_OFF + 8 * node.entries.len();
                    let tail = NODE_ENTRIES_OFF + 8 * usize::from(node.limit);
                    again[used..tail].copy_from_slice(&blk[used..tail]);
                    if csum {
                        set_dx_csum(&mut again, NODE_ENTRIES_OFF, iseed).unwrap();
                    }
                    same(&again, &blk, &format!("inode {ino} dx_node {lblk}"));
                    c.dx_blocks += 1;
                } else {
                    let entries = parse_block(&blk, csum).unwrap();
                    encode_block(&entries, &mut again, csum);
                    if csum {
                        set_dirblock_csum(&mut again, iseed);
                    }
                    if again != blk {
                        let mut expect = zero_slack(&blk, csum);
                        if csum {
                            set_dirblock_csum(&mut expect, iseed);
                        }
                        same(&again, &expect, &format!("inode {ino} directory block {lblk}"));
                        c.dir_blocks_with_slack += 1;
                    }
                    c.dir_blocks += 1;
                }
            }
        }
    }
    c
}
