//! Real programs on a read-write `irpstack mount`, each checked after an unmount and a
//! remount, with `e2fsck -fn` clean after every unmount and the kernel's ext4 (a read-only
//! loop mount) reading the same tree: coreutils on a tree of 10,000 files (`cp -a`, `mv`,
//! `ln`, `rm -r`, `tar`), sqlite3 in WAL and rollback-journal modes (`PRAGMA
//! integrity_check`, every committed row there), git (`init`, `add`, `commit`, `fsck`), a
//! 4 GiB sparse file written at both ends, and several processes writing and fsyncing
//! their own files and one shared file at once (a deadline that fails loudly).

mod mount_support;

use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mount_support::tree::{differences, tree};
use mount_support::*;

struct Volume {
    dir: tempfile::TempDir,
    img: PathBuf,
    mnt: PathBuf,
}

impl Volume {
    /// An empty ext4 image (mkfs.ext4) of `size`.
    fn new(size: &str) -> Volume {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let img = dir.path().join("fs.img");
        mkfs_from(&empty, &img, size);
        let mnt = dir.path().join("mnt");
        Volume { dir, img, mnt }
    }

    fn mount(&self) -> FuseMount {
        FuseMount::foreground(&self.mnt, &format!("file(path={})", self.img.display()), &[])
    }

    /// Unmounts; the image must be clean and the kernel must read the tree the mount showed.
    fn unmount(&self, m: FuseMount) {
        self.unmount_comparing(m, true);
    }

    /// Unmounts; the image must be clean, and with `compare` the kernel must read the tree
    /// the mount showed.
    fn unmount_comparing(&self, m: FuseMount, compare: bool) {
        let seen = compare.then(|| tree(&m.mnt, true));
        let status = m.unmount();
        assert!(status.is_some_and(|s| s.success()), "the mount's process: {status:?}");
        let (code, report) = e2fsck(&self.img);
        assert_eq!(code, 0, "e2fsck -fn after the unmount: {report}");
        let Some(seen) = seen else { return };
        match KernelMount::new(&self.img, &self.dir.path().join("kernel")) {
            Ok(k) => {
                let diff = differences(&seen, &tree(&k.mnt, true));
                assert!(diff.is_empty(), "the kernel reads another tree:\n{}", diff.join("\n"));
            }
            Err(reason) => irp::testing::skip(reason),
        }
    }
}

