//! Who makes a request: the POSIX user and groups an open is checked against (NT's
//! security context of `IRP_MJ_CREATE`, `IO_SECURITY_CONTEXT`).

/// The caller's user and groups. A file system checks the mode bits of what is opened
/// against them (owner, group, other) and makes them the owner of what it creates.
/// User 0 (root) passes read and write checks, as with `CAP_DAC_OVERRIDE`.
#[doc(alias = "IO_SECURITY_CONTEXT")]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The (effective) user id.
    pub uid: u32,
    /// The (effective) group id.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Credentials {
    /// The superuser (uid 0, gid 0).
    pub const ROOT: Credentials = Credentials { uid: 0, gid: 0, groups: Vec::new() };

    /// A user and group with no supplementary groups.
    pub fn user(uid: u32, gid: u32) -> Credentials {
        Credentials { uid, gid, groups: Vec::new() }
    }

    /// The calling process's effective user, group and supplementary groups.
    pub fn current() -> Credentials {
        // SAFETY: geteuid and getegid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Credentials { uid, gid, groups: supplementary_groups() }
    }

    /// Whether the caller is the superuser.
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// Whether the caller is in group `gid` (its own or a supplementary one).
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

fn supplementary_groups() -> Vec<u32> {
    // SAFETY: a size of 0 with a null list only asks for the count.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let Ok(len) = usize::try_from(n) else { return Vec::new() };
    let mut groups = vec![0 as libc::gid_t; len];
    // SAFETY: the list has room for `n` entries, the size passed.
    let got = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
    groups.truncate(usize::try_from(got).unwrap_or(0));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_credentials_are_the_process_ids() {
        let c = Credentials::current();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let field = |name: &str| -> u32 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace().nth(2).unwrap().parse().unwrap() // real, effective, ...
        };
        assert_eq!(c.uid, field("Uid:"));
        assert_eq!(c.gid, field("Gid:"));
        assert!(c.in_group(c.gid));
        assert!(Credentials::ROOT.is_root() && !Credentials::user(1000, 1000).is_root());
    }
}
