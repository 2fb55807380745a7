//! Editing linear directory blocks in place: walking the records, inserting a name into the
//! first record with room (splitting its `rec_len`), removing one (its space joins the
//! record before it, or the record becomes free), and the blocks a new directory starts
//! with. `end` is where the records stop: the block size, or 12 bytes before it when the
//! block ends with a checksum tail.

use crate::error::{FsError, Result};
use crate::ondisk::dirent::{
    DIRENT_HEADER, TAIL_FILE_TYPE, TAIL_SIZE, rec_len_for, rec_len_from_disk, rec_len_to_disk,
};

/// One record's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rec {
    /// Byte offset in the block.
    pub off: usize,
    /// Inode (0: free space).
    pub inode: u32,
    /// Record length.
    pub rec_len: usize,
    /// Name length.
    pub name_len: usize,
    /// `file_type`.
    pub file_type: u8,
}

impl Rec {
    /// Bytes the record needs (0 for a free one).
    pub fn used(&self) -> usize {
        if self.inode == 0 { 0 } else { rec_len_for(self.name_len) }
    }

    /// Bytes a new record could take from it.
    pub fn room(&self) -> usize {
        self.rec_len - self.used()
    }

    /// The name bytes.
    pub fn name<'b>(&self, block: &'b [u8]) -> &'b [u8] {
        block.get(self.off + DIRENT_HEADER..self.off + DIRENT_HEADER + self.name_len).unwrap_or(&[])
    }
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Every record of the block up to `end`, validated (each fits, is aligned, holds its name).
pub(crate) fn records(block: &[u8], end: usize) -> Result<Vec<Rec>> {
    let bs = block.len();
    let end = end.min(bs);
    let mut out = Vec::with_capacity(64);
    let mut off = 0usize;
    while off < end {
        if end - off < DIRENT_HEADER {
            return Err(FsError::corrupt(
                format!("offset {off}"),
                "directory entry",
                "record header past the end",
            ));
        }
        let rec_len = rec_len_from_disk(u16_at(block, off + 4), bs);
        let name_len = usize::from(block[off + 6]);
        if rec_len < DIRENT_HEADER
            || !rec_len.is_multiple_of(4)
            || rec_len > end - off
            || DIRENT_HEADER + name_len > rec_len
        {
            return Err(FsError::corrupt(
                format!("offset {off}"),
                "directory entry",
                format!("rec_len {rec_len}, name_len {name_len} (records end at {end})"),
            ));
        }
        out.push(Rec { off, inode: u32_at(block, off), rec_len, name_len, file_type: block[off + 7] });
        off += rec_len;
    }
    Ok(out)
}

fn put_rec(block: &mut [u8], off: usize, inode: u32, rec_len: usize, name: &[u8], file_type: u8) {
    let bs = block.len();
    block[off..off + 4].copy_from_slice(&inode.to_le_bytes());
    block[off + 4..off + 6].copy_from_slice(&rec_len_to_disk(rec_len, bs).to_le_bytes());
    block[off + 6] = name.len() as u8;
    block[off + 7] = file_type;
    block[off + DIRENT_HEADER..off + DIRENT_HEADER + name.len()].copy_from_slice(name);
    // Zero the rest of the name's padding so the block is deterministic.
    let pad_end = (off + rec_len_for(name.len())).min(off + rec_len);
    block[off + DIRENT_HEADER + name.len()..pad_end].fill(0);
}

/// Largest room in any record of the block (what the biggest new record could take).
pub(crate) fn largest_room(block: &[u8], end: usize) -> Result<usize> {
    Ok(records(block, end)?.iter().map(Rec::room).max().unwrap_or(0))
}

/// Adds `name` in the first record with room; returns its offset, or None if no record has
/// room.
pub(crate) fn insert(
    block: &mut [u8],
    end: usize,
    name: &[u8],
    inode: u32,
    file_type: u8,
) -> Result<Option<usize>> {
    let need = rec_len_for(name.len());
    for r in records(block, end)? {
        if r.room() < need {
            continue;
        }
        if r.inode == 0 {
            put_rec(block, r.off, inode, r.rec_len, name, file_type);
            return Ok(Some(r.off));
        }
        let used = r.used();
        let bs = block.len();
        block[r.off + 4..r.off + 6].copy_from_slice(&rec_len_to_disk(used, bs).to_le_bytes());
        let at = r.off + used;
        put_rec(block, at, inode, r.rec_len - used, name, file_type);
        return Ok(Some(at));
    }
    Ok(None)
}