fn sh(cwd: &Path, script: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(script).current_dir(cwd).output().unwrap();
    assert!(out.status.success(), "{script}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn coreutils_on_ten_thousand_files_survive_a_remount() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    let v = Volume::new("256M");
    // The tree, and the same operations on a host copy: the expected result.
    let host = v.dir.path().join("host");
    let src = host.join("src");
    for d in 0..20 {
        std::fs::create_dir_all(src.join(format!("d{d:02}"))).unwrap();
        for f in 0..500 {
            let len = if f % 50 == 0 { 50_000 + d * 1000 } else { 10 + f };
            std::fs::write(src.join(format!("d{d:02}/f{f:03}")), pattern((d * 1000 + f) as u64, len))
                .unwrap();
        }
    }
    symlink("../d01/f001", src.join("d00/link")).unwrap();
    std::fs::hard_link(src.join("d02/f002"), src.join("d02/hard")).unwrap();
    let m = v.mount();
    let ops = "mv src/d03 src/d03-moved && ln -s d00/f000 src/top-link && ln src/d04/f004 src/d04/again \
               && rm -r src/d05 && mv src/d06/f000 src/d07/from-six && cp -a src/d08 src/d08-copy";
    sh(&m.mnt, "cp -a \"$SRC\" .".replace("$SRC", src.to_str().unwrap()).as_str());
    sh(&m.mnt, ops);
    sh(&host, ops);
    // tar out of the mount and back in.
    let tarball = v.dir.path().join("d09.tar");
    sh(
        &m.mnt,
        &format!(
            "tar -cf {} src/d09 && mkdir tarred && tar -C tarred -xf {}",
            tarball.display(),
            tarball.display()
        ),
    );
    sh(&host, &format!("mkdir tarred && tar -C tarred -xf {}", tarball.display()));
    let expect_src = tree(&src, false);
    let diff = differences(&expect_src, &tree(&m.path("src"), false));
    assert!(diff.is_empty(), "the mount differs from the host:\n{}", diff[..diff.len().min(20)].join("\n"));
    assert_eq!(tree(&host.join("tarred"), false), tree(&m.path("tarred"), false));
    v.unmount(m);

    let m = v.mount();
    let diff = differences(&expect_src, &tree(&m.path("src"), false));
    assert!(diff.is_empty(), "after the remount:\n{}", diff[..diff.len().min(20)].join("\n"));
    sh(&m.mnt, "rm -r src tarred");
    assert_eq!(std::fs::read_dir(&m.mnt).unwrap().count(), 1, "only lost+found is left");
    v.unmount(m);
}

const SQL_ROWS: usize = 300;

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().expect("sqlite3 runs");
    assert!(out.status.success(), "sqlite3 {sql}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn sqlite_in_wal_and_rollback_journal_modes() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    if !have("sqlite3") {
        return irp::testing::skip("sqlite3 is not installed");
    }
    let v = Volume::new("128M");
    let m = v.mount();
    for mode in ["wal", "delete"] {
        let db = m.path(&format!("{mode}.db"));
        assert_eq!(sqlite(&db, &format!("PRAGMA journal_mode={mode};")), mode);
        sqlite(&db, "PRAGMA synchronous=FULL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);");
        // One transaction per statement batch, each committed on its own.
        let mut script = String::from("PRAGMA synchronous=FULL;\n");
        for i in 0..SQL_ROWS {
            script.push_str(&format!(
                "BEGIN; INSERT INTO t VALUES({i}, randomblob({})); COMMIT;\n",
                500 + i * 37
            ));
        }
        script
            .push_str("UPDATE t SET v = zeroblob(100) WHERE id % 7 = 0;\nDELETE FROM t WHERE id % 11 = 0;\n");
        let mut child =
            Command::new("sqlite3").arg(&db).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{mode}: {}", text(&out));
        assert_eq!(sqlite(&db, "PRAGMA integrity_check;"), "ok", "{mode}");
    }
    let want = (0..SQL_ROWS).filter(|i| i % 11 != 0).count().to_string();
    let check = |m: &FuseMount| {
        for mode in ["wal", "delete"] {
            let db = m.path(&format!("{mode}.db"));
            assert_eq!(sqlite(&db, "PRAGMA integrity_check;"), "ok", "{mode} after the remount");
            assert_eq!(sqlite(&db, "SELECT count(*) FROM t;"), want, "{mode}: rows");
            assert_eq!(
                sqlite(&db, "SELECT count(*) FROM t WHERE length(v) = 100;"),
                (0..SQL_ROWS).filter(|i| i % 7 == 0 && i % 11 != 0).count().to_string()
            );
        }
    };
    check(&m);
    v.unmount(m);
    let m = v.mount();
    check(&m);
    v.unmount(m);
}

#[test]
fn git_init_add_commit_and_fsck() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    if !have("git") {
        return irp::testing::skip("git is not installed");
    }
    // git gc's pack-objects reads its revisions from /dev/null: a regular file left there
    // (a program that renamed a file over it as root) feeds it garbage.
    if !std::fs::metadata("/dev/null")
        .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_char_device(&m.file_type()))
    {
        return irp::testing::skip(
            "/dev/null is not the null device on this machine (a regular file replaced it)",
        );
    }
    let v = Volume::new("128M");
    let m = v.mount();
    let repo = m.path("repo");
    std::fs::create_dir(&repo).unwrap();
    for i in 0..200 {
        let d = repo.join(format!("dir{}", i % 10));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("file{i}.txt")), pattern(i, 100 + (i as usize) * 53)).unwrap();
    }
    let git =
        "git -c user.name=t -c user.email=t@example.invalid -c core.fsync=all -c core.fsyncMethod=fsync";
    sh(&repo, &format!("git init -q . && {git} add -A && {git} commit -qm first"));
    std::fs::write(repo.join("dir1/file1.txt"), b"changed\n").unwrap();
    std::fs::remove_file(repo.join("dir2/file2.txt")).unwrap();
    sh(&repo, &format!("{git} commit -qam second && {git} gc -q && git fsck --full --strict"));
    v.unmount(m);
    let m = v.mount();
    let repo = m.path("repo");
    sh(&repo, "git fsck --full --strict");
    assert_eq!(sh(&repo, "git rev-list --count HEAD").trim(), "2");
    assert_eq!(sh(&repo, "git status --porcelain"), "");
    assert_eq!(std::fs::read(repo.join("dir1/file1.txt")).unwrap(), b"changed\n");
    v.unmount(m);
}

