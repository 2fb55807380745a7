//! Image locking, as QEMU does it: a disk that opens an image file (or block device) for
//! writing holds it exclusively, one that opens it read-only shares it with other readers,
//! so that two writers — two `irpstack serve` processes, two stacks of one process,
//! irpstack and qemu-nbd or a VM — never write one image at once (two write-back caches
//! over one image destroy each other's flushed data).
//!
//! The locks are open file description locks (`fcntl(F_OFD_SETLK)`), on the bytes QEMU's
//! `file-posix` driver uses, so that QEMU and irpstack see each other's:
//!
//! | bytes | a shared (read) lock on byte `base + i` means |
//! |---|---|
//! | 100 + i | "I hold permission i" |
//! | 200 + i | "I do not let others hold permission i" |
//!
//! with the permissions `consistent read` (0), `write` (1), `write unchanged` (2) and
//! `resize` (3). An opener takes its locks, then tests for conflicting locks of others:
//! for every permission it wants, nobody may lock `200 + i`; for every permission it does
//! not share, nobody may lock `100 + i`. (Whichever of two racing openers tests last sees
//! the other's locks, so at most one of them goes on.)
//!
//! | opener | holds | shares | so it is refused when |
//! |---|---|---|---|
//! | irpstack, writing | read, write, resize | nothing | anybody else has the image open (qemu with `-U`/`force-share` aside) |
//! | irpstack, read-only | read | read, write unchanged | anybody writes or resizes it, or holds it exclusively |
//! | qemu-nbd, writing (QEMU 10) | read, write | all but resize | — |
//!
//! An OFD lock belongs to the open file description, not to the process: a second
//! `open` of the image in the same process conflicts with the first, so two stacks of
//! one server over one image are refused too. The lock lives as long as the descriptor
//! (every `dup` of it, every mapping of it) and goes with it.
//!
//! `locking=off` (a parameter of `file`, `pmem` and `crash`) takes no lock and says so
//! loudly: only for images nobody else can open (or when the caller knows better).
//! A file system without OFD locks (`EINVAL`, `ENOLCK`, `EOPNOTSUPP`) gets a warning and
//! no lock, as QEMU's `locking=auto` does.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Whether a disk locks its image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Locking {
    /// Lock it (the default): refuse an image another opener holds.
    #[default]
    On,
    /// Take no lock (`locking=off`): nothing stops a second writer. Logged as a warning.
    Off,
}

/// How a disk opens its image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read and write: held exclusively.
    Write,
    /// Read only: shared with other readers.
    Read,
}

/// Why an image could not be locked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another open file description holds a lock that conflicts.
    #[error(
        "image {path:?} is in use: {holder} holds it ({conflict}); {} refused, so that two \
         openers never write one image at once. Stop the other user, or add locking=off to \
         this layer if nothing else can write the image",
        match mode { Mode::Write => "opening it to write is", Mode::Read => "even opening it read-only is" }
    )]
    Busy {
        /// The image.
        path: PathBuf,
        /// How it was to be opened.
        mode: Mode,
        /// Who may hold it, as far as `/proc` tells.
        holder: String,
        /// The lock that conflicts, in QEMU's words.
        conflict: String,
    },
    /// Taking or testing the lock failed.
    #[error("cannot lock image {path:?}: {source}")]
    Failed {
        /// The image.
        path: PathBuf,
        /// What `fcntl` said.
        #[source]
        source: io::Error,
    },
}

/// QEMU's lock offsets (`RAW_LOCK_PERM_BASE`, `RAW_LOCK_SHARED_BASE`).
const PERM_BASE: i64 = 100;
const SHARED_BASE: i64 = 200;
/// QEMU's permission bits (`BLK_PERM_*`), by index.
const PERMISSIONS: [&str; 4] = ["consistent read", "write", "write unchanged", "resize"];
const READ: u8 = 1 << 0;
const WRITE: u8 = 1 << 1;
const WRITE_UNCHANGED: u8 = 1 << 2;
const RESIZE: u8 = 1 << 3;
const ALL: u8 = READ | WRITE | WRITE_UNCHANGED | RESIZE;

