//! `irpstack fs put|mkdir|rm|mv|ln`, run as a user would on an image our mkfs made: after
//! every command `e2fsck -fn` finds the image clean (each command shuts the volume down),
//! `debugfs` sees what the commands did (file contents, links, names), and errors exit 1
//! with a message naming the path.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn irpstack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_irpstack")).args(args).env("TZ", "UTC").output().expect("irpstack runs")
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs `irpstack fs VERB --stack SPEC ARGS...`; asserts success, then that e2fsck is clean.
fn fs_ok(img: &Path, verb: &str, args: &[&str]) -> String {
    let spec = format!("file(path={})", img.display());
    let mut all = vec!["fs", verb, "--stack", &spec];
    all.extend_from_slice(args);
    let o = irpstack(&all);
    assert!(o.status.success(), "fs {verb} {args:?}: {}", text(&o));
    assert_clean(img, &format!("fs {verb} {args:?}"));
    text(&o)
}

/// Runs a command that must fail: exit 1 and a message holding `needle`.
fn fs_fails(img: &Path, verb: &str, args: &[&str], needle: &str) {
    let spec = format!("file(path={})", img.display());
    let mut all = vec!["fs", verb, "--stack", &spec];
    all.extend_from_slice(args);
    let o = irpstack(&all);
    assert_eq!(o.status.code(), Some(1), "fs {verb} {args:?} should fail: {}", text(&o));
    assert!(text(&o).contains(needle), "fs {verb} {args:?}: {:?} lacks {needle:?}", text(&o));
    assert_clean(img, &format!("fs {verb} {args:?} (failed)"));
}

fn assert_clean(img: &Path, when: &str) {
    let o = Command::new("e2fsck").arg("-fn").arg(img).output().unwrap();
    assert!(o.status.success(), "e2fsck -fn after {when}: {}", text(&o));
}

fn debugfs(img: &Path, request: &str) -> Vec<u8> {
    let o = Command::new("debugfs").arg("-R").arg(request).arg(img).output().unwrap();
    assert!(o.status.success(), "debugfs {request}: {}", text(&o));
    o.stdout
}

fn debugfs_names(img: &Path, dir: &str) -> Vec<String> {
    let out = String::from_utf8(debugfs(img, &format!("ls -p {dir}"))).unwrap();
    let mut names: Vec<String> = out
        .lines()
        .filter_map(|l| l.split('/').nth(5).map(str::to_owned))
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .collect();
    names.sort();
    names
}

