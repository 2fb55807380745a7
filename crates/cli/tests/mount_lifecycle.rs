//! The life of an `irpstack mount`: started in the background it returns once the mount is
//! ready and its process ends with `fusermount3 -u` or `umount`; in the foreground SIGTERM
//! unmounts and exits 0, a busy mount is detached and served until its last file closes, a
//! second signal aborts it; the image is clean after each (`e2fsck -fn`). Refused with a
//! clear message: a mount point that is already one, one that is not a directory, an
//! unknown option, a volume that fails its check (unless `--no-check`); `irpstack sync` of
//! a directory that is not an irpstack mount.

mod mount_support;

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use mount_support::*;

/// A small image made from a tree of a few files, or why FUSE cannot run here.
fn image(dir: &std::path::Path) -> Result<std::path::PathBuf, String> {
    if let Some(reason) = fuse_missing() {
        return Err(reason);
    }
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("hello"), b"hello\n").unwrap();
    std::fs::write(tree.join("sub/data"), pattern(3, 200_000)).unwrap();
    let img = dir.join("fs.img");
    mkfs_from(&tree, &img, "16M");
    Ok(img)
}

fn assert_clean(img: &std::path::Path) {
    let (code, report) = e2fsck(img);
    assert_eq!(code, 0, "e2fsck -fn: {report}");
}

#[test]
fn a_background_mount_ends_with_fusermount_or_umount() {
    let dir = tempfile::tempdir().unwrap();
    let img = match image(dir.path()) {
        Ok(i) => i,
        Err(reason) => return irp::testing::skip(reason),
    };
    for unmount in ["fusermount3", "umount"] {
        let mnt = dir.path().join("mnt");
        let mut m = FuseMount::background(&mnt, &ro_spec(&img), &[]);
        assert!(alive(m.pid), "the serving process {} is not running", m.pid);
        assert_eq!(std::fs::read(m.path("hello")).unwrap(), b"hello\n");
        assert_eq!(std::fs::read(m.path("sub/data")).unwrap(), pattern(3, 200_000));
        let args: &[&str] = if unmount == "fusermount3" { &["-u"] } else { &[] };
        run(Command::new(unmount).args(args).arg(&mnt));
        m.wait_exit(Duration::from_secs(30));
        assert!(!is_mount_point(&mnt), "{unmount}: still mounted");
        assert!(m.log_text().contains("mounted"), "the log: {}", m.log_text());
        assert_clean(&img);
    }
}

#[test]
fn sigterm_unmounts_and_a_busy_mount_is_detached_until_its_files_close() {
    let dir = tempfile::tempdir().unwrap();
    let img = match image(dir.path()) {
        Ok(i) => i,
        Err(reason) => return irp::testing::skip(reason),
    };
    let mnt = dir.path().join("mnt");

    // Idle: SIGTERM unmounts, the process exits 0.
    let mut m = FuseMount::foreground(&mnt, &ro_spec(&img), &[]);
    m.signal(libc::SIGTERM);
    let status = m.wait_exit(Duration::from_secs(30)).unwrap();
    assert!(status.success(), "{status}: {}", m.log_text());
    assert!(!is_mount_point(&mnt));
    drop(m);

    // A file open: SIGTERM detaches the mount; the open file still reads; its close ends it.
    let mut m = FuseMount::foreground(&mnt, &ro_spec(&img), &[]);
    let mut f = std::fs::File::open(m.path("sub/data")).unwrap();
    m.signal(libc::SIGTERM);
    assert!(wait_for(Duration::from_secs(30), || !is_mount_point(&mnt)), "not detached: {}", m.log_text());
    assert!(alive(m.pid), "the process ended with a file open: {}", m.log_text());
    let mut data = Vec::new();
    f.read_to_end(&mut data).unwrap();
    assert_eq!(data, pattern(3, 200_000));
    drop(f);
    let status = m.wait_exit(Duration::from_secs(30)).unwrap();
    assert!(status.success(), "{status}: {}", m.log_text());
    assert!(m.log_text().contains("detached"), "{}", m.log_text());
    drop(m);

    // A file open and a second signal: the connection is aborted, the process ends.
    let mut m = FuseMount::foreground(&mnt, &ro_spec(&img), &[]);
    let mut f = std::fs::File::open(m.path("hello")).unwrap();
    m.signal(libc::SIGTERM);
    assert!(wait_for(Duration::from_secs(30), || !is_mount_point(&mnt)), "not detached");
    m.signal(libc::SIGINT);
    let status = m.wait_exit(Duration::from_secs(30)).unwrap();
    assert!(status.success(), "{status}: {}", m.log_text());
    let mut buf = Vec::new();
    assert!(f.read_to_end(&mut buf).is_err(), "a read after the abort succeeded");
    drop(m);
    assert_clean(&img);
}