/// The permissions an opener in `mode` holds, and those it lets others hold.
fn permissions(mode: Mode) -> (u8, u8) {
    match mode {
        Mode::Write => (READ | WRITE | RESIZE, 0),
        Mode::Read => (READ, READ | WRITE_UNCHANGED),
    }
}

/// Locks `file` (the image at `path`, just opened) for `mode`, or logs loudly that it is
/// not locked (`Locking::Off`). The lock lasts as long as the file's open description.
pub fn lock(file: &File, path: &Path, mode: Mode, locking: Locking) -> Result<(), LockError> {
    if locking == Locking::Off {
        tracing::warn!(
            path = %path.display(),
            "locking=off: image {} is open WITHOUT a lock: another irpstack, qemu-nbd or VM (or \
             another stack of this process) can open it too, and two writers destroy each other's data",
            path.display()
        );
        return Ok(());
    }
    let failed = |source| LockError::Failed { path: path.to_owned(), source };
    let (held, shared) = permissions(mode);
    let unshared = ALL & !shared;
    for (base, bits) in [(PERM_BASE, held), (SHARED_BASE, unshared)] {
        for i in bit_indices(bits) {
            match set_lock(file, base + i as i64, libc::F_RDLCK as i16) {
                Ok(()) => {}
                Err(e) if e.raw_os_error().is_some_and(is_conflict) => {
                    // Someone holds this byte exclusively: not QEMU's scheme, but a conflict.
                    unlock(file);
                    return Err(busy(path, mode, format!("an exclusive lock on byte {}", base + i as i64)));
                }
                Err(e) if e.raw_os_error().is_some_and(is_unsupported) => {
                    tracing::warn!(
                        path = %path.display(),
                        "the file system of {} does not support OFD locks ({e}): the image is open \
                         without a lock",
                        path.display()
                    );
                    return Ok(());
                }
                Err(e) => {
                    unlock(file);
                    return Err(failed(e));
                }
            }
        }
    }
    // Wanted permissions nobody may refuse, unshared ones nobody may hold.
    let checks = bit_indices(held)
        .map(|i| (SHARED_BASE + i as i64, format!("it does not share \"{}\"", PERMISSIONS[i])))
        .chain(
            bit_indices(unshared).map(|i| (PERM_BASE + i as i64, format!("it holds \"{}\"", PERMISSIONS[i]))),
        );
    for (byte, conflict) in checks {
        match locked_by_others(file, byte) {
            Ok(false) => {}
            Ok(true) => {
                unlock(file);
                return Err(busy(path, mode, conflict));
            }
            Err(e) => {
                unlock(file);
                return Err(failed(e));
            }
        }
    }
    tracing::debug!(path = %path.display(), ?mode, "image locked");
    Ok(())
}

/// Drops every lock `file`'s open description holds on the image (a crash disk whose
/// power was cut lets the next "boot" open its image).
pub fn unlock(file: &File) {
    let _ = fcntl_lock(file, libc::F_OFD_SETLK, libc::F_UNLCK as i16, PERM_BASE, SHARED_BASE + 8 - PERM_BASE);
}

fn busy(path: &Path, mode: Mode, conflict: String) -> LockError {
    LockError::Busy { path: path.to_owned(), mode, holder: holders(path), conflict }
}

fn bit_indices(bits: u8) -> impl Iterator<Item = usize> {
    (0..PERMISSIONS.len()).filter(move |i| bits & (1 << i) != 0)
}

fn is_conflict(errno: i32) -> bool {
    errno == libc::EAGAIN || errno == libc::EACCES
}

fn is_unsupported(errno: i32) -> bool {
    matches!(errno, libc::EINVAL | libc::ENOLCK | libc::EOPNOTSUPP | libc::ENOSYS)
}

/// A shared or no lock on one byte, without waiting.
fn set_lock(file: &File, byte: i64, kind: i16) -> io::Result<()> {
    fcntl_lock(file, libc::F_OFD_SETLK, kind, byte, 1).map(drop)
}

/// Whether another open description holds a lock on `byte` (`F_OFD_GETLK` of a write
/// lock, as QEMU's `qemu_lock_fd_test`; locks of `file`'s own description never conflict).
fn locked_by_others(file: &File, byte: i64) -> io::Result<bool> {
    let found = fcntl_lock(file, libc::F_OFD_GETLK, libc::F_WRLCK as i16, byte, 1)?;
    Ok(found != libc::F_UNLCK as i16)
}

