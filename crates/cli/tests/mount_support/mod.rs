//! Running `irpstack mount` as a user would: images made by `mkfs.ext4 -d`, a mount in the
//! foreground (a child process) or the background (the pid it prints), always unmounted and
//! killed by pid when the test ends, passing or not; and the kernel's own loop mount of the
//! same image to compare with.
#![allow(dead_code)]

pub mod tree;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

/// Why FUSE mounts cannot run here, if they cannot.
pub fn fuse_missing() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse does not exist".into());
    }
    for tool in ["fusermount3", "mkfs.ext4", "e2fsck"] {
        if !have(tool) {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

/// Runs a command, panicking with its output unless it succeeds; returns stdout.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `irpstack ARGS`, waited for.
pub fn irpstack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_irpstack")).args(args).output().expect("irpstack runs")
}

/// Stdout and stderr of `o`.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Deterministic bytes.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `mkfs.ext4 -q -F -d tree img size` (4 KiB blocks, fixed UUID and hash seed).
pub fn mkfs_from(tree: &Path, img: &Path, size: &str) {
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-b", "4096", "-U", "c0ffee00-1234-4321-8765-0123456789ab"])
        .args(["-E", "hash_seed=c0ffee00-1234-4321-8765-0123456789ab,lazy_itable_init=0"])
        .arg("-d")
        .arg(tree)
        .arg(img)
        .arg(size));
}

/// `e2fsck -fn img`: the exit code and the report.
pub fn e2fsck(img: &Path) -> (i32, String) {
    let out = Command::new("e2fsck").arg("-fn").arg(img).output().expect("e2fsck runs");
    (out.status.code().unwrap_or(-1), text(&out))
}

/// The spec of a read-only file disk over `img`.
pub fn ro_spec(img: &Path) -> String {
    format!("file(path={},read-only=true)", img.display())
}

/// Whether process `pid` is alive (a zombie counts as gone).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits up to `limit` for `cond`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Whether something is mounted at `path` (`/proc/self/mountinfo`).
pub fn is_mount_point(path: &Path) -> bool {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let p = path.to_string_lossy().replace(' ', "\\040");
    info.lines().any(|l| l.split(' ').nth(4) == Some(p.as_str()))
}

/// An `irpstack mount`, unmounted (`fusermount3 -u`, then lazily) and its process killed
/// (SIGKILL, by pid) when dropped.
pub struct FuseMount {
    pub mnt: PathBuf,
    pub pid: u32,
    /// The foreground child (None for a background mount, whose process is not ours).
    child: Option<Child>,
    /// The foreground process's stderr.
    pub log: PathBuf,
}

impl FuseMount {
    /// `irpstack mount -f MNT --stack SPEC ARGS`, waiting (up to 60 s) for its "mounted" line.
    pub fn foreground(mnt: &Path, spec: &str, args: &[&str]) -> FuseMount {
        std::fs::create_dir_all(mnt).unwrap();
        let log = mnt.with_extension("log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_irpstack"))
            .arg("mount")
            .arg("-f")
            .arg(mnt)
            .args(["--stack", spec])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("irpstack runs");
        let (tx, rx) = channel();
        let out = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let pid = child.id();
        let m = FuseMount { mnt: mnt.to_owned(), pid, child: Some(child), log };
        let line = rx.recv_timeout(Duration::from_secs(60));
        match line {
            Ok(l) if l.starts_with("mounted ") => m,
            other => panic!("irpstack mount -f did not say mounted ({other:?}): {}", m.log_text()),
        }
    }

    /// `irpstack mount MNT --stack SPEC ARGS` (background): the pid it prints.
    pub fn background(mnt: &Path, spec: &str, args: &[&str]) -> FuseMount {
        std::fs::create_dir_all(mnt).unwrap();
        let log = mnt.with_extension("log");
        let log_arg = log.display().to_string();
        let mnt_arg = mnt.display().to_string();
        let mut all = vec!["mount", mnt_arg.as_str(), "--stack", spec, "--log", log_arg.as_str()];
        all.extend_from_slice(args);
        let out = Command::new(env!("CARGO_BIN_EXE_irpstack"))
            .args(&all)
            .env("RUST_LOG", "info")
            .output()
            .expect("irpstack runs");
        let said = text(&out);
        assert!(out.status.success(), "irpstack mount failed: {said}");
        let pid = said
            .split("(pid ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {said:?}"));
        assert!(is_mount_point(mnt), "mount returned but {} is not mounted: {said}", mnt.display());
        FuseMount { mnt: mnt.to_owned(), pid, child: None, log }
    }

    /// A path inside the mount.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    /// What the serving process logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to `limit`) for the serving process to end; its exit status when it was
    /// our child.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        if let Some(child) = &mut self.child {
            while Instant::now() < deadline {
                if let Some(status) = child.try_wait().unwrap() {
                    self.child = None;
                    return Some(status);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("irpstack mount (pid {}) still runs after {limit:?}: {}", self.pid, self.log_text());
        }
        assert!(
            wait_for(limit, || !alive(self.pid)),
            "irpstack mount (pid {}) still runs after {limit:?}: {}",
            self.pid,
            self.log_text()
        );
        None
    }

    /// Sends `sig` to the serving process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory effects; the pid is the process this mount started.
        unsafe { libc::kill(self.pid as i32, sig) };
    }

    /// Unmounts with `fusermount3 -u` and waits for the process to end. The kernel sends
    /// FUSE's `release` of a closed file in the background and may hold the mount until it is
    /// answered, so an unmount right after a close can find it busy for a moment: it is
    /// retried for up to 5 s.
    pub fn unmount(mut self) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = Command::new("fusermount3").arg("-u").arg(&self.mnt).output().unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline && text(&out).contains("busy"),
                "fusermount3 -u {}: {}",
                self.mnt.display(),
                text(&out)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.wait_exit(Duration::from_secs(30))
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        if is_mount_point(&self.mnt) {
            let ok = Command::new("fusermount3").arg("-u").arg(&self.mnt).status().is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("fusermount3").arg("-uz").arg(&self.mnt).status();
            }
        }
        if alive(self.pid) {
            self.signal(libc::SIGKILL);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        } else {
            wait_for(Duration::from_secs(10), || !alive(self.pid));
        }
    }
}

/// A loop mount of an image by the kernel, read-only, unmounted on drop.
pub struct KernelMount {
    pub mnt: PathBuf,
}

impl KernelMount {
    /// `mount -o loop,ro,noload img mnt`, or why the machine cannot.
    pub fn new(img: &Path, mnt: &Path) -> Result<KernelMount, String> {
        std::fs::create_dir_all(mnt).unwrap();
        let out = Command::new("mount")
            .args(["-t", "ext4", "-o", "loop,ro,noload"])
            .arg(img)
            .arg(mnt)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -o loop refused: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(KernelMount { mnt: mnt.to_owned() })
    }
}

impl Drop for KernelMount {
    fn drop(&mut self) {
        if !Command::new("umount").arg(&self.mnt).status().is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
    }
}
