//! Pass 1: every inode table, inode by inode — checksums, the fields of inodes in use, and
//! the blocks each one claims (extent trees of any depth or classic block maps, checked to
//! lie inside the volume, with their index and indirect blocks; the xattr block), whose
//! count must equal `i_blocks`.

use super::problem::Area;
use super::space::Owner;
use super::{Check, InodeInfo};
use crate::ondisk::extent::{ExtentNode, MAX_DEPTH, verify_extent_block};
use crate::ondisk::features::{compat, ro_compat};
use crate::ondisk::group_desc::BG_INODE_UNINIT;
use crate::ondisk::inode::{Inode, JOURNAL_INO, RESIZE_INO, ROOT_INO, flags, i_block_word, mode};
use crate::volume::is_fast_symlink;

/// What one inode's block map claims.
#[derive(Debug, Default)]
struct Blocks {
    /// Data, tree, indirect blocks, as runs.
    runs: Vec<(u64, u64)>,
    /// How many blocks that is.
    count: u64,
    /// One past the last logical block mapped.
    logical_end: u64,
}

/// Scans every inode table.
pub(super) fn scan_inodes(c: &mut Check<'_>) {
    let sb = c.vol.superblock().clone();
    let bs = u64::from(c.vol.block_size());
    let isz = usize::from(sb.inode_size());
    let csummed = sb.has_metadata_csum() || sb.has_gdt_csum();
    let groups = c.vol.groups().to_vec();
    for (g, gd) in groups.iter().enumerate() {
        if csummed && gd.flags & BG_INODE_UNINIT != 0 {
            continue;
        }
        let initialized =
            if csummed { sb.inodes_per_group.saturating_sub(gd.itable_unused) } else { sb.inodes_per_group };
        let table_blocks = (u64::from(initialized) * isz as u64).div_ceil(bs);
        if table_blocks == 0 {
            continue;
        }
        let table = match c.vol.read_blocks(gd.inode_table, table_blocks, "inode table") {
            Ok(t) => t,
            Err(e) => {
                c.problems.error(Area::Inode, format!("group {g}: reading the inode table: {e}"));
                continue;
            }
        };
        for i in 0..initialized as usize {
            let ino = g as u32 * sb.inodes_per_group + i as u32 + 1;
            let raw = &table[i * isz..(i + 1) * isz];
            if raw.iter().all(|&b| b == 0) {
                continue;
            }
            check_inode(c, ino, raw);
        }
    }
    check_xattr_blocks(c);
}

