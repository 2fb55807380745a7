//! `irpstack mount` of an image `mkfs.ext4 -d` made from a host tree, read-only: every file,
//! directory, symbolic link, device node, FIFO, hard link and xattr reads back as the host
//! tree holds it; every `lstat` field, `SEEK_DATA`/`SEEK_HOLE` answer and `statfs` count is
//! what the kernel's own ext4 (a loop mount of the same image) reports; a shared `mmap`
//! reads the file; several threads reading at once get the same bytes; `fusermount3 -u`
//! ends the process and the image stays clean (`e2fsck -fn`).

mod mount_support;

use std::ffi::CString;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use mount_support::tree::tree;
use mount_support::*;

const BIG_DIR: usize = 3000;

/// Every `lstat` field, for comparing with the kernel's.
fn lstat_all(root: &Path, rel: &str) -> [i64; 14] {
    let m = std::fs::symlink_metadata(root.join(rel)).unwrap();
    [
        m.ino() as i64,
        m.mode() as i64,
        m.nlink() as i64,
        m.uid() as i64,
        m.gid() as i64,
        m.rdev() as i64,
        m.size() as i64,
        m.blocks() as i64,
        m.atime(),
        m.atime_nsec(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ]
}

fn seeks(path: &Path, size: u64) -> Vec<(u64, i64, i64)> {
    let f = std::fs::File::open(path).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    let mut out = Vec::new();
    for off in (0..size + 8192).step_by(1500) {
        // SAFETY: `fd` is open for the calls.
        let data = unsafe { libc::lseek(fd, off as i64, libc::SEEK_DATA) };
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, off as i64, libc::SEEK_HOLE) };
        out.push((off, data, hole));
    }
    out
}

fn statfs(path: &Path) -> [u64; 6] {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: all-zero is a valid statvfs to be overwritten.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated, `s` a live statvfs.
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
    [s.f_bsize, s.f_bfree, s.f_bavail, s.f_files, s.f_ffree, s.f_namemax]
}

