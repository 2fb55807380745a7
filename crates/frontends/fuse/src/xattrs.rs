//! Extended attributes: `getxattr`, `listxattr` (`IRP_MJ_QUERY_EA`'s controls), `setxattr`,
//! `removexattr` (`IRP_MJ_SET_EA`'s), on a handle opened as the caller (the file system
//! checks `user.` attributes against the mode bits and keeps `trusted.` ones for root).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use fuser::{Errno, INodeNo, Request};
use irp::file::{CreateOptions, XattrSetMode};
use irp::{Access, Handle};

use crate::caller::credentials;
use crate::errno;
use crate::filesystem::IrpFs;

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
        sized(name_list(&h.list_xattrs().map_err(errno::of)?), size)
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
    }
}