fn check_inode(c: &mut Check<'_>, ino: u32, raw: &[u8]) {
    let sb = c.vol.superblock().clone();
    let inode = match Inode::decode(raw) {
        Ok(i) => i,
        Err(e) => {
            c.problems.error(Area::Inode, format!("inode {ino}: {e}"));
            return;
        }
    };
    let reserved = ino < sb.first_ino();
    let journal = sb.features.compat & compat::HAS_JOURNAL != 0 && ino == sb.journal_inum;
    if reserved && ino != ROOT_INO && !journal {
        if ino == RESIZE_INO && sb.features.compat & compat::RESIZE_INODE != 0 {
            // Its double-indirect block lists the reserved descriptor blocks, which are
            // claimed as metadata already.
            let dind = u64::from(i_block_word(&inode.block, 13));
            if dind != 0 {
                claim_checked(c, ino, dind, 1);
            }
        }
        return;
    }
    if inode.links_count == 0 {
        if !reserved && inode.dtime == 0 && inode.mode != 0 {
            c.problems.error(Area::Inode, format!("deleted inode {ino} has zero dtime"));
        }
        return;
    }
    if sb.has_metadata_csum()
        && let Err(e) = inode.verify_checksum(sb.csum_seed(), ino, raw.len())
    {
        c.problems.error(Area::Inode, format!("inode {ino}: {e}"));
    }
    if inode.dtime != 0 && !reserved {
        c.problems.error(Area::Inode, format!("inode {ino} is in use, but has dtime set ({})", inode.dtime));
    }
    let t = inode.mode & mode::S_IFMT;
    let known = [
        mode::S_IFREG,
        mode::S_IFDIR,
        mode::S_IFLNK,
        mode::S_IFCHR,
        mode::S_IFBLK,
        mode::S_IFIFO,
        mode::S_IFSOCK,
    ];
    if !known.contains(&t) {
        c.problems.error(Area::Inode, format!("inode {ino} has an invalid mode {:o}", inode.mode));
    }
    c.inodes.insert(ino, InodeInfo { mode: inode.mode, links: inode.links_count });
    let maps_blocks = matches!(t, mode::S_IFREG | mode::S_IFDIR)
        || (t == mode::S_IFLNK && !is_fast_symlink(&inode, c.vol.block_size()));
    let mut counted = 0u64;
    if maps_blocks {
        let mut blocks = Blocks::default();
        let walked = if inode.uses_extents() {
            walk_extent_node(c, ino, &inode, &inode.block, None, &mut blocks)
        } else if inode.flags & flags::INLINE_DATA != 0 {
            Ok(())
        } else {
            walk_block_map(c, ino, &inode, &mut blocks)
        };
        if let Err(why) = walked {
            c.problems.error(Area::Inode, format!("inode {ino}: {why}"));
        }
        for &(start, len) in &blocks.runs {
            claim_checked(c, ino, start, len);
        }
        counted = blocks.count;
        if t == mode::S_IFDIR {
            let bs = u64::from(c.vol.block_size());
            if inode.size != blocks.logical_end * bs {
                c.problems.error(
                    Area::Inode,
                    format!(
                        "directory inode {ino}: i_size is {}, should be {}",
                        inode.size,
                        blocks.logical_end * bs
                    ),
                );
            }
        }
    }
    if inode.file_acl != 0 {
        if inode.file_acl >= c.vol.superblock().blocks_count
            || inode.file_acl <= u64::from(sb.first_data_block)
        {
            c.problems.error(
                Area::Inode,
                format!("inode {ino}: xattr block {} is outside the volume", inode.file_acl),
            );
        } else {
            c.xattr_refs.entry(inode.file_acl).or_default().push(ino);
            counted += 1;
        }
    }
    let huge = sb.features.ro_compat & ro_compat::HUGE_FILE != 0;
    let sectors = inode.blocks_512(huge, c.vol.block_size());
    let expected = counted * u64::from(c.vol.block_size() / 512);
    if sectors != expected {
        c.problems.error(Area::Inode, format!("inode {ino}: i_blocks is {sectors}, should be {expected}"));
    }
    if t == mode::S_IFDIR {
        c.dirs.push(ino);
    }
}

/// Claims a run for `ino` after checking it lies inside the volume.
fn claim_checked(c: &mut Check<'_>, ino: u32, start: u64, len: u64) {
    if !in_volume(c, start, len) {
        c.problems.error(
            Area::Inode,
            format!("inode {ino}: blocks {start}..{} are outside the volume", start + len),
        );
        return;
    }
    c.claims.claim(start, len, Owner::Inode(ino));
}

/// Whether blocks `start..start + len` lie in the volume (past block 0 and the first data
/// block, before the end).
fn in_volume(c: &Check<'_>, start: u64, len: u64) -> bool {
    let sb = c.vol.superblock();
    start >= u64::from(sb.first_data_block).max(1)
        && start.checked_add(len).is_some_and(|e| e <= sb.blocks_count)
}

/// Walks an extent node (the root in `i_block`, or a block), collecting every extent and
/// tree block.
fn walk_extent_node(
    c: &mut Check<'_>,
    ino: u32,
    inode: &Inode,
    raw: &[u8],
    expect_depth: Option<u16>,
    out: &mut Blocks,
) -> Result<(), String> {
    let node = ExtentNode::decode(raw).map_err(|e| e.to_string())?;
    let depth = node.header().depth;
    if let Some(d) = expect_depth
        && depth != d
    {
        return Err(format!("extent node of depth {depth}, expected {d}"));
    }
    match node {
        ExtentNode::Leaf(_, extents) => {
            let mut prev_end = 0u64;
            for e in extents {
                if e.len == 0 || u64::from(e.block) < prev_end {
                    return Err(format!(
                        "extent at logical block {} overlaps the previous one or is empty",
                        e.block
                    ));
                }
                prev_end = e.end();
                if !in_volume(c, e.start, u64::from(e.len)) {
                    return Err(format!("extent {}+{} is outside the volume", e.start, e.len));
                }
                out.runs.push((e.start, u64::from(e.len)));
                out.count += u64::from(e.len);
                out.logical_end = out.logical_end.max(e.end());
            }
        }
        ExtentNode::Index(_, index) => {
            if depth > MAX_DEPTH {
                return Err(format!("extent tree of depth {depth}"));
            }
            let seed = inode.csum_seed(c.vol.superblock().csum_seed(), ino);
            for e in index {
                if !in_volume(c, e.leaf, 1) {
                    return Err(format!("extent block {} is outside the volume", e.leaf));
                }
                out.runs.push((e.leaf, 1));
                out.count += 1;
                let block = c.vol.read_block(e.leaf, "extent block").map_err(|e| e.to_string())?;
                if c.vol.superblock().has_metadata_csum()
                    && let Err(err) = verify_extent_block(&block, seed)
                {
                    return Err(format!("extent block {}: {err}", e.leaf));
                }
                walk_extent_node(c, ino, inode, &block, Some(depth - 1), out)?;
            }
        }
    }
    Ok(())
}

