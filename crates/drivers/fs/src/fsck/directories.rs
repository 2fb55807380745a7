//! Passes 2 and 3: every directory's entries (read with their checksums and, for indexed
//! directories, through the htree), `.` and `..` first and right, every entry naming an
//! inode in use with its type, no name twice; then every directory reachable from the root
//! through exactly one parent, whose `..` names it.

use std::collections::{HashMap, HashSet};

use super::Check;
use super::problem::Area;
use crate::ondisk::dirent::FileType;
use crate::ondisk::features::incompat;
use crate::ondisk::inode::{ROOT_INO, mode};

/// Checks every directory found in pass 1, counting references for pass 4.
pub(super) fn check_directories(c: &mut Check<'_>) {
    let filetype = c.vol.superblock().features.incompat & incompat::FILETYPE != 0;
    let max_ino = c.vol.superblock().inodes_count;
    let dirs = c.dirs.clone();
    let mut parent_of: HashMap<u32, u32> = HashMap::new();
    let mut dotdot: HashMap<u32, u32> = HashMap::new();
    for &dir in &dirs {
        let entries = match c.dir_volume().read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                c.problems.error(Area::Directory, format!("directory {dir}: {e}"));
                continue;
            }
        };
        match entries.first() {
            Some(e) if e.name == b"." && e.inode == dir => {}
            other => c.problems.error(
                Area::Directory,
                format!(
                    "directory {dir}: the first entry is {:?}, not '.'",
                    other.map(|e| String::from_utf8_lossy(&e.name).into_owned())
                ),
            ),
        }
        match entries.get(1) {
            Some(e) if e.name == b".." => {
                dotdot.insert(dir, e.inode);
            }
            other => c.problems.error(
                Area::Directory,
                format!(
                    "directory {dir}: the second entry is {:?}, not '..'",
                    other.map(|e| String::from_utf8_lossy(&e.name).into_owned())
                ),
            ),
        }
        let mut names = HashSet::new();
        for e in &entries {
            let name = String::from_utf8_lossy(&e.name);
            if !names.insert(e.name.as_slice()) {
                c.problems.error(Area::Directory, format!("directory {dir}: {name:?} appears twice"));
            }
            if e.inode == 0 || e.inode > max_ino {
                c.problems.error(
                    Area::Directory,
                    format!("directory {dir}: {name:?} names inode {}, out of range", e.inode),
                );
                continue;
            }
            let Some(info) = c.inodes.get(&e.inode).copied() else {
                c.problems.error(
                    Area::Directory,
                    format!("directory {dir}: {name:?} names inode {}, which is not in use", e.inode),
                );
                continue;
            };
            *c.refs.entry(e.inode).or_default() += 1;
            if filetype && e.file_type != FileType::from_mode(info.mode) {
                c.problems.error(
                    Area::Directory,
                    format!(
                        "directory {dir}: {name:?} (inode {}) has type {:?}, the inode is {:?}",
                        e.inode,
                        e.file_type,
                        FileType::from_mode(info.mode)
                    ),
                );
            }
            let is_dot = e.name == b"." || e.name == b"..";
            if !is_dot
                && info.mode & mode::S_IFMT == mode::S_IFDIR
                && let Some(first) = parent_of.insert(e.inode, dir)
            {
                c.problems.error(
                    Area::Connectivity,
                    format!("directory {} has two names: in directories {first} and {dir}", e.inode),
                );
            }
        }
    }
    check_connectivity(c, &dirs, &parent_of, &dotdot);
}

fn check_connectivity(
    c: &mut Check<'_>,
    dirs: &[u32],
    parent_of: &HashMap<u32, u32>,
    dotdot: &HashMap<u32, u32>,
) {
    if let Some(&d) = dotdot.get(&ROOT_INO)
        && d != ROOT_INO
    {
        c.problems.error(Area::Connectivity, format!("the root's '..' is inode {d}"));
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&child, &parent) in parent_of {
        children.entry(parent).or_default().push(child);
    }
    let mut reached = HashSet::from([ROOT_INO]);
    let mut todo = vec![ROOT_INO];
    while let Some(d) = todo.pop() {
        for &child in children.get(&d).map(Vec::as_slice).unwrap_or(&[]) {
            if child != ROOT_INO && reached.insert(child) {
                todo.push(child);
            }
        }
    }
    for &d in dirs {
        if d == ROOT_INO {
            continue;
        }
        match parent_of.get(&d) {
            None => c
                .problems
                .error(Area::Connectivity, format!("directory {d} is in no directory (unconnected)")),
            Some(_) if !reached.contains(&d) => {
                c.problems.error(Area::Connectivity, format!("directory {d} cannot be reached from the root"))
            }
            Some(&p) => {
                if let Some(&dd) = dotdot.get(&d)
                    && dd != p
                {
                    c.problems
                        .error(Area::Connectivity, format!("directory {d}: '..' is {dd}, should be {p}"));
                }
            }
        }
    }
}
