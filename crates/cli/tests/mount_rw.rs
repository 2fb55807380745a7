//! A read-write `irpstack mount`, call by call: creating every kind of file, renaming (with
//! `RENAME_NOREPLACE`; `RENAME_EXCHANGE` refused), links, removal of open files, times,
//! modes, owners (`EPERM` for another user's file), xattrs, `fallocate` and hole punching
//! against `SEEK_DATA`/`SEEK_HOLE`, `copy_file_range` inside the mount, `O_TRUNC`/`O_EXCL`/
//! `O_APPEND`, a full volume (`ENOSPC`), and every fsync flavour; a flush failing below the
//! file system fails `fsync` and reaches every other writable open once, at its `close`; a
//! `writeback_cache` mount keeps small writes, appends, truncations and shared-mapping
//! writes. After the unmount the image is clean (`e2fsck -fn`) and the kernel's ext4 reads
//! the same tree.

mod mount_support;

use std::ffi::CString;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use mount_support::tree::{differences, tree};
use mount_support::*;

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn errno<T>(r: std::io::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

fn renameat2(from: &Path, to: &Path, flags: u32) -> i32 {
    // SAFETY: NUL-terminated paths alive for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            c(from).as_ptr(),
            libc::AT_FDCWD,
            c(to).as_ptr(),
            flags,
        )
    };
    if rc == 0 { 0 } else { std::io::Error::last_os_error().raw_os_error().unwrap() }
}

fn fallocate(f: &std::fs::File, mode: i32, offset: i64, len: i64) -> i32 {
    // SAFETY: the descriptor of an open file.
    unsafe { libc::fallocate(f.as_raw_fd(), mode, offset, len) }
}

fn lseek(f: &std::fs::File, off: i64, whence: i32) -> i64 {
    // SAFETY: the descriptor of an open file.
    unsafe { libc::lseek(f.as_raw_fd(), off, whence) }
}

/// An empty ext4 image made by `mkfs.ext4`.
fn empty_image(dir: &Path, size: &str) -> std::path::PathBuf {
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let img = dir.join("fs.img");
    mkfs_from(&empty, &img, size);
    img
}

/// Unmounts, checks the image with e2fsck, and compares the tree the kernel's ext4 reads
/// with what the mount showed before the unmount.
fn unmount_and_compare(m: FuseMount, img: &Path, dir: &Path) {
    let seen = tree(&m.mnt, true);
    let status = m.unmount();
    assert!(status.is_some_and(|s| s.success()), "the mount's process: {status:?}");
    let (code, report) = e2fsck(img);
    assert_eq!(code, 0, "e2fsck -fn after the unmount: {report}");
    match KernelMount::new(img, &dir.join("kernel")) {
        Ok(k) => {
            let kernel = tree(&k.mnt, true);
            let diff = differences(&seen, &kernel);
            assert!(diff.is_empty(), "the kernel reads another tree:\n{}", diff.join("\n"));
        }
        Err(reason) => irp::testing::skip(reason),
    }
}

