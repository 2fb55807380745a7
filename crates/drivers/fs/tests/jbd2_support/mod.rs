//! Helpers for the tests that check the journal against the real kernel and e2fsprogs:
//! running the tools, loop devices and mounts that clean up after themselves (Drop), the
//! journal inode's blocks as debugfs reports them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fs::jbd2::JournalArea;

/// Whether `name` is on the PATH (or in /sbin, /usr/sbin).
pub fn have_tool(name: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().any(|d| Path::new(d).join(name).exists())
}

/// `Err(reason)` unless all `tools` exist.
pub fn need_tools(tools: &[&str]) -> Result<(), String> {
    for t in tools {
        if !have_tool(t) {
            return Err(format!("{t} is not installed"));
        }
    }
    Ok(())
}

/// Runs `cmd args`, returning its output whatever the exit status.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

/// Runs `cmd args` and panics with its stderr unless it exits 0.
pub fn run_ok(cmd: &str, args: &[&str]) -> String {
    let out = run(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `mkfs.ext4` a fresh `size_mib` image with the Debian defaults (`-b` if given).
pub fn mkfs(path: &Path, size_mib: u32, block_size: Option<u32>) {
    let size = format!("{size_mib}M");
    let bs = block_size.map(|b| b.to_string());
    let mut args = vec!["-q", "-F"];
    if let Some(b) = &bs {
        args.extend(["-b", b]);
    }
    // Fixed UUID and hash seed make the images the same from run to run; inode tables are
    // zeroed now, so no background ext4lazyinit writes race the copies the tests take.
    args.extend([
        "-U",
        "c0ffee00-1234-4321-8765-0123456789ab",
        "-E",
        "hash_seed=c0ffee00-1234-4321-8765-0123456789ab,lazy_itable_init=0",
    ]);
    args.extend([path.to_str().unwrap(), &size]);
    run_ok("mkfs.ext4", &args);
}

/// A dumpe2fs -h field ("Block size", "Journal start", ...).
pub fn dumpe2fs_field(img: &Path, field: &str) -> Option<String> {
    let out = run("dumpe2fs", &["-h", img.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim().to_string()))
}

/// The file system block size.
pub fn block_size(img: &Path) -> usize {
    dumpe2fs_field(img, "Block size").expect("block size").parse().unwrap()
}

/// The journal inode's blocks, from `debugfs -R "stat <8>"`'s EXTENTS list.
pub fn journal_area(img: &Path) -> JournalArea {
    let out = run_ok("debugfs", &["-R", "stat <8>", img.to_str().unwrap()]);
    let list = out.split("EXTENTS:").nth(1).expect("journal inode has extents");
    let mut extents = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        // "(0-4095):16385-20480" or "(7):1234"; index blocks "(ETB0):..." are skipped.
        let Some((logical, physical)) = item.strip_prefix('(').and_then(|s| s.split_once("):")) else {
            continue;
        };
        if !logical.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let range = |s: &str| -> (u64, u64) {
            let s = s.split_whitespace().next().unwrap();
            match s.split_once('-') {
                Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                None => (s.parse().unwrap(), s.parse().unwrap()),
            }
        };
        let (l0, l1) = range(logical);
        let (p0, _) = range(physical);
        assert_eq!(l0, extents.iter().map(|&(_, n)| n).sum::<u64>(), "journal extents out of order");
        extents.push((p0, l1 - l0 + 1));
    }
    JournalArea::from_extents(block_size(img), &extents).unwrap()
}

/// The ext4 superblock's `needs_recovery` (INCOMPAT_RECOVER, 0x4 at byte 1024 + 0x60).
/// The ext4 module owns this field; these tests set it to hand a journal to e2fsck and the
/// kernel, and fix the superblock checksum (crc32c_raw(!0, first 1020 bytes) at 1020).
pub fn set_needs_recovery(image: &mut [u8], on: bool) {
    let sb = &mut image[1024..2048];
    let mut incompat = u32::from_le_bytes(sb[0x60..0x64].try_into().unwrap());
    if on {
        incompat |= 0x4;
    } else {
        incompat &= !0x4;
    }
    sb[0x60..0x64].copy_from_slice(&incompat.to_le_bytes());
    let c = fs::csum::crc32c_raw(!0, &sb[..1020]);
    sb[1020..1024].copy_from_slice(&c.to_le_bytes());
}

/// A loop device, detached when dropped.
pub struct LoopDev(pub String);

impl LoopDev {
    /// Attaches `img` to a free loop device.
    pub fn attach(img: &Path) -> Result<LoopDev, String> {
        let out = run("losetup", &["--find", "--show", img.to_str().unwrap()]);
        if !out.status.success() {
            return Err(format!("losetup failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(LoopDev(String::from_utf8_lossy(&out.stdout).trim().to_string()))
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = run("losetup", &["-d", &self.0]);
    }
}

/// A mount, unmounted when dropped.
pub struct Mounted(pub PathBuf);

impl Mounted {
    /// Mounts `dev` (ext4) at `dir`.
    pub fn mount(dev: &str, dir: &Path) -> Result<Mounted, String> {
        std::fs::create_dir_all(dir).unwrap();
        let out = run("mount", &["-t", "ext4", dev, dir.to_str().unwrap()]);
        if !out.status.success() {
            return Err(format!("mount failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Mounted(dir.to_path_buf()))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let out = run("umount", &[self.0.to_str().unwrap()]);
        if !out.status.success() {
            let _ = run("umount", &["-l", self.0.to_str().unwrap()]);
        }
    }
}

/// `Err(reason)` unless this process can attach loop devices and mount (root, loop module).
pub fn can_loop_mount(scratch: &Path) -> Result<(), String> {
    if run("id", &["-u"]).stdout != b"0\n" {
        return Err("not root".into());
    }
    need_tools(&["losetup", "mount", "umount", "mkfs.ext4"])?;
    let img = scratch.join("probe.img");
    mkfs(&img, 8, None);
    let lo = LoopDev::attach(&img)?;
    let m = Mounted::mount(&lo.0, &scratch.join("probe-mnt"))?;
    drop(m);
    drop(lo);
    std::fs::remove_file(&img).unwrap();
    Ok(())
}

/// Exit code of `e2fsck args img`.
pub fn e2fsck(args: &[&str], img: &Path) -> (i32, String) {
    let mut all = args.to_vec();
    all.push(img.to_str().unwrap());
    let out = run("e2fsck", &all);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// `debugfs -R "cat PATH" img`.
pub fn debugfs_cat(img: &Path, path: &str) -> Vec<u8> {
    let out = run("debugfs", &["-R", &format!("cat {path}"), img.to_str().unwrap()]);
    out.stdout
}

/// Skips the calling test with a printed reason.
#[macro_export]
macro_rules! skip_unless {
    ($cond:expr) => {
        if let Err(why) = $cond {
            eprintln!("SKIP: {why}");
            return;
        }
    };
}
