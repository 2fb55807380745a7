//! Mounting: the mount point checked (a directory, not already a mount point), the kernel
//! mount and the `INIT` handshake (fuser's [`Session`](fuser::Session), several event loops
//! on cloned `/dev/fuse` descriptors), running until the mount goes away, and unmounting.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fuser::{Config, MountOption, SessionACL};
use irp::{IoError, IoManager};

use crate::filesystem::{FsOptions, IrpFs};

/// How to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountConfig {
    /// Mount read-only in the kernel too (`-o ro`); a read-only volume always is.
    pub read_only: bool,
    /// Let every user use the mount (`allow_other`; others than root need `user_allow_other`
    /// in `/etc/fuse.conf`).
    pub allow_other: bool,
    /// Let the kernel check permissions from the mode bits (`default_permissions`); without
    /// it the file system checks them at every open.
    pub default_permissions: bool,
    /// Event loops serving requests (fuser's `n_threads`), each on its own `/dev/fuse`
    /// descriptor (`clone_fd`).
    pub threads: usize,
    /// What the front end tells the kernel.
    pub fs: FsOptions,
    /// The source `/proc/mounts` shows.
    pub fs_name: String,
}

impl Default for MountConfig {
    fn default() -> MountConfig {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
        MountConfig {
            read_only: false,
            allow_other: false,
            default_permissions: false,
            threads,
            fs: FsOptions::default(),
            fs_name: "irpstack".to_owned(),
        }
    }
}

/// Why a mount failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// The mount point cannot be used.
    #[error("mount point {path}: {reason}")]
    Mountpoint {
        /// The mount point.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Something is mounted there already.
    #[error("mount point {path} is busy: {what} is mounted there (unmount it first: fusermount3 -u {path})")]
    Busy {
        /// The mount point.
        path: PathBuf,
        /// What is mounted there (type and source).
        what: String,
    },
    /// The volume could not be opened.
    #[error("opening the volume: {0}")]
    Volume(#[from] IoError),
    /// The kernel mount or the FUSE handshake failed.
    #[error("mounting {path}: {source}")]
    Fuse {
        /// The mount point.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
}

/// A mounted file system, ready: requests wait in the kernel until [`Mounted::run`] serves
/// them.
#[derive(Debug)]
pub struct Mounted {
    session: fuser::Session<IrpFs>,
    unmounter: Unmounter,
    read_only: bool,
}

impl Mounted {
    /// What unmounts it (from a signal handler's thread, say).
    pub fn unmounter(&self) -> Unmounter {
        self.unmounter.clone()
    }

    /// Whether the kernel mount is read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Serves requests until the file system is unmounted (`umount`, `fusermount3 -u`,
    /// [`Unmounter::unmount`]) or the connection aborted; then closes every open the kernel
    /// did not release. The I/O manager's shutdown is the caller's (it owns the stacks).
    pub fn run(self) -> io::Result<()> {
        let Mounted { session, unmounter, .. } = self;
        let result = session.run();
        unmounter.detach_if_left();
        result
    }
}

/// Unmounts a mount from any thread.
#[derive(Debug, Clone)]
pub struct Unmounter {
    mountpoint: PathBuf,
    /// The FUSE connection's number (`/sys/fs/fuse/connections/N`).
    connection: Option<u64>,
}

/// How an unmount went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmount {
    /// Unmounted.
    Done,
    /// Files were open (or a process's directory is there): detached from the namespace;
    /// the file system ends when the last of them is closed.
    Detached,
}

impl Unmounter {
    /// The mount point.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Unmounts; when the mount is busy, detaches it (`MNT_DETACH`, `fusermount3 -uz`).
    pub fn unmount(&self) -> io::Result<Unmount> {
        match umount(&self.mountpoint, false) {
            Ok(()) => Ok(Unmount::Done),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                umount(&self.mountpoint, true)?;
                Ok(Unmount::Detached)
            }
            Err(e) => Err(e),
        }
    }

    /// Aborts the FUSE connection (`/sys/fs/fuse/connections/N/abort`): requests in flight
    /// and later ones fail with `ENOTCONN`; the mount is detached.
    pub fn abort(&self) -> io::Result<()> {
        let n = self.connection.ok_or_else(|| io::Error::other("the connection's number is not known"))?;
        let control = Path::new(FUSECTL).join(n.to_string());
        if !control.exists() {
            mount_fusectl()?;
        }
        std::fs::write(control.join("abort"), b"1")?;
        self.detach_if_left();
        Ok(())
    }

    /// Detaches the mount if it is still in the namespace (after an aborted connection).
    fn detach_if_left(&self) {
        if mounted_at(&self.mountpoint).is_some_and(|m| self.connection.is_none_or(|c| m.device_minor == c))
            && let Err(e) = umount(&self.mountpoint, true)
        {
            tracing::warn!(mountpoint = %self.mountpoint.display(), "detaching the mount: {e}");
        }
    }
}

/// Where the kernel's FUSE control file system shows every connection.
const FUSECTL: &str = "/sys/fs/fuse/connections";

/// Mounts the FUSE control file system at its place, as systemd does at boot, when nothing
/// is mounted there.
fn mount_fusectl() -> io::Result<()> {
    if mounted_at(Path::new(FUSECTL)).is_some() {
        return Ok(());
    }
    let target = std::ffi::CString::new(FUSECTL).expect("no NUL");
    // SAFETY: NUL-terminated strings alive for the call; no data argument.
    let rc = unsafe {
        libc::mount(c"fusectl".as_ptr(), target.as_ptr(), c"fusectl".as_ptr(), 0, std::ptr::null())
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("mounting fusectl on {FUSECTL} (to abort the connection): {e}"),
        ));
    }
    Ok(())
}