#[test]
fn a_four_gib_sparse_file_written_at_both_ends() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    const SIZE: u64 = 4 << 30;
    const END: usize = 1 << 20;
    let v = Volume::new("64M");
    let m = v.mount();
    let check = |root: &Path| {
        let f = std::fs::File::open(root.join("sparse")).unwrap();
        let md = f.metadata().unwrap();
        assert_eq!(md.len(), SIZE);
        assert!(md.blocks() * 512 < 8 << 20, "{} bytes allocated for 2 MiB of data", md.blocks() * 512);
        let mut head = vec![0u8; END];
        f.read_exact_at(&mut head, 0).unwrap();
        assert!(head == pattern(1, END), "the head differs");
        let mut tail = vec![0u8; END];
        f.read_exact_at(&mut tail, SIZE - END as u64).unwrap();
        assert!(tail == pattern(2, END), "the tail differs");
        let mut middle = vec![1u8; 4096];
        f.read_exact_at(&mut middle, SIZE / 2).unwrap();
        assert!(middle.iter().all(|&b| b == 0), "the hole holds data");
        // SAFETY: the descriptor of an open file.
        let (hole, data) = unsafe {
            (
                libc::lseek(f.as_raw_fd(), 0, libc::SEEK_HOLE),
                libc::lseek(f.as_raw_fd(), END as i64, libc::SEEK_DATA),
            )
        };
        assert_eq!((hole as u64, data as u64), (END as u64, SIZE - END as u64));
    };
    {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(m.path("sparse"))
            .unwrap();
        f.write_all_at(&pattern(1, END), 0).unwrap();
        f.write_all_at(&pattern(2, END), SIZE - END as u64).unwrap();
        f.sync_all().unwrap();
    }
    check(&m.mnt);
    v.unmount_comparing(m, false); // check() is the comparison: the kernel's below
    let m = v.mount();
    check(&m.mnt);
    v.unmount_comparing(m, false); // check() is the comparison: the kernel's below
    match KernelMount::new(&v.img, &v.dir.path().join("kernel")) {
        Ok(k) => check(&k.mnt),
        Err(reason) => irp::testing::skip(reason),
    }
}

const WRITERS: usize = 4;
const BLOCKS: usize = 64;

#[test]
fn processes_writing_and_fsyncing_at_once_lose_nothing_and_finish() {
    if let Some(reason) = fuse_missing() {
        return irp::testing::skip(reason);
    }
    let v = Volume::new("128M");
    let m = v.mount();
    let sources: Vec<PathBuf> = (0..WRITERS)
        .map(|k| {
            let p = v.dir.path().join(format!("src{k}"));
            std::fs::write(&p, pattern(100 + k as u64, BLOCKS * 4096)).unwrap();
            p
        })
        .collect();
    // Each writer: block i of its source to block i of its own file and to block i*W+k of
    // the shared one, each write followed by an fsync (dd conv=fsync).
    let mut children: Vec<_> = (0..WRITERS)
        .map(|k| {
            let script = format!(
                "for i in $(seq 0 {last}); do \
                   dd if={src} of={own} bs=4096 count=1 skip=$i seek=$i conv=notrunc,fsync status=none || exit 1; \
                   dd if={src} of={shared} bs=4096 count=1 skip=$i seek=$((i*{w}+{k})) conv=notrunc,fsync status=none || exit 1; \
                 done",
                last = BLOCKS - 1,
                src = sources[k].display(),
                own = m.path(&format!("own{k}")).display(),
                shared = m.path("shared").display(),
                w = WRITERS,
            );
            Command::new("sh").arg("-c").arg(script).spawn().unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut done = vec![false; WRITERS];
    while done.iter().any(|d| !d) {
        for (k, child) in children.iter_mut().enumerate() {
            if !done[k]
                && let Some(status) = child.try_wait().unwrap()
            {
                assert!(status.success(), "writer {k} failed: {status}");
                done[k] = true;
            }
        }
        if Instant::now() > deadline {
            for c in &mut children {
                let _ = c.kill();
                let _ = c.wait();
            }
            panic!(
                "writers still running after 300 s (a deadlock?): {:?}; the mount's log:\n{}",
                done,
                m.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let check = |root: &Path| {
        let shared = std::fs::read(root.join("shared")).unwrap();
        assert_eq!(shared.len(), WRITERS * BLOCKS * 4096);
        for (k, src) in sources.iter().enumerate() {
            let want = std::fs::read(src).unwrap();
            assert!(std::fs::read(root.join(format!("own{k}"))).unwrap() == want, "own{k} differs");
            for i in 0..BLOCKS {
                let at = (i * WRITERS + k) * 4096;
                assert!(
                    shared[at..at + 4096] == want[i * 4096..(i + 1) * 4096],
                    "shared block {i} of writer {k}"
                );
            }
        }
    };
    check(&m.mnt);
    v.unmount(m);
    let m = v.mount();
    check(&m.mnt);
    v.unmount(m);
}
