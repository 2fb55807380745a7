//! POSIX permission checks: the caller's credentials against an inode's owner, group and
//! mode bits. User 0 passes read and write checks and search on directories, and execute
//! when any execute bit is set (`CAP_DAC_OVERRIDE`).

use irp::Access;
use irp::file::Credentials;

use crate::ondisk::inode::Inode;

/// Which of read, write, execute (search) are wanted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    /// `r`.
    pub read: bool,
    /// `w`.
    pub write: bool,
    /// `x` (search, for a directory).
    pub execute: bool,
}

impl Want {
    /// Search permission (walking through a directory).
    pub const SEARCH: Want = Want { read: false, write: false, execute: true };

    /// The bits an access mask needs: data read → `r`, data write or append → `w`, execute
    /// → `x`. Attribute and xattr access needs no mode bit (POSIX `stat` needs none).
    pub fn of(access: Access) -> Want {
        Want {
            read: access.contains(Access::READ),
            write: access.can_write(),
            execute: access.contains(Access::EXECUTE),
        }
    }

    fn bits(self) -> u16 {
        (u16::from(self.read) << 2) | (u16::from(self.write) << 1) | u16::from(self.execute)
    }
}

/// Whether `who` may do `want` to `inode`.
pub fn permitted(inode: &Inode, who: &Credentials, want: Want) -> bool {
    let want_bits = want.bits();
    if want_bits == 0 {
        return true;
    }
    if who.is_root() {
        return !want.execute || inode.is_dir() || inode.mode & 0o111 != 0;
    }
    let shift = if who.uid == inode.uid {
        6
    } else if who.in_group(inode.gid) {
        3
    } else {
        0
    };
    (inode.mode >> shift) & 0o7 & want_bits == want_bits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inode(mode: u16, uid: u32, gid: u32) -> Inode {
        Inode { mode, uid, gid, ..Inode::zeroed() }
    }

    #[test]
    fn owner_group_other_and_root() {
        let f = inode(0o100640, 1000, 100);
        let owner = Credentials::user(1000, 5);
        let member = Credentials { uid: 2000, gid: 5, groups: vec![100] };
        let other = Credentials::user(3000, 300);
        let r = Want::of(Access::READ);
        let rw = Want::of(Access::READ_WRITE);
        assert!(permitted(&f, &owner, rw));
        assert!(permitted(&f, &member, r) && !permitted(&f, &member, rw));
        assert!(!permitted(&f, &other, r));
        assert!(permitted(&f, &other, Want::of(Access::READ_ATTRIBUTES)));
        assert!(permitted(&f, &Credentials::ROOT, rw));
        assert!(!permitted(&f, &Credentials::ROOT, Want::of(Access::EXECUTE)));
        let d = inode(0o040700, 1000, 100);
        assert!(permitted(&d, &Credentials::ROOT, Want::SEARCH));
        assert!(!permitted(&d, &member, Want::SEARCH));
        // The owner's bits decide for the owner, even when others have more.
        assert!(!permitted(&inode(0o100077, 1000, 100), &owner, r));
    }
}