/// The superblock's reserved block count (`dumpe2fs -h`).
fn reserved_blocks(img: &Path) -> u64 {
    let out = String::from_utf8(run(Command::new("dumpe2fs").arg("-h").arg(img))).unwrap();
    let line = out.lines().find(|l| l.starts_with("Reserved block count:")).expect("dumpe2fs names it");
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn populate(t: &Path) -> bool {
    let w = |p: &str, data: &[u8]| std::fs::write(t.join(p), data).unwrap();
    for (i, (name, len)) in [
        ("empty", 0usize),
        ("one", 1),
        ("odd", 4095),
        ("page", 4096),
        ("page_plus", 4097),
        ("medium", 100_000),
        ("large", (3 << 20) + 5),
    ]
    .into_iter()
    .enumerate()
    {
        w(name, &pattern(i as u64 + 1, len));
    }
    {
        let mut f = std::fs::File::create(t.join("sparse")).unwrap();
        f.seek(SeekFrom::Start(3 * 4096 + 100)).unwrap();
        f.write_all(&pattern(77, 5000)).unwrap();
        f.seek(SeekFrom::Start(20 * 4096)).unwrap();
        f.write_all(&pattern(78, 4096)).unwrap();
        f.set_len(40 * 4096).unwrap();
    }
    std::fs::create_dir_all(t.join("dir/sub")).unwrap();
    w("dir/sub/deep.txt", b"deep\n");
    w("dir/a.txt", b"a\n");
    std::fs::hard_link(t.join("medium"), t.join("dir/hard")).unwrap();
    std::fs::create_dir(t.join("big")).unwrap();
    for i in 0..BIG_DIR {
        w(&format!("big/entry-{i:05}"), format!("{i}").as_bytes());
    }
    symlink("page", t.join("fast")).unwrap();
    symlink(format!("dir/{}sub/deep.txt", "./".repeat(40)), t.join("slow")).unwrap();
    symlink("/dir/a.txt", t.join("abs")).unwrap();
    symlink("nowhere", t.join("dangling")).unwrap();
    run(Command::new("mkfifo").arg(t.join("fifo")));
    run(Command::new("mknod").arg(t.join("null")).args(["c", "1", "3"]));
    run(Command::new("mknod").arg(t.join("blk")).args(["b", "259", "70000"]));
    std::fs::set_permissions(t.join("one"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(t.join("odd"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::create_dir(t.join("sticky")).unwrap();
    std::fs::set_permissions(t.join("sticky"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::os::unix::fs::lchown(t.join("page"), Some(1000), Some(1000)).unwrap();
    std::os::unix::fs::lchown(t.join("dir/sub"), Some(1234), Some(5678)).unwrap();
    // user.* xattrs, if the host's file system takes them.
    let set = |p: &str, name: &str, value: &[u8]| {
        let c = CString::new(t.join(p).as_os_str().as_bytes()).unwrap();
        let n = CString::new(name).unwrap();
        // SAFETY: NUL-terminated strings and a buffer of the length passed.
        unsafe { libc::lsetxattr(c.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) == 0 }
    };
    set("medium", "user.color", b"blue")
        && set("medium", "user.big", &pattern(9, 1000))
        && set("dir", "user.dir", b"")
        && set("empty", "trusted.t", b"root only")
}

#[test]
fn a_kernel_made_tree_reads_back_as_the_host_and_the_kernel_see_it() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("tree");
    std::fs::create_dir(&host).unwrap();
    let with_xattrs = populate(&host);
    let img = dir.path().join("fs.img");
    mkfs_from(&host, &img, "64M");
    let kernel = match KernelMount::new(&img, &dir.path().join("kernel")) {
        Ok(k) => Some(k),
        Err(reason) => {
            irp::testing::skip(format!("{reason}: no comparison with the kernel's ext4"));
            None
        }
    };
    let m = FuseMount::foreground(&dir.path().join("mnt"), &ro_spec(&img), &["--threads", "4"]);

    // The host's tree, and what the mount shows (lost+found is mkfs's).
    let want = tree(&host, false);
    let mut got = tree(&m.mnt, false);
    assert!(got.remove("lost+found").is_some());
    got.get_mut("").unwrap().names.as_mut().unwrap().remove(b"lost+found".as_slice());
    let (want_root, got_root) = (&want[""], &got[""]);
    assert_eq!(got_root.names, want_root.names);
    for (path, w) in &want {
        let g = got.get(path).unwrap_or_else(|| panic!("{path} is missing from the mount"));
        let mut w = w.clone();
        if !with_xattrs {
            w.xattrs = g.xattrs.clone();
        }
        if path.is_empty() {
            w.perm = g.perm; // the root's mode is mkfs's, not the tree's
            w.uid = g.uid;
            w.gid = g.gid;
            w.names = g.names.clone();
        }
        assert_eq!(g, &w, "{path}");
    }
    assert_eq!(got.len(), want.len());

    if let Some(k) = &kernel {
        let kernel_tree = tree(&k.mnt, true);
        let fuse_tree = tree(&m.mnt, true);
        assert_eq!(fuse_tree, kernel_tree, "the mount and the kernel's ext4 disagree");
        for path in kernel_tree.keys() {
            assert_eq!(lstat_all(&m.mnt, path), lstat_all(&k.mnt, path), "lstat of {path:?}");
        }
        for f in ["sparse", "large", "empty"] {
            let size = std::fs::metadata(m.path(f)).unwrap().len();
            assert_eq!(seeks(&m.path(f), size), seeks(&k.mnt.join(f), size), "SEEK_DATA/SEEK_HOLE in {f}");
        }
        // Sizes and counts as the kernel's, but the space available to users: the kernel
        // also holds back s_resv_clusters (2% of the volume, at most 4096 clusters) for its
        // delayed allocation, which our file system does not do.
        let (ours, theirs) = (statfs(&m.mnt), statfs(&k.mnt));
        assert_eq!(
            [ours[0], ours[1], ours[3], ours[4], ours[5]],
            [theirs[0], theirs[1], theirs[3], theirs[4], theirs[5]]
        );
        assert_eq!(ours[2], ours[1] - reserved_blocks(&img), "f_bavail = f_bfree - reserved");
    }

    // `ls -f` lists a big directory by readdir alone, `ls -l` with the attributes (the
    // kernel then asks for readdirplus); both see every entry.
    let names = run(Command::new("ls").arg("-f").arg(m.path("big")));
    assert_eq!(names.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count(), BIG_DIR + 2);
    let long = run(Command::new("ls").arg("-ln").arg(m.path("big")));
    assert_eq!(long.split(|&b| b == b'\n').filter(|l| l.starts_with(b"-rw")).count(), BIG_DIR);

    // A shared mapping reads the file (no direct_io).
    {
        let f = std::fs::File::open(m.path("large")).unwrap();
        let len = f.metadata().unwrap().len() as usize;
        // SAFETY: a fresh read-only shared mapping of an open file, unmapped below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&f),
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
        // SAFETY: the mapping is `len` readable bytes until munmap.
        let mapped = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec();
        // SAFETY: `p` and `len` are the mapping's.
        unsafe { libc::munmap(p, len) };
        assert!(mapped == pattern(7, (3 << 20) + 5), "the shared mapping differs");
    }

    // Readers in parallel (4 serving threads) get what the host holds.
    std::thread::scope(|s| {
        for t in 0..4 {
            let (m, want) = (&m, &want);
            s.spawn(move || {
                for (path, w) in want.iter().filter(|(_, w)| w.data.is_some()).skip(t * 7).take(400) {
                    assert_eq!(std::fs::read(m.path(path)).unwrap(), *w.data.as_ref().unwrap(), "{path}");
                }
            });
        }
    });

    drop(kernel);
    let status = m.unmount();
    assert!(status.is_some_and(|s| s.success()), "the mount's process failed: {status:?}");
    let (code, report) = e2fsck(&img);
    assert_eq!(code, 0, "{report}");
}