/// Finds the record holding `name` (in use).
pub(crate) fn find(block: &[u8], end: usize, name: &[u8]) -> Result<Option<Rec>> {
    Ok(records(block, end)?.into_iter().find(|r| r.inode != 0 && r.name(block) == name))
}

/// Removes the record at `off`: the record before it absorbs it, or (first in the block) it
/// becomes free space.
pub(crate) fn remove(block: &mut [u8], end: usize, off: usize) -> Result<()> {
    let recs = records(block, end)?;
    let Some(i) = recs.iter().position(|r| r.off == off) else {
        return Err(FsError::corrupt(format!("offset {off}"), "directory entry", "no record starts there"));
    };
    if i == 0 {
        block[off..off + 4].fill(0);
    } else {
        let prev = recs[i - 1];
        let len = prev.rec_len + recs[i].rec_len;
        let bs = block.len();
        block[prev.off + 4..prev.off + 6].copy_from_slice(&rec_len_to_disk(len, bs).to_le_bytes());
    }
    Ok(())
}

/// Points the record at `off` to another inode (rename over an existing name).
pub(crate) fn set_inode(block: &mut [u8], off: usize, inode: u32, file_type: u8) {
    block[off..off + 4].copy_from_slice(&inode.to_le_bytes());
    block[off + 7] = file_type;
}

/// Writes the checksum tail's fixed part (its checksum is set separately).
fn put_tail(block: &mut [u8]) {
    let t = block.len() - TAIL_SIZE;
    block[t..].fill(0);
    block[t + 4..t + 6].copy_from_slice(&(TAIL_SIZE as u16).to_le_bytes());
    block[t + 7] = TAIL_FILE_TYPE;
}

/// A block holding only free space.
pub(crate) fn empty_block(bs: usize, tail: bool) -> Vec<u8> {
    let mut b = vec![0u8; bs];
    let end = if tail { bs - TAIL_SIZE } else { bs };
    put_rec(&mut b, 0, 0, end, &[], 0);
    if tail {
        put_tail(&mut b);
    }
    b
}

/// The first block of a new directory: "." and "..".
pub(crate) fn first_block(bs: usize, tail: bool, ino: u32, parent: u32, dir_type: u8) -> Vec<u8> {
    let mut b = vec![0u8; bs];
    let end = if tail { bs - TAIL_SIZE } else { bs };
    put_rec(&mut b, 0, ino, 12, b".", dir_type);
    put_rec(&mut b, 12, parent, end - 12, b"..", dir_type);
    if tail {
        put_tail(&mut b);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ondisk::dirent::parse_block;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn inserts_and_removes_keep_a_valid_block_with_the_right_names(
            ops in proptest::collection::vec((any::<bool>(), 1usize..40, 0u32..30), 1..200)
        ) {
            let bs = 1024;
            let mut b = first_block(bs, true, 12, 2, 2);
            let mut names: Vec<Vec<u8>> = Vec::new();
            for (add, len, k) in ops {
                let name: Vec<u8> = format!("{k:0len$}").into_bytes();
                if add && !names.contains(&name) {
                    if insert(&mut b, bs - 12, &name, 100 + k, 1).unwrap().is_some() {
                        names.push(name);
                    } else {
                        prop_assert!(largest_room(&b, bs - 12).unwrap() < rec_len_for(name.len()));
                    }
                } else if let Some(pos) = names.iter().position(|n| *n == name) {
                    let r = find(&b, bs - 12, &name).unwrap().unwrap();
                    remove(&mut b, bs - 12, r.off).unwrap();
                    names.remove(pos);
                }
                let parsed = parse_block(&b, true).unwrap();
                let mut got: Vec<Vec<u8>> =
                    parsed.iter().filter(|e| e.inode != 0).map(|e| e.name.clone()).skip(2).collect();
                let mut want = names.clone();
                got.sort();
                want.sort();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn removing_the_first_record_frees_it_and_others_absorb_their_successor() {
        let bs = 1024;
        let mut b = empty_block(bs, false);
        let a = insert(&mut b, bs, b"a", 20, 1).unwrap().unwrap();
        let bb = insert(&mut b, bs, b"b", 21, 1).unwrap().unwrap();
        assert_eq!((a, bb), (0, 12));
        remove(&mut b, bs, 0).unwrap();
        let r = records(&b, bs).unwrap();
        assert_eq!((r[0].inode, r[0].rec_len, r[1].inode), (0, 12, 21));
        // The freed first record is reused by a short name.
        assert_eq!(insert(&mut b, bs, b"c", 22, 1).unwrap(), Some(0));
    }
}
