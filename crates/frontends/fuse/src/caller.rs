//! Who sent a request: the credentials an open carries (NT's `IO_SECURITY_CONTEXT`), from
//! the uid, gid and pid of the FUSE request header and the process's supplementary groups.

use fuser::Request;
use irp::file::Credentials;

/// The caller of `req`, with its supplementary groups (read from `/proc/<pid>/status`; none
/// for root, who passes every permission check, or when the process is gone).
pub fn credentials(req: &Request) -> Credentials {
    let mut who = Credentials::user(req.uid(), req.gid());
    if !who.is_root() && req.pid() != 0 {
        who.groups = groups_of(req.pid());
    }
    who
}

/// The supplementary groups of process `pid` (the `Groups:` line of its status).
fn groups_of(pid: u32) -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return Vec::new() };
    parse_groups(&status)
}

fn parse_groups(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| g.split_whitespace().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_come_from_the_status_line() {
        let status = "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 27 1000 \nVmPeak:\t1 kB\n";
        assert_eq!(parse_groups(status), vec![4, 24, 27, 1000]);
        assert_eq!(parse_groups("Name:\tsh\nGroups:\t\n"), Vec::<u32>::new());
        assert_eq!(parse_groups("Name:\tsh\n"), Vec::<u32>::new());
        let me = std::process::id();
        let own = groups_of(me);
        let mut want = Credentials::current().groups;
        want.sort_unstable();
        let mut own_sorted = own.clone();
        own_sorted.sort_unstable();
        assert_eq!(own_sorted, want);
    }
}