#[test]
fn busy_and_bad_mount_points_and_options_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let img = match image(dir.path()) {
        Ok(i) => i,
        Err(reason) => return irp::testing::skip(reason),
    };
    let mnt = dir.path().join("mnt");
    let spec = ro_spec(&img);
    let m = FuseMount::foreground(&mnt, &spec, &[]);
    let mnt_s = mnt.display().to_string();
    for args in [vec!["mount", &mnt_s, "--stack", &spec], vec!["mount", "-f", &mnt_s, "--stack", &spec]] {
        let out = irpstack(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("is busy: irpstack (fuse) is mounted there"), "{}", text(&out));
    }
    assert!(alive(m.pid) && is_mount_point(&mnt), "the first mount suffered");
    drop(m);

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let file_s = file.display().to_string();
    let out = irpstack(&["mount", &file_s, "--stack", &spec]);
    assert!(!out.status.success() && text(&out).contains("not a directory"), "{}", text(&out));
    let missing = dir.path().join("missing").display().to_string();
    let out = irpstack(&["mount", &missing, "--stack", &spec]);
    assert!(!out.status.success() && text(&out).contains("missing"), "{}", text(&out));
    let out = irpstack(&["mount", &mnt_s, "-o", "ro,bogus", "--stack", &spec]);
    assert!(!out.status.success() && text(&out).contains("unknown mount option \"bogus\""), "{}", text(&out));
    let out = irpstack(&["mount", &mnt_s, "--stack", "nosuchdriver(x=1)"]);
    assert!(!out.status.success() && text(&out).contains("nosuchdriver"), "{}", text(&out));
    assert!(!is_mount_point(&mnt));

    let out = irpstack(&["sync", &dir.path().display().to_string()]);
    assert!(!out.status.success() && text(&out).contains("is not an irpstack mount"), "{}", text(&out));
}

#[test]
fn a_volume_that_fails_its_check_is_not_mounted() {
    let dir = tempfile::tempdir().unwrap();
    let img = match image(dir.path()) {
        Ok(i) => i,
        Err(reason) => return irp::testing::skip(reason),
    };
    if !have("debugfs") {
        return irp::testing::skip("debugfs is not installed");
    }
    // A wrong link count: e2fsck's pass 4 finds it, and so does our check.
    run(Command::new("debugfs").args(["-w", "-R", "sif /hello links_count 5"]).arg(&img));
    assert_ne!(e2fsck(&img).0, 0, "the damage is not what e2fsck sees");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mnt_s = mnt.display().to_string();
    let spec = ro_spec(&img);
    for fg in [false, true] {
        let mut args = vec!["mount", &mnt_s, "--stack", &spec];
        if fg {
            args.insert(1, "-f");
        }
        let out = irpstack(&args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let said = text(&out);
        assert!(said.contains("the volume fails its check") && said.contains("irpstack fsck"), "{said}");
        assert!(!is_mount_point(&mnt));
    }
    // Asked to, it mounts anyway (read-only here).
    let m = FuseMount::foreground(&mnt, &spec, &["--no-check"]);
    assert_eq!(std::fs::read(m.path("hello")).unwrap(), b"hello\n");
    drop(m);
}