/// Walks a classic block map: 12 direct blocks, then single, double and triple indirect.
fn walk_block_map(c: &mut Check<'_>, ino: u32, inode: &Inode, out: &mut Blocks) -> Result<(), String> {
    let per = u64::from(c.vol.block_size() / 4);
    for i in 0..12usize {
        let b = u64::from(i_block_word(&inode.block, i));
        if b != 0 {
            take(c, b, out)?;
            out.logical_end = out.logical_end.max(i as u64 + 1);
        }
    }
    let mut first = 12u64;
    for (slot, level) in [(12usize, 1u32), (13, 2), (14, 3)] {
        let b = u64::from(i_block_word(&inode.block, slot));
        let span = per.pow(level);
        if b != 0 {
            walk_indirect(c, ino, b, level, first, out)?;
        }
        first += span;
    }
    Ok(())
}

fn take(c: &Check<'_>, b: u64, out: &mut Blocks) -> Result<(), String> {
    if !in_volume(c, b, 1) {
        return Err(format!("block {b} is outside the volume"));
    }
    out.runs.push((b, 1));
    out.count += 1;
    Ok(())
}

fn walk_indirect(
    c: &mut Check<'_>,
    ino: u32,
    block: u64,
    level: u32,
    first: u64,
    out: &mut Blocks,
) -> Result<(), String> {
    take(c, block, out)?;
    let raw = c.vol.read_block(block, "indirect block").map_err(|e| format!("inode {ino}: {e}"))?;
    let per = u64::from(c.vol.block_size() / 4);
    let span = per.pow(level - 1);
    for i in 0..per as usize {
        let b = u64::from(i_block_word(&raw, i));
        if b == 0 {
            continue;
        }
        let logical = first + i as u64 * span;
        if level == 1 {
            take(c, b, out)?;
            out.logical_end = out.logical_end.max(logical + 1);
        } else {
            walk_indirect(c, ino, b, level - 1, logical, out)?;
        }
    }
    Ok(())
}

/// Every xattr block: its checksum, and a reference count equal to the inodes naming it.
fn check_xattr_blocks(c: &mut Check<'_>) {
    let refs = std::mem::take(&mut c.xattr_refs);
    let sb = c.vol.superblock().clone();
    for (&block, inodes) in &refs {
        c.claims.claim(block, 1, Owner::Inode(inodes[0]));
        let raw = match c.vol.read_block(block, "xattr block") {
            Ok(r) => r,
            Err(e) => {
                c.problems.error(Area::Inode, format!("xattr block {block}: {e}"));
                continue;
            }
        };
        if sb.has_metadata_csum()
            && let Err(e) = crate::ondisk::xattr::verify_xattr_block(&raw, sb.csum_seed(), block)
        {
            c.problems.error(Area::Inode, format!("xattr block {block} (inode {}): {e}", inodes[0]));
            continue;
        }
        match crate::ondisk::xattr::parse_xattr_block(&raw) {
            Err(e) => c.problems.error(Area::Inode, format!("xattr block {block}: {e}")),
            Ok((header, _)) if header.refcount as usize != inodes.len() => c.problems.error(
                Area::Inode,
                format!(
                    "xattr block {block}: reference count {}, should be {} ({inodes:?})",
                    header.refcount,
                    inodes.len()
                ),
            ),
            Ok(_) => {}
        }
    }
    c.xattr_refs = refs;
}

/// The journal inode must exist when the volume has a journal.
pub(super) fn check_special(c: &mut Check<'_>) {
    let sb = c.vol.superblock().clone();
    if !c.inodes.contains_key(&ROOT_INO) {
        c.problems.error(Area::Inode, "the root inode is not in use");
    }
    if sb.features.compat & compat::HAS_JOURNAL != 0
        && sb.journal_inum == JOURNAL_INO
        && !c.inodes.contains_key(&JOURNAL_INO)
    {
        c.problems.error(Area::Inode, "the volume has a journal, but the journal inode is not in use");
    }
}
