//! Listing a directory in on-disk order. An entry's cookie is its byte position in the
//! directory plus one, and a listing resumed with a cookie returns the entries at or after
//! that position. Entries never move once written (a new name takes space after an existing
//! record, a removed one leaves its space to the record before it), so a cookie stays good
//! across changes: names added or removed meanwhile may or may not be seen, the others are
//! seen exactly once.

use super::block;
use crate::error::Result;
use crate::filesystem::inner::Inner;
use crate::filesystem::types::{DirEntry, FileKind};
use crate::ondisk::dirent::FileType;
use crate::ondisk::inode::{Inode, mode};

/// Entries gathered before a listing call returns (whole blocks are finished).
const BATCH: usize = 128;

fn kind(ft: u8) -> FileKind {
    match FileType::from_raw(ft) {
        FileType::Regular => FileKind::Regular,
        FileType::Directory => FileKind::Directory,
        FileType::Symlink => FileKind::Symlink,
        FileType::CharDevice => FileKind::CharDevice,
        FileType::BlockDevice => FileKind::BlockDevice,
        FileType::Fifo => FileKind::Fifo,
        FileType::Socket => FileKind::Socket,
        _ => FileKind::Unknown,
    }
}

impl Inner {
    /// Entries of `dir` from `cookie` on (0: from the start); empty at the end.
    pub(crate) fn readdir(&mut self, dir: u32, cookie: u64) -> Result<Vec<DirEntry>> {
        let inode = self.read_dir_inode(dir)?;
        self.dir_index(dir, &inode)?;
        let n = self.dir_blocks(dir, &inode)?;
        let bs = u64::from(self.geo.bs);
        let end = self.dir_end();
        let htree = self.dirs.get(dir).and_then(|i| i.htree_blocks.clone()).unwrap_or_default();
        let mut out = Vec::new();
        let mut lblk = (cookie / bs) as u32;
        while lblk < n && out.len() < BATCH {
            let base = u64::from(lblk) * bs;
            if htree.contains(&lblk) {
                if lblk == 0 {
                    let parent = self.dirs.get(dir).map_or(0, |i| i.parent);
                    self.dot_entries(dir, parent, cookie, &mut out);
                }
                lblk += 1;
                continue;
            }
            let (_, b) = self.dir_leaf(dir, &inode, lblk)?;
            for r in block::records(&b, end)? {
                let pos = base + r.off as u64;
                if r.inode == 0 || pos < cookie {
                    continue;
                }
                out.push(DirEntry {
                    name: r.name(&b).to_vec(),
                    ino: r.inode,
                    kind: self.entry_kind(r.inode, r.file_type)?,
                    cookie: pos + 1,
                });
            }
            lblk += 1;
        }
        Ok(out)
    }

    /// "." and ".." of an indexed directory, at the positions they have in its block 0.
    fn dot_entries(&self, dir: u32, parent: u32, cookie: u64, out: &mut Vec<DirEntry>) {
        for (pos, name, ino) in [(0u64, &b"."[..], dir), (12, &b".."[..], parent)] {
            if pos >= cookie {
                out.push(DirEntry { name: name.to_vec(), ino, kind: FileKind::Directory, cookie: pos + 1 });
            }
        }
    }

    /// The kind of an entry: from its `file_type`, or from the inode without the feature.
    fn entry_kind(&mut self, ino: u32, ft: u8) -> Result<FileKind> {
        if self.geo.filetype {
            return Ok(kind(ft));
        }
        let i: Inode = self.read_inode_any(ino)?;
        Ok(match i.mode & mode::S_IFMT {
            0 => FileKind::Unknown,
            m => FileKind::from_mode(m),
        })
    }
}