/// `fcntl(fd, command, &flock { type, SEEK_SET, start, len, pid: 0 })`; returns the lock
/// type the kernel left in the struct (what `F_OFD_GETLK` found).
fn fcntl_lock(file: &File, command: libc::c_int, kind: i16, start: i64, len: i64) -> io::Result<i16> {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value; OFD
    // commands require `l_pid` to be 0, which zeroing gives.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind;
    lock.l_whence = libc::SEEK_SET as i16;
    lock.l_start = start;
    lock.l_len = len;
    // SAFETY: `file` is borrowed, so its descriptor is open for the call; `lock` is a live,
    // exclusively borrowed flock that fcntl reads and (for F_OFD_GETLK) writes, keeping no
    // pointer after it returns.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), command, &raw mut lock) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(lock.l_type) }
}

/// Who holds locks on `path`, as far as `/proc` lets this process see: the processes with
/// a descriptor open on the same file whose `fdinfo` shows a lock. OFD locks do not carry
/// a process id (`/proc/locks` shows -1), so this is how QEMU users find the holder too.
fn holders(path: &Path) -> String {
    let Ok(target) = std::fs::metadata(path) else { return "another opener".to_owned() };
    let me = std::process::id();
    let mut found: Vec<String> = Vec::new();
    let mut this_process_has_two = false;
    for pid in proc_pids() {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        let mut open_here = 0;
        let mut locked = false;
        for fd in fds.flatten() {
            let same = std::fs::metadata(fd.path())
                .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino());
            if !same {
                continue;
            }
            open_here += 1;
            let info =
                std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy()));
            locked |= info.is_ok_and(|text| text.lines().any(|l| l.starts_with("lock:")));
        }
        if pid == me {
            // Our own opener is open now too: a second one means another stack here.
            this_process_has_two = open_here > 1 && locked;
            continue;
        }
        if locked {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            found.push(format!("process {pid} ({})", comm.trim()));
        }
    }
    if this_process_has_two {
        found.insert(0, "another stack of this process (an export over the same image?)".to_owned());
    }
    match found.len() {
        0 => "another opener (a process this user cannot see, or another stack of this process)".to_owned(),
        _ => found.join(", "),
    }
}

fn proc_pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    fn image() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        std::fs::write(&path, [0u8; 4096]).unwrap();
        (dir, path)
    }

    fn open(path: &Path) -> File {
        OpenOptions::new().read(true).write(true).open(path).unwrap()
    }

    #[test]
    fn a_writer_excludes_everyone_and_readers_share() {
        let (_dir, path) = image();
        let (a, b, c) = (open(&path), open(&path), open(&path));
        lock(&a, &path, Mode::Read, Locking::On).unwrap();
        lock(&b, &path, Mode::Read, Locking::On).expect("two readers share the image");
        let err = lock(&c, &path, Mode::Write, Locking::On).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("disk.img") && text.contains("in use"), "{text}");
        assert!(text.contains("this process"), "the holder is named: {text}");
        drop((a, b));
        lock(&c, &path, Mode::Write, Locking::On).expect("free once the readers closed it");
        let d = open(&path);
        assert!(matches!(lock(&d, &path, Mode::Read, Locking::On), Err(LockError::Busy { .. })));
        assert!(matches!(lock(&d, &path, Mode::Write, Locking::On), Err(LockError::Busy { .. })));
        lock(&d, &path, Mode::Write, Locking::Off).expect("locking=off takes no lock");
        unlock(&c);
        lock(&d, &path, Mode::Write, Locking::On).expect("free once unlocked");
    }

    #[test]
    fn a_refused_opener_leaves_no_lock_behind() {
        let (_dir, path) = image();
        let (a, b) = (open(&path), open(&path));
        lock(&a, &path, Mode::Write, Locking::On).unwrap();
        lock(&b, &path, Mode::Write, Locking::On).unwrap_err();
        drop(a);
        let c = open(&path);
        lock(&c, &path, Mode::Write, Locking::On).expect("the refused opener holds nothing");
    }
}
