//! Resolving an open's path from the root, POSIX-style: search permission on every
//! directory walked, symbolic links followed in the middle (and at the end unless asked
//! not to), `.` and `..` as the directories say.
//!
//! A missing name before the last is `STATUS_OBJECT_PATH_NOT_FOUND`; a name before the last
//! that is not a directory is `STATUS_NOT_A_DIRECTORY` (POSIX's `ENOTDIR`; NT would say
//! path-not-found); more than 40 links is `STATUS_REPARSE_POINT_NOT_RESOLVED` (ELOOP); a
//! name over 255 bytes is `STATUS_NAME_TOO_LONG`. A missing last name is not an error here:
//! the caller decides by the disposition.

use irp::Status;
use irp::file::Credentials;

use super::Failure;
use super::access::{Want, permitted};
use super::backend::Backend;
use super::fcb::Link;
use crate::ondisk::inode::{Inode, ROOT_INO};

/// Most symbolic links followed in one resolution (Linux's limit).
const MAX_SYMLINKS: u32 = 40;
/// Longest name.
const NAME_MAX: usize = 255;

/// Where a path leads.
#[derive(Debug)]
pub enum Resolved {
    /// To an existing inode.
    Found {
        /// Its number.
        ino: u32,
        /// The inode.
        inode: Box<Inode>,
        /// The name it was found by (none for the root, or the target of a link to it).
        link: Option<Link>,
    },
    /// To a missing name in an existing directory.
    Missing {
        /// The directory.
        dir: u32,
        /// The name.
        name: Vec<u8>,
    },
}

/// Resolves `path` (relative to the root; a leading `/` is allowed) for `who`. With
/// `follow_last`, a final symbolic link is followed. A trailing `/` requires a directory.
pub fn resolve(
    b: &dyn Backend,
    who: &Credentials,
    path: &str,
    follow_last: bool,
) -> Result<Resolved, Failure> {
    let must_be_dir = path.ends_with('/') && !path.trim_matches('/').is_empty();
    let mut todo: Vec<Vec<u8>> = components(path.as_bytes()).rev().collect();
    let mut dir = ROOT_INO;
    let mut dir_inode = b.read_inode(ROOT_INO)?;
    let mut links = 0u32;
    let mut found: Option<(u32, Inode, Option<Link>)> = Some((ROOT_INO, dir_inode.clone(), None));
    while let Some(name) = todo.pop() {
        if name.len() > NAME_MAX {
            return Err(Failure::new(Status::NAME_TOO_LONG, format!("a name of {} bytes", name.len())));
        }
        if !permitted(&dir_inode, who, Want::SEARCH) {
            return Err(Failure::new(
                Status::ACCESS_DENIED,
                format!("no search permission on directory {dir}"),
            ));
        }
        let last = todo.is_empty();
        let Some(ino) = b.lookup(dir, &name)? else {
            if last {
                return Ok(Resolved::Missing { dir, name });
            }
            return Err(Failure::new(
                Status::OBJECT_PATH_NOT_FOUND,
                format!("{:?} in directory {dir}", String::from_utf8_lossy(&name)),
            ));
        };
        let inode = b.read_inode(ino)?;
        if inode.links_count == 0 && inode.mode == 0 {
            return Err(Failure::new(
                Status::FILE_CORRUPT_ERROR,
                format!("directory {dir}: {:?} names free inode {ino}", String::from_utf8_lossy(&name)),
            ));
        }
        if inode.is_symlink() && (!last || follow_last) {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Failure::new(
                    Status::REPARSE_POINT_NOT_RESOLVED,
                    format!("{path}: too many symbolic links"),
                ));
            }
            let target = b.read_link(ino, &inode)?;
            if target.is_empty() {
                return Err(Failure::new(
                    Status::OBJECT_NAME_NOT_FOUND,
                    format!("symbolic link {ino} is empty"),
                ));
            }
            if target.first() == Some(&b'/') {
                dir = ROOT_INO;
                dir_inode = b.read_inode(ROOT_INO)?;
            }
            todo.extend(components(&target).rev());
            found = Some((dir, dir_inode.clone(), None));
            continue;
        }
        if last {
            found = Some((ino, inode, Some(Link { dir, name })));
            break;
        }
        if !inode.is_dir() {
            return Err(Failure::new(
                Status::NOT_A_DIRECTORY,
                format!("inode {ino} in the middle of {path:?}"),
            ));
        }
        let link = Link { dir, name };
        dir = ino;
        dir_inode = inode.clone();
        found = Some((ino, inode, Some(link)));
    }
    let (ino, inode, link) = found.expect("the walk ends on an inode");
    if must_be_dir && !inode.is_dir() {
        return Err(Failure::new(
            Status::NOT_A_DIRECTORY,
            format!("{path:?} ends with / but is not a directory"),
        ));
    }
    Ok(Resolved::Found { ino, inode: Box::new(inode), link })
}

/// The components of a path that name something (`.` and empty ones dropped).
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = Vec<u8>> + '_ {
    path.split(|&c| c == b'/').filter(|c| !c.is_empty() && *c != b".").map(<[u8]>::to_vec)
}
