//! POSIX permission checks: the caller's credentials against an inode's owner, group and
//! mode bits. User 0 passes read and write checks and search on directories, and execute
//! when any execute bit is set (`CAP_DAC_OVERRIDE`). Adding or removing a name needs write
//! and search permission on the directory, and in a sticky directory (`S_ISVTX`, `/tmp`)
//! removing one also needs to own it or the directory; changing mode, times or owner needs
//! to own the inode (`CAP_FOWNER` for root).

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

/// Write and search: what adding or removing a name in a directory needs.
pub const CHANGE_DIR: Want = Want { read: false, write: true, execute: true };

/// `S_ISVTX`.
const STICKY: u16 = 0o1000;

/// Whether `who` owns `inode` or is root (`inode_owner_or_capable`).
pub fn owns(inode: &Inode, who: &Credentials) -> bool {
    who.is_root() || who.uid == inode.uid
}

/// Whether `who` may add a name to directory `dir`.
pub fn may_create(dir: &Inode, who: &Credentials) -> bool {
    permitted(dir, who, CHANGE_DIR)
}

/// Whether `who` may remove (or rename away) `victim`'s name from directory `dir`
/// (`may_delete`: write and search on the directory, and the sticky bit's rule).
pub fn may_delete(dir: &Inode, victim: &Inode, who: &Credentials) -> bool {
    if !permitted(dir, who, CHANGE_DIR) {
        return false;
    }
    dir.mode & STICKY == 0 || owns(victim, who) || who.uid == dir.uid
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

    #[test]
    fn names_need_write_and_search_and_the_sticky_bit_protects_others() {
        let alice = Credentials::user(1000, 100);
        let bob = Credentials::user(2000, 100);
        let tmp = inode(0o041777, 0, 0);
        let open = inode(0o040777, 0, 0);
        let alices = inode(0o100644, 1000, 100);
        assert!(may_create(&tmp, &bob) && may_create(&open, &bob));
        assert!(may_delete(&open, &alices, &bob), "no sticky bit: anyone who may write");
        assert!(!may_delete(&tmp, &alices, &bob), "sticky: not bob's file nor bob's directory");
        assert!(may_delete(&tmp, &alices, &alice) && may_delete(&tmp, &alices, &Credentials::ROOT));
        assert!(!may_create(&inode(0o040555, 1000, 100), &alice), "no write bit");
        assert!(!may_create(&inode(0o040666, 1000, 100), &alice), "no search bit");
        assert!(owns(&alices, &alice) && owns(&alices, &Credentials::ROOT) && !owns(&alices, &bob));
    }
}