/// Unmounts `path` (`umount2`, lazily with `lazy`), or through `fusermount3 -u` when not
/// root.
fn umount(path: &Path, lazy: bool) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the mount point"))?;
    let flags = if lazy { libc::MNT_DETACH } else { 0 };
    // SAFETY: `c` is a NUL-terminated path alive for the call.
    if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EPERM) {
        return Err(e);
    }
    let mut cmd = std::process::Command::new("fusermount3");
    cmd.arg(if lazy { "-uz" } else { "-u" }).arg("--").arg(path);
    let out = cmd.output()?;
    if out.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&out.stderr);
        let code = if text.contains("busy") { libc::EBUSY } else { libc::EPERM };
        Err(io::Error::from_raw_os_error(code))
    }
}

/// A mount listed in `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The file-system type (`fuse`, `ext4`...).
    pub fstype: String,
    /// The source (`irpstack`, `/dev/loop0`...).
    pub source: String,
    /// The minor number of its device (a FUSE connection's number).
    pub device_minor: u64,
}

/// What is mounted at `path` (the last mount there), if anything.
pub fn mounted_at(path: &Path) -> Option<MountEntry> {
    let path = path.canonicalize().ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    parse_mountinfo(&info, &path.to_string_lossy())
}

/// The last line of `info` whose mount point is `path`.
fn parse_mountinfo(info: &str, path: &str) -> Option<MountEntry> {
    info.lines().rev().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fields: Vec<&str> = left.split(' ').collect();
        let mountpoint = unescape(fields.get(4)?);
        if mountpoint != path {
            return None;
        }
        let device_minor = fields.get(2)?.split_once(':')?.1.parse().ok()?;
        let mut r = right.split(' ');
        let fstype = r.next()?.to_owned();
        let source = unescape(r.next().unwrap_or(""));
        Some(MountEntry { fstype, source, device_minor })
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space...).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks that `path` can be mounted on: a directory, not already a mount point.
pub fn check_mountpoint(path: &Path) -> Result<PathBuf, MountError> {
    let bad = |reason: String| MountError::Mountpoint { path: path.to_owned(), reason };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.is_dir() {
        return Err(bad("not a directory".into()));
    }
    let canonical = path.canonicalize().map_err(|e| bad(e.to_string()))?;
    if let Some(m) = mounted_at(&canonical) {
        return Err(MountError::Busy { path: canonical, what: format!("{} ({})", m.source, m.fstype) });
    }
    Ok(canonical)
}

/// Mounts the volume registered as `volume` in `io` at `mountpoint`, ready to serve.
pub fn mount(
    io: Arc<IoManager>,
    volume: &str,
    mountpoint: &Path,
    config: &MountConfig,
) -> Result<Mounted, MountError> {
    let mountpoint = check_mountpoint(mountpoint)?;
    let fs = IrpFs::new(io, volume, config.fs.clone())?;
    let read_only = config.read_only || fs.is_read_only();
    let mut options = vec![MountOption::FSName(config.fs_name.clone())];
    if read_only {
        options.push(MountOption::RO);
    }
    if config.default_permissions {
        options.push(MountOption::DefaultPermissions);
    }
    let mut fuse_config = Config::default();
    fuse_config.mount_options = options;
    fuse_config.acl = if config.allow_other { SessionACL::All } else { SessionACL::Owner };
    fuse_config.n_threads = Some(config.threads.max(1));
    fuse_config.clone_fd = config.threads > 1;
    let session = fuser::Session::new(fs, &mountpoint, &fuse_config)
        .map_err(|source| MountError::Fuse { path: mountpoint.clone(), source })?;
    let connection = mounted_at(&mountpoint).map(|m| m.device_minor);
    tracing::info!(mountpoint = %mountpoint.display(), read_only, threads = config.threads, "mounted");
    Ok(Mounted { session, unmounter: Unmounter { mountpoint, connection }, read_only })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
95 22 0:52 / /tmp/with\\040space rw,nosuid,nodev,relatime shared:50 - fuse irpstack rw,user_id=0,group_id=0
96 22 0:53 / /mnt rw - fuse.sshfs host:/x rw
97 96 7:0 / /mnt rw - ext4 /dev/loop0 ro
";

    #[test]
    fn mountinfo_names_the_last_mount_on_a_path() {
        let m = parse_mountinfo(INFO, "/tmp/with space").unwrap();
        assert_eq!((m.fstype.as_str(), m.source.as_str(), m.device_minor), ("fuse", "irpstack", 52));
        let m = parse_mountinfo(INFO, "/mnt").unwrap();
        assert_eq!((m.fstype.as_str(), m.source.as_str()), ("ext4", "/dev/loop0"));
        assert_eq!(parse_mountinfo(INFO, "/tmp"), None);
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
    }

    #[test]
    fn a_mount_point_must_be_a_directory_and_not_mounted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_mountpoint(dir.path()).is_ok());
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(check_mountpoint(&file), Err(MountError::Mountpoint { .. })));
        assert!(matches!(check_mountpoint(&dir.path().join("none")), Err(MountError::Mountpoint { .. })));
        assert!(matches!(check_mountpoint(Path::new("/")), Err(MountError::Busy { .. })));
    }
}