#[test]
fn namespace_calls_and_their_errors() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    let dir = tempfile::tempdir().unwrap();
    let img = empty_image(dir.path(), "64M");
    let m = FuseMount::foreground(&dir.path().join("mnt"), &format!("file(path={})", img.display()), &[]);
    let p = |rel: &str| m.path(rel);

    std::fs::create_dir(p("d")).unwrap();
    std::fs::create_dir_all(p("d/e/f")).unwrap();
    std::fs::write(p("d/file"), b"one").unwrap();
    assert_eq!(errno(std::fs::create_dir(p("d"))), libc::EEXIST, "mkdir of an existing name");
    assert_eq!(
        errno(std::fs::OpenOptions::new().write(true).create_new(true).open(p("d/file"))),
        libc::EEXIST
    );
    assert_eq!(errno(std::fs::remove_dir(p("d"))), libc::ENOTEMPTY, "rmdir of a full directory");
    assert_eq!(errno(std::fs::remove_file(p("d/e"))), libc::EISDIR, "unlink of a directory");
    assert_eq!(errno(std::fs::remove_dir(p("d/file"))), libc::ENOTDIR, "rmdir of a file");
    assert_eq!(errno(std::fs::hard_link(p("d/e"), p("d/elink"))), libc::EPERM, "a hard link to a directory");

    // Renames: replacing, not replacing, exchanging, directories.
    std::fs::write(p("d/other"), b"two").unwrap();
    assert_eq!(renameat2(&p("d/file"), &p("d/other"), libc::RENAME_NOREPLACE), libc::EEXIST);
    assert_eq!(renameat2(&p("d/file"), &p("d/other"), libc::RENAME_EXCHANGE), libc::EINVAL);
    std::fs::rename(p("d/file"), p("d/other")).unwrap();
    assert_eq!(std::fs::read(p("d/other")).unwrap(), b"one");
    assert!(!p("d/file").exists());
    std::fs::rename(p("d/e"), p("moved")).unwrap();
    std::fs::write(p("moved/f/inside"), b"in").unwrap(); // the moved directory's path is current
    assert_eq!(std::fs::read(p("moved/f/inside")).unwrap(), b"in");
    std::fs::create_dir(p("empty")).unwrap();
    assert_eq!(errno(std::fs::rename(p("empty"), p("moved"))), libc::ENOTEMPTY);
    std::fs::create_dir(p("victim")).unwrap();
    std::fs::rename(p("empty"), p("victim")).unwrap(); // over an empty directory
    std::fs::write(p("victim/new"), b"v").unwrap();
    assert_eq!(std::fs::read(p("victim/new")).unwrap(), b"v");
    // A directory removed and made again under the same name is the new one.
    std::fs::create_dir(p("again")).unwrap();
    let held = std::fs::File::open(p("again")).unwrap();
    std::fs::remove_dir(p("again")).unwrap();
    std::fs::create_dir(p("again")).unwrap();
    std::fs::write(p("again/x"), b"x").unwrap();
    assert_eq!(std::fs::read_dir(p("again")).unwrap().count(), 1);
    drop(held);

    // Links, symlinks, nodes.
    std::fs::hard_link(p("d/other"), p("hard")).unwrap();
    assert_eq!(std::fs::metadata(p("hard")).unwrap().nlink(), 2);
    symlink("d/other", p("sym")).unwrap();
    assert_eq!(std::fs::read(p("sym")).unwrap(), b"one");
    assert_eq!(std::fs::read_link(p("sym")).unwrap(), Path::new("d/other"));
    run(Command::new("mkfifo").arg(p("fifo")));
    run(Command::new("mknod").arg(p("null")).args(["c", "1", "3"]));
    let null = std::fs::symlink_metadata(p("null")).unwrap();
    assert_eq!((null.mode() & 0o170000, null.rdev()), (0o020000, libc::makedev(1, 3)));

    // An unlinked file stays readable and writable through its open descriptor.
    let mut open = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(p("gone"))
        .unwrap();
    open.write_all(b"still here").unwrap();
    std::fs::remove_file(p("gone")).unwrap();
    assert!(!p("gone").exists());
    let mut back = String::new();
    open.seek(SeekFrom::Start(0)).unwrap();
    open.read_to_string(&mut back).unwrap();
    assert_eq!(back, "still here");
    drop(open);

    // Modes, owners, times.
    std::fs::set_permissions(p("hard"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(p("hard"), Some(1000), Some(1000)).unwrap();
    let md = std::fs::metadata(p("hard")).unwrap();
    assert_eq!((md.mode() & 0o7777, md.uid(), md.gid()), (0o640, 1000, 1000));
    let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_600_000_000, 123_456_789);
    std::fs::File::options().write(true).open(p("hard")).unwrap().set_modified(t).unwrap();
    let md = std::fs::metadata(p("hard")).unwrap();
    assert_eq!((md.mtime(), md.mtime_nsec()), (1_600_000_000, 123_456_789));
    if have("setpriv") {
        let out = Command::new("setpriv")
            .args(["--reuid", "2000", "--regid", "2000", "--clear-groups", "chmod", "777"])
            .arg(p("hard"))
            .output()
            .unwrap();
        // Without allow_other the kernel refuses uid 2000 before we see it; either way: not allowed.
        assert!(!out.status.success(), "uid 2000 changed a file of uid 1000");
    }

    // Xattrs.
    run(Command::new("setfattr").args(["-n", "user.k", "-v", "value"]).arg(p("hard")));
    let out = String::from_utf8(run(Command::new("getfattr")
        .args(["-n", "user.k", "--only-values"])
        .arg(p("hard"))))
    .unwrap();
    assert_eq!(out, "value");
    run(Command::new("setfattr").args(["-x", "user.k"]).arg(p("hard")));
    let gone = Command::new("getfattr").args(["-n", "user.k"]).arg(p("hard")).output().unwrap();
    assert!(!gone.status.success());

    unmount_and_compare(m, &img, dir.path());
}

