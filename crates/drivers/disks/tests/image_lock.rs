//! Image locking (issue 13, item 1): a second opener of an image — another disk of this
//! process, another disk kind, qemu-nbd — is refused with a message naming the image and
//! who may hold it; read-only openers share; `locking=off` takes no lock.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use disks::crash::{CrashDisk, CrashDiskError, CrashDiskOptions, CrashPlan};
use disks::file::{FileDisk, FileDiskError, FileDiskOptions};
use disks::locking::{LockError, Locking};
use disks::pmem::{PmemDisk, PmemDiskOptions, PmemError, SyncMode};

mod nbd_support;
use nbd_support::{Server, installed};

const MIB: u64 = 1 << 20;

fn image(dir: &tempfile::TempDir) -> PathBuf {
    let path = dir.path().join("y.img");
    std::fs::write(&path, vec![0u8; MIB as usize]).unwrap();
    path
}

fn busy_message(err: &dyn std::fmt::Display, path: &Path) -> String {
    let text = err.to_string();
    assert!(text.contains(&*path.to_string_lossy()), "the message names the image: {text}");
    assert!(text.contains("in use"), "{text}");
    assert!(text.contains("locking=off"), "the message says how to override: {text}");
    text
}

#[test]
fn two_disks_of_one_process_over_one_image_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(&dir);
    let first = FileDisk::create("a", FileDiskOptions::new(&path)).unwrap();
    let err = FileDisk::create("b", FileDiskOptions::new(&path)).unwrap_err();
    assert!(matches!(err, FileDiskError::Locked(LockError::Busy { .. })), "{err:?}");
    let text = busy_message(&err, &path);
    assert!(text.contains("this process"), "the holder is named: {text}");
    let ro = FileDiskOptions { read_only: true, ..FileDiskOptions::new(&path) };
    assert!(matches!(FileDisk::create("c", ro), Err(FileDiskError::Locked(_))), "not even read-only");

    // Other disk kinds over the same image are refused too.
    let pmem = PmemDisk::open(&PmemDiskOptions { sync: SyncMode::Msync, ..PmemDiskOptions::new(&path) });
    assert!(matches!(pmem, Err(PmemError::Locked(_))), "{pmem:?}");
    let crash = CrashDisk::new(&CrashDiskOptions {
        path: Some(path.clone()),
        sector_size: Some(512),
        ..Default::default()
    });
    assert!(matches!(crash, Err(CrashDiskError::Locked(_))), "{crash:?}");

    // Closing the first disk frees the image.
    drop(first);
    let again = FileDisk::create("d", FileDiskOptions::new(&path)).expect("free once the first disk is gone");
    drop(again);
}

#[test]
fn read_only_openers_share_and_locking_off_takes_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(&dir);
    let ro = || FileDiskOptions { read_only: true, ..FileDiskOptions::new(&path) };
    let a = FileDisk::create("a", ro()).unwrap();
    let b = FileDisk::create("b", ro()).expect("two read-only disks share the image");
    let err = FileDisk::create("w", FileDiskOptions::new(&path)).unwrap_err();
    busy_message(&err, &path);
    let unlocked =
        FileDisk::create("w", FileDiskOptions { locking: Locking::Off, ..FileDiskOptions::new(&path) })
            .expect("locking=off opens it anyway");
    drop((a, b, unlocked));
}

#[test]
fn a_crash_frees_the_crash_disks_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(&dir);
    let options = CrashDiskOptions { path: Some(path.clone()), sector_size: Some(512), ..Default::default() };
    let disk = CrashDisk::new(&options).unwrap();
    assert!(matches!(CrashDisk::new(&options), Err(CrashDiskError::Locked(_))));
    disk.crash(&CrashPlan::LoseAll).unwrap();
    let next_boot = CrashDisk::new(&options).expect("after the power cut the image is free");
    drop((disk, next_boot));
}

/// qemu-nbd, writing, on `path`: started, and waited for until it holds its locks (it
/// may create its socket first).
fn qemu_nbd(dir: &Path, path: &Path) -> Server {
    use std::os::unix::fs::MetadataExt;
    let socket = dir.join("qemu.sock");
    let args = ["-f", "raw", "-k", socket.to_str().unwrap(), path.to_str().unwrap()];
    let server = Server::start("qemu-nbd", &args, &socket, &socket);
    let inode = format!(":{} ", std::fs::metadata(path).unwrap().ino());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string("/proc/locks").unwrap().lines().any(|l| l.contains(&inode)) {
        assert!(Instant::now() < deadline, "qemu-nbd took no lock on the image");
        std::thread::sleep(Duration::from_millis(10));
    }
    server
}

#[test]
fn irpstack_refuses_an_image_qemu_nbd_serves() {
    if !installed("qemu-nbd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = image(&dir);
    let qemu = qemu_nbd(dir.path(), &path);
    let err = FileDisk::create("a", FileDiskOptions::new(&path)).unwrap_err();
    let text = busy_message(&err, &path);
    assert!(text.contains("qemu-nbd"), "the holder is named: {text}");
    let ro = FileDiskOptions { read_only: true, ..FileDiskOptions::new(&path) };
    assert!(FileDisk::create("b", ro).is_err(), "a writer's image is not even read (consistently)");
    drop(qemu);
    // qemu-nbd killed: the image is free (its locks went with its descriptors).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match FileDisk::create("c", FileDiskOptions::new(&path)) {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "still refused after qemu-nbd ended: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn qemu_nbd_refuses_an_image_irpstack_holds() {
    if !installed("qemu-nbd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = image(&dir);
    for read_only in [false, true] {
        let disk =
            FileDisk::create("a", FileDiskOptions { read_only, ..FileDiskOptions::new(&path) }).unwrap();
        let socket = dir.path().join("qemu.sock");
        let mut child = Command::new("qemu-nbd")
            .args(["-f", "raw", "-k", socket.to_str().unwrap(), path.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("qemu-nbd started on an image irpstack holds (read_only: {read_only})");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{stderr}");
        assert!(stderr.contains("lock"), "qemu-nbd says why: {stderr}");
        drop(disk);
    }
}
