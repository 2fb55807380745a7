//! What a program sees fail on an `irpstack mount`: the errno of each failing call on a
//! read-only mount (names, kinds, links, xattrs, seeks, writes of every kind), the calls
//! that must succeed there (`fsync`, `fdatasync` and a directory's `fsync` — never
//! `ENOSYS`, which the kernel would remember), and permissions checked against the caller's
//! uid, gid and supplementary groups, by the file system or by the kernel
//! (`default_permissions`).

mod mount_support;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use mount_support::*;

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// The errno of a libc call's -1 result, or 0 for success.
fn errno_of(rc: i64) -> i32 {
    if rc >= 0 { 0 } else { std::io::Error::last_os_error().raw_os_error().unwrap() }
}

fn open(p: &Path, flags: i32) -> i32 {
    // Close-on-exec: a process another test starts meanwhile must not inherit it (and keep
    // this test's mount busy).
    // SAFETY: a NUL-terminated path; the descriptor is closed at once.
    let fd = unsafe { libc::open(c(p).as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    let e = errno_of(fd.into());
    if fd >= 0 {
        // SAFETY: `fd` was just opened.
        unsafe { libc::close(fd) };
    }
    e
}

fn truncate(p: &Path) -> i32 {
    // SAFETY: a NUL-terminated path.
    errno_of(unsafe { libc::truncate(c(p).as_ptr(), 0) }.into())
}

fn access(p: &Path, mode: i32) -> i32 {
    // SAFETY: a NUL-terminated path.
    errno_of(unsafe { libc::access(c(p).as_ptr(), mode) }.into())
}

fn get_xattr_errno(p: &Path, name: &std::ffi::CStr) -> i32 {
    // SAFETY: NUL-terminated strings; a size of 0 with no buffer asks for the length.
    errno_of(unsafe { libc::getxattr(c(p).as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) } as i64)
}

fn fsync_file(f: &std::fs::File) -> i32 {
    // SAFETY: the descriptor of an open file.
    errno_of(unsafe { libc::fsync(std::os::fd::AsRawFd::as_raw_fd(f)) }.into())
}

fn make_tree(t: &Path) {
    std::fs::create_dir_all(t.join("dir/sub")).unwrap();
    std::fs::write(t.join("file"), b"0123456789").unwrap();
    std::fs::write(t.join("dir/inside"), b"x").unwrap();
    symlink("loop2", t.join("loop1")).unwrap();
    symlink("loop1", t.join("loop2")).unwrap();
    std::fs::write(t.join("secret"), b"root only\n").unwrap();
    std::fs::set_permissions(t.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(t.join("group"), b"group 2000\n").unwrap();
    std::fs::set_permissions(t.join("group"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(t.join("group"), Some(0), Some(2000)).unwrap();
    std::fs::create_dir(t.join("closed")).unwrap();
    std::fs::write(t.join("closed/file"), b"hidden\n").unwrap();
    std::fs::set_permissions(t.join("closed"), std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn set_xattr(p: &Path, name: &str, value: &[u8]) -> bool {
    let n = CString::new(name).unwrap();
    // SAFETY: NUL-terminated strings and a buffer of the length passed.
    unsafe { libc::lsetxattr(c(p).as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) == 0 }
}

#[test]
fn failures_have_their_posix_errno_and_syncs_succeed() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("tree");
    make_tree(&host);
    let xattrs = set_xattr(&host.join("file"), "user.color", b"blue");
    let img = dir.path().join("fs.img");
    mkfs_from(&host, &img, "16M");
    let m = FuseMount::foreground(&dir.path().join("mnt"), &ro_spec(&img), &[]);
    let p = |rel: &str| m.path(rel);
    let ro = libc::O_RDONLY;
    let checks: Vec<(&str, i32, i32)> = vec![
        ("open missing", open(&p("missing"), ro), libc::ENOENT),
        ("open missing/x", open(&p("missing/x"), ro), libc::ENOENT),
        ("open file/x", open(&p("file/x"), ro), libc::ENOTDIR),
        ("open file O_WRONLY", open(&p("file"), libc::O_WRONLY), libc::EROFS),
        ("open new O_CREAT", open(&p("new"), libc::O_CREAT | libc::O_WRONLY), libc::EROFS),
        ("open file O_TRUNC", open(&p("file"), libc::O_RDWR | libc::O_TRUNC), libc::EROFS),
        ("open dir O_WRONLY", open(&p("dir"), libc::O_WRONLY), libc::EISDIR),
        ("open file O_DIRECTORY", open(&p("file"), ro | libc::O_DIRECTORY), libc::ENOTDIR),
        ("open symlink loop", open(&p("loop1"), ro), libc::ELOOP),
        ("open a 256-byte name", open(&p(&"n".repeat(256)), ro), libc::ENAMETOOLONG),
        ("mkdir", errno_of(std::fs::create_dir(p("newdir")).map_or(-1, |()| 0)), libc::EROFS),
        ("unlink", errno_of(std::fs::remove_file(p("file")).map_or(-1, |()| 0)), libc::EROFS),
        ("rmdir", errno_of(std::fs::remove_dir(p("dir/sub")).map_or(-1, |()| 0)), libc::EROFS),
        ("rename", errno_of(std::fs::rename(p("file"), p("f2")).map_or(-1, |()| 0)), libc::EROFS),
        ("symlink", errno_of(symlink("x", p("ln")).map_or(-1, |()| 0)), libc::EROFS),
        ("link", errno_of(std::fs::hard_link(p("file"), p("hl")).map_or(-1, |()| 0)), libc::EROFS),
        (
            "chmod",
            errno_of(
                std::fs::set_permissions(p("file"), std::fs::Permissions::from_mode(0o600))
                    .map_or(-1, |()| 0),
            ),
            libc::EROFS,
        ),
        ("truncate", truncate(&p("file")), libc::EROFS),
        ("setxattr", errno_of(if set_xattr(&p("file"), "user.new", b"v") { 0 } else { -1 }), libc::EROFS),
        ("access W_OK", access(&p("file"), libc::W_OK), libc::EROFS),
        ("readlink of a file", errno_of(std::fs::read_link(p("file")).map_or(-1, |_| 0)), libc::EINVAL),
        ("getxattr missing", get_xattr_errno(&p("file"), c"user.none"), libc::ENODATA),
    ];
    let mut wrong = Vec::new();
    for (what, got, want) in &checks {
        if got != want {
            wrong.push(format!("{what}: {} (want {})", name(*got), name(*want)));
        }
    }
    assert!(wrong.is_empty(), "wrong errno:\n{}", wrong.join("\n"));

    if xattrs {
        let mut one = [0u8; 1];
        // SAFETY: NUL-terminated strings; the buffer has the length passed.
        let rc = unsafe {
            libc::getxattr(c(&p("file")).as_ptr(), c"user.color".as_ptr(), one.as_mut_ptr().cast(), one.len())
        };
        assert_eq!(errno_of(rc as i64), libc::ERANGE, "getxattr into a 1-byte buffer");
        let mut four = [0u8; 4];
        // SAFETY: as above.
        let rc = unsafe {
            libc::getxattr(
                c(&p("file")).as_ptr(),
                c"user.color".as_ptr(),
                four.as_mut_ptr().cast(),
                four.len(),
            )
        };
        assert_eq!((rc, &four), (4, b"blue"));
    }

    // Seeking and reading at the end; every kind of sync succeeds on a read-only volume.
    let f = std::fs::File::open(p("file")).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    // SAFETY: `fd` is open for these calls; the buffer has the length passed.
    unsafe {
        assert_eq!(errno_of(libc::lseek(fd, 10, libc::SEEK_DATA)), libc::ENXIO, "SEEK_DATA at the end");
        assert_eq!(libc::lseek(fd, 3, libc::SEEK_HOLE), 10, "SEEK_HOLE: the end");
        let mut buf = [0u8; 8];
        assert_eq!(libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 10), 0, "a read at the end");
        assert_eq!(errno_of(libc::fsync(fd).into()), 0, "fsync of a read-only descriptor");
        assert_eq!(errno_of(libc::fdatasync(fd).into()), 0, "fdatasync");
        assert_eq!(errno_of(libc::syncfs(fd).into()), 0, "syncfs");
    }
    let d = std::fs::File::open(p("dir")).unwrap();
    // SAFETY: an open descriptor.
    assert_eq!(fsync_file(&d), 0, "fsync of a directory");
    let out = irpstack(&["sync", m.mnt.to_str().unwrap()]);
    assert!(out.status.success(), "irpstack sync: {}", text(&out));
    drop((f, d));
    let status = m.unmount();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

fn name(e: i32) -> String {
    if e == 0 { "success".into() } else { std::io::Error::from_raw_os_error(e).to_string() }
}

/// Runs `cmd` as uid 1000, gid 1000, supplementary group 2000; its output and status.
fn as_user(cmd: &[&str]) -> (bool, String) {
    let out = Command::new("setpriv")
        .args(["--reuid", "1000", "--regid", "1000", "--groups", "2000", "--"])
        .args(cmd)
        .output()
        .expect("setpriv runs");
    (out.status.success(), text(&out))
}

#[test]
fn permissions_are_checked_as_the_caller_by_the_file_system_or_the_kernel() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    if !have("setpriv") || !have("getfattr") {
        return irp::testing::skip("setpriv or getfattr is not installed");
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return irp::testing::skip("not root: cannot run commands as another user");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let host = dir.path().join("tree");
    make_tree(&host);
    let xattrs = set_xattr(&host.join("secret"), "user.note", b"n");
    let img = dir.path().join("fs.img");
    mkfs_from(&host, &img, "16M");
    for extra in ["allow_other", "allow_other,default_permissions"] {
        let m = FuseMount::foreground(&dir.path().join("mnt"), &ro_spec(&img), &["-o", extra]);
        let s = |rel: &str| m.path(rel).display().to_string();
        let (ok, said) = as_user(&["cat", &s("secret")]);
        assert!(
            !ok && said.contains("Permission denied"),
            "{extra}: a 0600 file of root read by uid 1000: {said}"
        );
        let (ok, said) = as_user(&["cat", &s("group")]);
        assert!(
            ok && said.contains("group 2000"),
            "{extra}: a 0640 file of group 2000 read by a member: {said}"
        );
        let (ok, said) = as_user(&["ls", &s("closed")]);
        assert!(!ok && said.contains("Permission denied"), "{extra}: listing a 0700 directory: {said}");
        let (ok, said) = as_user(&["cat", &s("closed/file")]);
        assert!(
            !ok && said.contains("Permission denied"),
            "{extra}: a path through a 0700 directory: {said}"
        );
        let (ok, said) = as_user(&["cat", &s("file")]);
        assert!(ok && said.contains("0123456789"), "{extra}: a 0644 file: {said}");
        if xattrs && !extra.contains("default_permissions") {
            let (ok, said) = as_user(&["getfattr", "-n", "user.note", &s("secret")]);
            assert!(
                !ok && said.contains("Permission denied"),
                "{extra}: a user xattr of an unreadable file: {said}"
            );
        }
        drop(m);
    }
}