#[test]
fn put_mkdir_ln_mv_rm_change_the_volume_as_debugfs_sees() {
    if !have("e2fsck") || !have("debugfs") {
        return irp::testing::skip("e2fsck or debugfs is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fs.img");
    let mkfs = irpstack(&["mkfs", "--stack", &format!("file(path={},size=64M)", img.display())]);
    assert!(mkfs.status.success(), "{}", text(&mkfs));

    fs_ok(&img, "mkdir", &["-p", "/srv/www/static", "/srv/data"]);
    fs_fails(&img, "mkdir", &["/srv"], "/srv: STATUS_OBJECT_NAME_COLLISION");
    fs_fails(&img, "mkdir", &["/none/x"], "/none/x");
    fs_ok(&img, "mkdir", &["-p", "/srv/www"]);
    assert_eq!(debugfs_names(&img, "/srv"), ["data", "www"]);

    let host = dir.path().join("index.html");
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&host, &big).unwrap();
    let out = fs_ok(&img, "put", &[host.to_str().unwrap(), "/srv/www/"]);
    assert!(out.contains("/srv/www/index.html: 2500000 bytes"), "{out}");
    assert_eq!(debugfs(&img, "cat /srv/www/index.html"), big);
    // From standard input, and over an existing file (its contents replaced).
    let spec = format!("file(path={})", img.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .args(["fs", "put", "--stack", &spec, "--mode", "600", "-", "/srv/data/notes"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"from stdin\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_clean(&img, "put from stdin");
    assert_eq!(debugfs(&img, "cat /srv/data/notes"), b"from stdin\n");
    let stat = String::from_utf8(debugfs(&img, "stat /srv/data/notes")).unwrap();
    assert!(stat.contains("Mode:  0600"), "{stat}");
    let small = dir.path().join("small");
    std::fs::write(&small, b"short").unwrap();
    fs_ok(&img, "put", &[small.to_str().unwrap(), "/srv/data/notes"]);
    assert_eq!(debugfs(&img, "cat /srv/data/notes"), b"short");
    fs_fails(&img, "put", &["-n", small.to_str().unwrap(), "/srv/data/notes"], "COLLISION");
    fs_fails(&img, "put", &[dir.path().join("missing").to_str().unwrap(), "/x"], "missing");

    // Links.
    fs_ok(&img, "ln", &["-s", "www/index.html", "/srv/current"]);
    assert!(String::from_utf8(debugfs(&img, "stat /srv/current")).unwrap().contains("www/index.html"));
    fs_ok(&img, "ln", &["/srv/data/notes", "/srv/notes-link"]);
    let stat = String::from_utf8(debugfs(&img, "stat /srv/notes-link")).unwrap();
    assert!(stat.contains("Links: 2"), "{stat}");
    fs_fails(&img, "ln", &["/srv/www", "/srv/dirlink"], "FILE_IS_A_DIRECTORY");
    fs_ok(&img, "ln", &["-s", "-f", "data", "/srv/current"]);
    assert!(String::from_utf8(debugfs(&img, "stat /srv/current")).unwrap().contains("\"data\""));

    // Moves: into a directory, over a file, refused without clobbering.
    fs_ok(&img, "mv", &["/srv/www", "/srv/data"]);
    assert_eq!(debugfs_names(&img, "/srv/data"), ["notes", "www"]);
    assert_eq!(debugfs(&img, "cat /srv/data/www/index.html"), big);
    fs_fails(&img, "mv", &["-n", "/srv/notes-link", "/srv/data/notes"], "COLLISION");
    // Two names of one inode: rename does nothing, as POSIX says.
    fs_ok(&img, "mv", &["/srv/notes-link", "/srv/data/notes"]);
    assert_eq!(debugfs_names(&img, "/srv"), ["current", "data", "notes-link"]);
    fs_ok(&img, "put", &[small.to_str().unwrap(), "/srv/other"]);
    fs_ok(&img, "mv", &["/srv/other", "/srv/data/notes"]);
    assert_eq!(debugfs(&img, "cat /srv/data/notes"), b"short");
    assert_eq!(debugfs_names(&img, "/srv"), ["current", "data", "notes-link"]);
    fs_fails(&img, "mv", &["/srv/nothing", "/srv/x"], "/srv/nothing: STATUS_OBJECT_NAME_NOT_FOUND");

    // Removal.
    fs_fails(&img, "rm", &["/srv/data"], "is a directory");
    fs_fails(&img, "rm", &["/srv/missing"], "/srv/missing: STATUS_OBJECT_NAME_NOT_FOUND");
    fs_ok(&img, "rm", &["-f", "/srv/missing"]);
    fs_fails(&img, "rm", &["/"], "root directory");
    let out = fs_ok(&img, "rm", &["-r", "/srv/data", "/srv/current", "/srv/notes-link"]);
    assert!(out.contains("removed /srv/data/www/index.html"), "{out}");
    assert_eq!(debugfs_names(&img, "/srv"), Vec::<String>::new());
    let stats = String::from_utf8(debugfs(&img, "stats")).unwrap();
    let free: u64 = stats
        .lines()
        .find(|l| l.starts_with("Free inodes:"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    let count: u64 = stats
        .lines()
        .find(|l| l.starts_with("Inode count:"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(count - free, 12, "the 11 reserved inodes and /srv are all that is left");

    // A read-only device: the changing commands refuse, saying why.
    let ro = format!("file(path={},read-only=true)", img.display());
    let o = irpstack(&["fs", "mkdir", "--stack", &ro, "/x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("read-only"), "{}", text(&o));
}
