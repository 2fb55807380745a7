//! How the commands show modes and times.

use irp::file::{FileKind, FileTime};

/// `-rwxr-xr-x`, with the set-id and sticky letters, as `ls -l` shows a mode.
pub fn mode_string(kind: FileKind, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(kind.ls_letter());
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, c)) in bits.into_iter().enumerate() {
        let set = mode & bit != 0;
        let special = match i {
            2 => (mode & 0o4000 != 0).then_some(if set { 's' } else { 'S' }),
            5 => (mode & 0o2000 != 0).then_some(if set { 's' } else { 'S' }),
            8 => (mode & 0o1000 != 0).then_some(if set { 't' } else { 'T' }),
            _ => None,
        };
        s.push(special.unwrap_or(if set { c } else { '-' }));
    }
    s
}

/// The broken-down local time of `secs` (`localtime_r`).
fn local(secs: i64) -> Option<libc::tm> {
    let t = libc::time_t::try_from(secs).ok()?;
    // SAFETY: an all-zero `tm` is a valid value of the plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals; localtime_r is the reentrant form.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    (!r.is_null()).then_some(tm)
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// debugfs `ls -l`'s date: ` 8-Dec-2026 01:18`.
pub fn ls_date(t: FileTime) -> String {
    match local(t.secs) {
        Some(tm) => format!(
            "{:2}-{}-{:4} {:02}:{:02}",
            tm.tm_mday,
            MONTHS[tm.tm_mon.clamp(0, 11) as usize],
            1900 + tm.tm_year,
            tm.tm_hour,
            tm.tm_min
        ),
        None => format!("@{}", t.secs),
    }
}

/// `2026-12-08 01:18:14.123456789 +0100`, as GNU `stat` shows a time.
pub fn stat_time(t: FileTime) -> String {
    match local(t.secs) {
        Some(tm) => {
            let off = tm.tm_gmtoff;
            let sign = if off < 0 { '-' } else { '+' };
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09} {sign}{:02}{:02}",
                1900 + tm.tm_year,
                tm.tm_mon + 1,
                tm.tm_mday,
                tm.tm_hour,
                tm.tm_min,
                tm.tm_sec,
                t.nanos,
                off.abs() / 3600,
                off.abs() % 3600 / 60
            )
        }
        None => format!("@{}.{:09}", t.secs, t.nanos),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_like_ls() {
        assert_eq!(mode_string(FileKind::Regular, 0o644), "-rw-r--r--");
        assert_eq!(mode_string(FileKind::Directory, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(FileKind::Regular, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(FileKind::Regular, 0o2644), "-rw-r-Sr--");
        assert_eq!(mode_string(FileKind::Symlink, 0o777), "lrwxrwxrwx");
    }
}
