//! Extended attributes: `getxattr`, `listxattr` (`IRP_MJ_QUERY_EA`'s controls), `setxattr`,
//! `removexattr` (`IRP_MJ_SET_EA`'s), on a handle opened as the caller (the file system
//! checks `user.` attributes against the mode bits and keeps `trusted.` ones for root).
//! POSIX ACLs are not supported (`EOPNOTSUPP`, as a file system mounted `noacl`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use fuser::{Errno, INodeNo, Request};
use irp::file::{CreateOptions, XattrSetMode};
use irp::{Access, Handle};

use crate::caller::credentials;
use crate::errno;
use crate::filesystem::IrpFs;

/// The POSIX ACL attributes (`system.posix_acl_access`, `system.posix_acl_default`). The
/// mount does not ask the kernel for ACL semantics (`FUSE_POSIX_ACL`), so the kernel passes
/// these on as plain attributes; storing them so would neither change the mode as an ACL
/// does (`cp -a` sets one to restore a file's mode) nor be in ext4's on-disk ACL format the
/// kernel reads. They answer `EOPNOTSUPP` ("no ACLs here": programs fall back to the mode
/// bits) and are left out of listings.
fn is_posix_acl(name: &[u8]) -> bool {
    name == b"system.posix_acl_access" || name == b"system.posix_acl_default"
}

/// What an xattr request answers: the size it would take (`size` 0 asked for it) or the
/// bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum XattrReply {
    /// The length of the value or list.
    Size(u32),
    /// The value or the NUL-terminated names.
    Data(Vec<u8>),
}

/// The answer to a request with a buffer of `size` bytes for `value`: its size when asked
/// (`size` 0), `ERANGE` when it does not fit, else the bytes.
pub fn sized(value: Vec<u8>, size: u32) -> Result<XattrReply, Errno> {
    let len = u32::try_from(value.len()).map_err(|_| Errno::E2BIG)?;
    if size == 0 {
        Ok(XattrReply::Size(len))
    } else if len > size {
        Err(Errno::ERANGE)
    } else {
        Ok(XattrReply::Data(value))
    }
}

/// The `listxattr` form of names: each followed by a NUL.
pub fn name_list(names: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(names.iter().map(|n| n.len() + 1).sum());
    for n in names {
        out.extend_from_slice(n);
        out.push(0);
    }
    out
}

impl IrpFs {
    fn xattr_handle(&self, req: &Request, node: INodeNo, access: Access) -> Result<Handle, Errno> {
        let ino = self.ino(node)?;
        self.open_ino(ino, access, CreateOptions::NONE, credentials(req)).map_err(errno::of)
    }

    /// `getxattr`.
    pub(crate) fn get_xattr(
        &self,
        req: &Request,
        node: INodeNo,
        name: &OsStr,
        size: u32,
    ) -> Result<XattrReply, Errno> {
        let h = self.xattr_handle(req, node, Access::READ_EA)?;
        sized(h.get_xattr(name.as_bytes()).map_err(errno::of)?, size)
    }

    /// `listxattr`.
    pub(crate) fn list_xattrs(&self, req: &Request, node: INodeNo, size: u32) -> Result<XattrReply, Errno> {
        let h = self.xattr_handle(req, node, Access::READ_EA)?;
        let names: Vec<Vec<u8>> =
            h.list_xattrs().map_err(errno::of)?.into_iter().filter(|n| !is_posix_acl(n)).collect();
        sized(name_list(&names), size)
    }

    /// `setxattr` (`XATTR_CREATE`, `XATTR_REPLACE`).
    pub(crate) fn set_xattr(
        &self,
        req: &Request,
        node: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        position: u32,
    ) -> Result<(), Errno> {
        if position != 0 {
            return Err(Errno::EINVAL);
        }
        if is_posix_acl(name.as_bytes()) {
            return Err(Errno::EOPNOTSUPP);
        }
        let mode = match flags {
            0 => XattrSetMode::Either,
            libc::XATTR_CREATE => XattrSetMode::Create,
            libc::XATTR_REPLACE => XattrSetMode::Replace,
            _ => return Err(Errno::EINVAL),
        };
        let h = self.xattr_handle(req, node, Access::WRITE_EA)?;
        h.set_xattr(name.as_bytes(), value, mode).map_err(errno::of)
    }

    /// `removexattr`.
    pub(crate) fn remove_xattr(&self, req: &Request, node: INodeNo, name: &OsStr) -> Result<(), Errno> {
        if is_posix_acl(name.as_bytes()) {
            return Err(Errno::EOPNOTSUPP);
        }
        let h = self.xattr_handle(req, node, Access::WRITE_EA)?;
        h.remove_xattr(name.as_bytes()).map_err(errno::of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_lists_as_the_syscalls_want_them() {
        assert_eq!(sized(b"abc".to_vec(), 0), Ok(XattrReply::Size(3)));
        assert_eq!(sized(b"abc".to_vec(), 2), Err(Errno::ERANGE));
        assert_eq!(sized(b"abc".to_vec(), 3), Ok(XattrReply::Data(b"abc".to_vec())));
        assert_eq!(name_list(&[b"user.a".to_vec(), b"user.bb".to_vec()]), b"user.a\0user.bb\0");
        assert_eq!(name_list(&[]), b"");
        assert!(is_posix_acl(b"system.posix_acl_access") && is_posix_acl(b"system.posix_acl_default"));
        assert!(!is_posix_acl(b"system.posix_acl") && !is_posix_acl(b"user.posix_acl_access"));
    }
}
