//! `irpstack mkfs`, `fsck` and `fs`, run as a user would, against e2fsprogs: what mkfs writes
//! (through a cache too) passes `e2fsck -fn`; fsck's exit code is e2fsck's on clean,
//! kernel-written and damaged images; `fs ls -l` prints what `debugfs -R 'ls -l'` prints,
//! `fs cat` and `fs get` what `debugfs -R cat` does, and `fs stat` debugfs's numbers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn irpstack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("the irpstack binary runs")
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn e2fsck(img: &Path) -> i32 {
    Command::new("e2fsck").arg("-fn").arg(img).output().unwrap().status.code().unwrap_or(-1)
}

fn debugfs(img: &Path, request: &str) -> Vec<u8> {
    run(Command::new("debugfs").arg("-R").arg(request).arg(img).env("TZ", "UTC"))
}

fn spec(img: &Path) -> String {
    format!("file(path={},read-only=true)", img.display())
}

/// A loop mount, unmounted on drop.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        if !Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// A kernel-written tree in `dir/k.img`, or why not.
fn kernel_image(dir: &Path) -> Result<PathBuf, String> {
    if !have("mkfs.ext4") || !have("mount") {
        return Err("mkfs.ext4 or mount is not installed".into());
    }
    let img = dir.join("k.img");
    run(Command::new("mkfs.ext4").args(["-q", "-F", "-E", "lazy_itable_init=0"]).arg(&img).arg("32M"));
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let out =
        Command::new("mount").args(["-o", "loop"]).arg(&img).arg(&mnt).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("mount -o loop refused: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let m = Mounted(mnt.clone());
    std::fs::create_dir_all(mnt.join("etc/deep")).unwrap();
    std::fs::write(mnt.join("etc/hostname"), b"irpstack\n").unwrap();
    std::fs::write(mnt.join("etc/deep/data.bin"), (0..300_000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>())
        .unwrap();
    std::fs::write(mnt.join("empty"), b"").unwrap();
    std::os::unix::fs::symlink("etc/hostname", mnt.join("link")).unwrap();
    std::fs::create_dir(mnt.join("many")).unwrap();
    for i in 0..500 {
        std::fs::write(mnt.join(format!("many/file-{i:04}")), format!("{i}\n")).unwrap();
    }
    drop(m);
    Ok(img)
}

#[test]
fn mkfs_writes_what_e2fsck_accepts_also_through_a_cache() {
    if !have("e2fsck") {
        return irp::testing::skip("e2fsck is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.img");
    let o = irpstack(&[
        "mkfs",
        "--stack",
        &format!("file(path={})", img.display()),
        "--size",
        "96M",
        "--label",
        "data",
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ext4, 24576 blocks of 4096 bytes"), "{}", text(&o));
    assert_eq!(e2fsck(&img), 0);
    let label = debugfs(&img, "stats");
    assert!(String::from_utf8_lossy(&label).contains("Filesystem volume name:   data"));
    // Through a write-back cache: the shutdown writes it back.
    let img2 = dir.path().join("b.img");
    let stack = format!("fs / cache(size=8M) / file(path={})", img2.display());
    let o = irpstack(&["mkfs", "--stack", &stack, "--size", "64M"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(e2fsck(&img2), 0);
    let o = irpstack(&["fsck", "--stack", &spec(&img2)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // An image that does not exist yet needs a size.
    let o = irpstack(&["mkfs", "--stack", &format!("file(path={})", dir.path().join("c.img").display())]);
    assert!(!o.status.success() && text(&o).contains("size"), "{}", text(&o));
}

#[test]
fn fsck_exits_as_e2fsck_does() {
    if !have("e2fsck") || !have("debugfs") {
        return irp::testing::skip("e2fsck or debugfs is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let img = match kernel_image(dir.path()) {
        Ok(i) => i,
        Err(why) => return irp::testing::skip(why),
    };
    let o = irpstack(&["fsck", "--stack", &spec(&img)]);
    assert_eq!((o.status.code(), e2fsck(&img)), (Some(0), 0), "{}", text(&o));
    assert!(text(&o).contains(": clean"), "{}", text(&o));

    let bad = dir.path().join("bad.img");
    std::fs::copy(&img, &bad).unwrap();
    run(Command::new("debugfs").args(["-w", "-R", "sif /etc/hostname links_count 3"]).arg(&bad));
    let o = irpstack(&["fsck", "--stack", &spec(&bad)]);
    assert_eq!((o.status.code(), e2fsck(&bad)), (Some(4), 4), "{}", text(&o));
    assert!(text(&o).contains("i_links_count is 3, should be 1"), "{}", text(&o));
    let o = irpstack(&["fsck", "--stack", &spec(&bad), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["exit_code"], 4);
    assert_eq!(v["problems"][0]["area"], "LinkCount");

    let zero = dir.path().join("zero.img");
    std::fs::write(&zero, vec![0u8; 4 << 20]).unwrap();
    let o = irpstack(&["fsck", "--stack", &spec(&zero)]);
    assert_eq!((o.status.code(), e2fsck(&zero)), (Some(8), 8), "{}", text(&o));
}

#[test]
fn fs_commands_show_what_debugfs_shows() {
    if !have("debugfs") {
        return irp::testing::skip("debugfs is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let img = match kernel_image(dir.path()) {
        Ok(i) => i,
        Err(why) => return irp::testing::skip(why),
    };
    let s = spec(&img);
    for path in ["/", "/etc", "/etc/deep", "/many", "/lost+found"] {
        let o = irpstack(&["fs", "ls", "-l", "--stack", &s, path]);
        assert!(o.status.success(), "{}", text(&o));
        let ours = String::from_utf8(o.stdout).unwrap();
        let theirs = String::from_utf8(debugfs(&img, &format!("ls -l {path}"))).unwrap();
        // debugfs also prints the empty record spanning each unused block (inode 0).
        let theirs: Vec<&str> =
            theirs.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("0 ")).collect();
        assert_eq!(ours.lines().collect::<Vec<_>>(), theirs, "ls -l {path}");
    }
    // cat follows a symbolic link, as POSIX cat does (debugfs's does not: it is given the target).
    for (path, theirs) in [
        ("/etc/hostname", "/etc/hostname"),
        ("/etc/deep/data.bin", "/etc/deep/data.bin"),
        ("/empty", "/empty"),
        ("/link", "/etc/hostname"),
        ("/many/file-0499", "/many/file-0499"),
    ] {
        let o = irpstack(&["fs", "cat", "--stack", &s, path]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(o.stdout == debugfs(&img, &format!("cat {theirs}")), "cat {path}");
    }
    let dest = dir.path().join("copy.bin");
    let o = irpstack(&["fs", "get", "--stack", &s, "/etc/deep/data.bin", dest.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read(&dest).unwrap() == debugfs(&img, "cat /etc/deep/data.bin"));

    // stat: the numbers debugfs's stat shows.
    for path in ["/etc/deep/data.bin", "/link", "/etc"] {
        let o = irpstack(&["fs", "stat", "--stack", &s, path]);
        assert!(o.status.success(), "{}", text(&o));
        let ours = String::from_utf8(o.stdout).unwrap();
        let theirs = String::from_utf8(debugfs(&img, &format!("stat {path}"))).unwrap();
        let field = |text: &str, name: &str| -> String {
            let at = text.find(name).unwrap_or_else(|| panic!("{name} in {text}")) + name.len();
            text[at..].split_whitespace().next().unwrap().trim_matches(|c| c == '(' || c == ')').to_owned()
        };
        assert_eq!(field(&ours, "Inode:"), field(&theirs, "Inode:"), "{path}");
        assert_eq!(field(&ours, "Size:"), field(&theirs, "Size:"), "{path}");
        assert_eq!(field(&ours, "Links:"), field(&theirs, "Links:"), "{path}");
        assert_eq!(field(&ours, "Blocks:"), field(&theirs, "Blockcount:"), "{path}");
        assert_eq!(field(&ours, "Uid:"), field(&theirs, "User:"), "{path}");
        assert_eq!(&field(&ours, "Access:")[..4], &format!("{:0>4}", field(&theirs, "Mode:")), "{path}");
        for (ours_name, theirs_name) in [("Modify:", "mtime:"), ("Change:", "ctime:"), ("Access:", "atime:")]
        {
            let line = ours.lines().rfind(|l| l.starts_with(ours_name)).unwrap();
            let secs: i64 = line.rsplit('(').next().unwrap().split('.').next().unwrap().parse().unwrap();
            let hex = field(&theirs, theirs_name);
            let theirs_secs =
                i64::from_str_radix(hex.trim_start_matches("0x").split(':').next().unwrap(), 16).unwrap();
            assert_eq!(secs, theirs_secs, "{path} {ours_name}");
        }
    }
    // Errors.
    let o = irpstack(&["fs", "cat", "--stack", &s, "/missing"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("/missing: STATUS_OBJECT_NAME_NOT_FOUND"), "{}", text(&o));
    let o = irpstack(&["fs", "cat", "--stack", &s, "/etc"]);
    assert!(text(&o).contains("STATUS_FILE_IS_A_DIRECTORY"), "{}", text(&o));
    let o = irpstack(&["fs", "ls", "/"]);
    assert!(!o.status.success() && text(&o).contains("--stack"), "{}", text(&o));
}

#[test]
fn help_explains_the_file_system_commands() {
    for (args, needles) in [
        (vec!["--help"], vec!["mkfs", "fsck", "fs "]),
        (vec!["fsck", "--help"], vec!["Exit status", "0 the volume is clean", "4 errors", "8 the volume"]),
        (vec!["mkfs", "--help"], vec!["--size", "e2fsck"]),
        (
            vec!["fs", "--help"],
            vec!["ls", "stat", "cat", "get", "put", "mkdir", "rm", "mv", "ln", "read-only", "read-write"],
        ),
        (vec!["fs", "put", "--help"], vec!["standard input", "--mode", "--no-clobber", "directory"]),
        (vec!["fs", "mkdir", "--help"], vec!["--parents", "--mode"]),
        (vec!["fs", "rm", "--help"], vec!["--recursive", "--force"]),
        (vec!["fs", "mv", "--help"], vec!["--no-clobber", "directory"]),
        (vec!["fs", "ln", "--help"], vec!["--symbolic", "--force"]),
    ] {
        let o = irpstack(&args);
        assert!(o.status.success(), "{args:?}");
        let help = String::from_utf8(o.stdout).unwrap();
        for n in needles {
            assert!(help.contains(n), "{args:?} --help lacks {n:?}:\n{help}");
        }
    }
}