#[test]
fn data_calls_allocation_and_a_full_volume() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    let dir = tempfile::tempdir().unwrap();
    let img = empty_image(dir.path(), "32M");
    let m = FuseMount::foreground(&dir.path().join("mnt"), &format!("file(path={})", img.display()), &[]);
    let p = |rel: &str| m.path(rel);

    // O_TRUNC, O_APPEND, and writes across blocks.
    std::fs::write(p("f"), pattern(1, 10_000)).unwrap();
    std::fs::write(p("f"), b"short").unwrap();
    assert_eq!(std::fs::read(p("f")).unwrap(), b"short");
    let mut a = std::fs::OpenOptions::new().append(true).open(p("f")).unwrap();
    a.write_all(b"+more").unwrap();
    drop(a);
    assert_eq!(std::fs::read(p("f")).unwrap(), b"short+more");

    // fallocate, hole punching and what SEEK_DATA / SEEK_HOLE say.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(p("holes"))
        .unwrap();
    assert_eq!(fallocate(&f, 0, 0, 1 << 20), 0, "{}", std::io::Error::last_os_error());
    assert_eq!(f.metadata().unwrap().len(), 1 << 20);
    (&f).write_all(&pattern(2, 1 << 20)).unwrap();
    let punch = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    assert_eq!(fallocate(&f, punch, 4096, 8192), 0, "{}", std::io::Error::last_os_error());
    assert_eq!(lseek(&f, 0, libc::SEEK_HOLE), 4096);
    assert_eq!(lseek(&f, 4096, libc::SEEK_DATA), 12288);
    let mut want = pattern(2, 1 << 20);
    want[4096..12288].fill(0);
    assert!(std::fs::read(p("holes")).unwrap() == want, "punched range does not read as zeroes");

    // copy_file_range between two files of the mount.
    let dst = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(p("copy")).unwrap();
    let (mut off_in, mut off_out) = (0i64, 0i64);
    let mut left = 1usize << 20;
    while left > 0 {
        // SAFETY: two open descriptors and live offsets.
        let n = unsafe {
            libc::copy_file_range(f.as_raw_fd(), &mut off_in, dst.as_raw_fd(), &mut off_out, left, 0)
        };
        assert!(n > 0, "copy_file_range: {n} {}", std::io::Error::last_os_error());
        left -= n as usize;
    }
    drop(dst);
    assert!(std::fs::read(p("copy")).unwrap() == want, "copy_file_range copied other bytes");

    // Every sync flavour succeeds.
    f.sync_all().unwrap();
    f.sync_data().unwrap();
    std::fs::File::open(m.mnt.join(".")).unwrap().sync_all().unwrap();
    let ro = std::fs::File::open(p("f")).unwrap();
    ro.sync_all().unwrap();
    drop((f, ro));
    let out = irpstack(&["sync", m.mnt.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    // A full volume: ENOSPC, and the file system is still usable after.
    let mut big =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(p("filler")).unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    let full = loop {
        if let Err(e) = big.write_all(&chunk) {
            break e;
        }
    };
    assert_eq!(full.raw_os_error(), Some(libc::ENOSPC), "{full}");
    drop(big);
    std::fs::remove_file(p("filler")).unwrap();
    // The space comes back once the kernel's (background) release of the file reached the
    // file system and the transaction freeing its blocks committed (blocks freed by a
    // transaction are allocatable after its commit; the driver does not yet commit and
    // retry on ENOSPC as ext4 does): a sync commits.
    let mut room = false;
    for _ in 0..50 {
        let out = irpstack(&["sync", m.mnt.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        if std::fs::write(p("after"), b"room again").is_ok() {
            room = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(room, "no room after the filler was removed and the volume synced");

    unmount_and_compare(m, &img, dir.path());
}

/// Closes `f` and returns what `close(2)` said (std's drop ignores it).
fn close_errno(f: std::fs::File) -> i32 {
    let fd = std::os::fd::IntoRawFd::into_raw_fd(f);
    // SAFETY: `fd` was just taken out of its File: closed here once.
    errno_of_rc(unsafe { libc::close(fd) })
}

fn errno_of_rc(rc: i32) -> i32 {
    if rc == 0 { 0 } else { std::io::Error::last_os_error().raw_os_error().unwrap_or(-1) }
}

#[test]
fn a_flush_failing_below_fails_fsync_and_reaches_every_open_once() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    let dir = tempfile::tempdir().unwrap();
    let img = empty_image(dir.path(), "32M");
    let trigger = dir.path().join("fail-flushes");
    let spec = format!(
        "fs / fault(op=flush,error=EIO,trigger={}) / file(path={})",
        trigger.display(),
        img.display()
    );
    let m = FuseMount::foreground(&dir.path().join("mnt"), &spec, &[]);
    let a = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(m.path("f")).unwrap();
    let b = std::fs::OpenOptions::new().write(true).open(m.path("f")).unwrap();
    let later_reader = std::fs::File::open(m.path("f")).unwrap();
    (&a).write_all(b"data").unwrap();
    std::fs::write(&trigger, b"").unwrap();
    assert_eq!(errno(a.sync_all()), libc::EIO, "fsync while the device's flush fails");
    std::fs::remove_file(&trigger).unwrap();
    // The other open that may write learns of it at its close (flush), once; the one that
    // saw it in fsync does not see it again; a read-only open is not told.
    assert_eq!(close_errno(b), libc::EIO, "close of another writer after the failed write-back");
    assert_eq!(close_errno(a), 0, "close of the open that saw the failure");
    assert_eq!(close_errno(later_reader), 0);
    // The file system stopped taking changes when its commit failed (as ext4 aborts its
    // journal): a later fsync fails too — durability is never claimed again — and the
    // unmount's shutdown says the volume may not be clean; what reached the image is.
    let c = std::fs::OpenOptions::new().write(true).open(m.path("f")).unwrap();
    assert_eq!(errno(c.sync_all()), libc::EIO, "fsync after the journal stopped");
    drop(c);
    let status = m.unmount();
    assert!(status.is_some_and(|s| !s.success()), "the shutdown of a stopped journal succeeded");
    let (code, report) = e2fsck(&img);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn a_writeback_cache_mount_keeps_every_write() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    let dir = tempfile::tempdir().unwrap();
    let img = empty_image(dir.path(), "64M");
    let spec = format!("file(path={})", img.display());
    let mnt = dir.path().join("mnt");
    let m = FuseMount::foreground(&mnt, &spec, &["-o", "writeback_cache"]);
    // Small writes the kernel merges, a file opened write-only (the kernel reads its pages),
    // an append, a truncation, and a shared mapping written through.
    let mut want = Vec::new();
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(m.path("small"))
            .unwrap();
        for i in 0..2000u32 {
            let piece = format!("{i:05} ");
            f.write_all(piece.as_bytes()).unwrap();
            want.extend_from_slice(piece.as_bytes());
        }
        f.write_all_at(b"XY", 3).unwrap();
        want[3..5].copy_from_slice(b"XY");
        f.sync_all().unwrap();
    }
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(m.path("small")).unwrap();
        f.write_all(b"tail").unwrap();
        want.extend_from_slice(b"tail");
    }
    std::fs::write(m.path("cut"), pattern(4, 100_000)).unwrap();
    std::fs::OpenOptions::new().write(true).open(m.path("cut")).unwrap().set_len(5000).unwrap();
    {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(m.path("mapped"))
            .unwrap();
        f.set_len(8192).unwrap();
        // SAFETY: a fresh shared mapping of 8192 bytes of an open file, unmapped below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
        // SAFETY: the mapping is 8192 writable bytes until munmap.
        unsafe {
            std::slice::from_raw_parts_mut(p.cast::<u8>(), 8192).copy_from_slice(&pattern(5, 8192));
            assert_eq!(libc::msync(p, 8192, libc::MS_SYNC), 0);
            libc::munmap(p, 8192);
        }
        f.sync_all().unwrap();
    }
    let check = |root: &Path| {
        assert!(std::fs::read(root.join("small")).unwrap() == want, "small writes");
        assert!(std::fs::read(root.join("cut")).unwrap() == pattern(4, 100_000)[..5000], "truncation");
        assert!(std::fs::read(root.join("mapped")).unwrap() == pattern(5, 8192), "shared mapping");
    };
    check(&m.mnt);
    let status = m.unmount();
    assert!(status.is_some_and(|s| s.success()));
    let (code, report) = e2fsck(&img);
    assert_eq!(code, 0, "{report}");
    let m = FuseMount::foreground(&mnt, &spec, &[]);
    check(&m.mnt);
    unmount_and_compare(m, &img, dir.path());
}
