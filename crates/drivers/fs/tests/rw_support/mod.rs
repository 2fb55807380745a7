//! What the read-write driver tests share: a volume our mkfs made, on a memory disk or in
//! an image file, mounted read-write by the driver (over filters the test puts between),
//! handles by path, and the oracles that judge the image after the stack is shut down:
//! `e2fsck -fn` (must be clean) and `debugfs -R cat`.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;

use disks::file::{FileDisk, FileDiskOptions};
use disks::memory::MemoryDisk;
use fs::driver::{FsDriver, MountOptions};
use fs::lower_device::LowerDevice;
use fs::mkfs::{MkfsOptions, mkfs};
use irp::file::{CreateDisposition, CreateOptions, CreateRequest, Credentials};
use irp::{Access, DeviceRef, Handle, IoManager, Status};

#[path = "../shared/mod.rs"]
mod shared;
#[allow(unused_imports)] // each test binary uses a different part
pub use shared::{Mounted, have, pattern};

/// Where a test volume lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disk {
    /// A memory disk (dumped to a file for the oracles).
    Memory,
    /// An image file through the file disk.
    File,
}

/// A formatted volume and its disk, before the file system is mounted on it.
pub struct Formatted {
    pub dir: tempfile::TempDir,
    /// The bottom disk.
    pub disk: DeviceRef,
    /// The image file (a file disk's own, or where a memory disk is dumped).
    pub image: PathBuf,
    pub kind: Disk,
    pub size: u64,
}

/// Formats a `size`-byte volume with our mkfs on a disk of `kind`.
pub fn format(kind: Disk, size: u64) -> Formatted {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join("fs.img");
    let disk = match kind {
        Disk::Memory => MemoryDisk::create("mem", size, 512).expect("memory disk"),
        Disk::File => {
            let mut o = FileDiskOptions::new(&image);
            o.size = Some(size);
            FileDisk::create("file", o).expect("file disk")
        }
    };
    mkfs(&LowerDevice::new(&disk).expect("lower device"), &MkfsOptions::from_seed(11)).expect("mkfs");
    irp::block::lower::flush(&disk, irp::FlushFlags::Full).ok().expect("flush after mkfs");
    Formatted { dir, disk, image, kind, size }
}

/// The file system mounted read-write on `lower` (the top of the stack below it),
/// registered as "vol".
pub struct Volume {
    pub io: IoManager,
    pub top: DeviceRef,
    pub formatted: Formatted,
}

/// Mounts `f` read-write, with `lower` (built over `f.disk`) below the file system.
pub fn mount_over(f: Formatted, lower: &DeviceRef) -> Volume {
    let top = FsDriver::attach("fs", lower, MountOptions::default()).expect("read-write mount");
    assert!(!top.characteristics().contains(irp::Characteristics::READ_ONLY), "mounted read-write");
    let io = IoManager::new();
    io.register("vol", &top).expect("register");
    Volume { io, top, formatted: f }
}

/// A fresh volume of `kind`, mounted read-write directly on its disk.
pub fn volume(kind: Disk) -> Volume {
    let f = format(kind, 64 << 20);
    let disk = f.disk.clone();
    mount_over(f, &disk)
}

/// A create request as root.
pub fn request(path: &str, access: Access, d: CreateDisposition, o: CreateOptions) -> CreateRequest {
    CreateRequest::open(path, access).disposition(d).options(o).credentials(Credentials::ROOT)
}

impl Volume {
    /// The driver.
    pub fn driver(&self) -> &FsDriver {
        self.top.driver_as::<FsDriver>().expect("the top is the file system")
    }

    /// Opens (or creates) as the request asks.
    pub fn create(&self, r: &CreateRequest) -> Result<Handle, Status> {
        self.io.create("vol", r).map_err(|e| e.status().unwrap_or(Status::UNSUCCESSFUL))
    }

    /// Opens an existing path as root.
    pub fn open(&self, path: &str, access: Access) -> Result<Handle, Status> {
        self.create(&request(path, access, CreateDisposition::Open, CreateOptions::NONE))
    }

    /// Creates (or replaces) `path` holding `data`.
    pub fn put(&self, path: &str, data: &[u8]) {
        let h = self
            .create(&request(path, Access::READ_WRITE, CreateDisposition::OverwriteIf, CreateOptions::NONE))
            .unwrap_or_else(|s| panic!("creating {path}: {s}"));
        for (i, chunk) in data.chunks(1 << 20).enumerate() {
            let n = h.write((i << 20) as u64, chunk).unwrap_or_else(|s| panic!("writing {path}: {s}"));
            assert_eq!(n, chunk.len());
        }
        h.close().unwrap_or_else(|s| panic!("closing {path}: {s}"));
    }

    /// Makes directory `path`.
    pub fn mkdir(&self, path: &str) {
        let r = request(path, Access::READ, CreateDisposition::Create, CreateOptions::DIRECTORY_FILE);
        self.create(&r).unwrap_or_else(|s| panic!("mkdir {path}: {s}"));
    }

    /// The whole file at `path`.
    pub fn read_all(&self, path: &str) -> Vec<u8> {
        let h = self.open(path, Access::READ).unwrap_or_else(|s| panic!("opening {path}: {s}"));
        read_handle(&h)
    }

    /// Sends IRP_MJ_SHUTDOWN (the volume unmounts clean) and drops the stack; returns the
    /// image file, holding the volume as the disk has it.
    pub fn shut_down(self) -> Formatted {
        self.io.shutdown().expect("shutdown");
        let Volume { io, top, formatted } = self;
        drop((io, top));
        if formatted.kind == Disk::Memory {
            let mut bytes = Vec::with_capacity(formatted.size as usize);
            let mut at = 0;
            while at < formatted.size {
                let n = (formatted.size - at).min(1 << 20) as usize;
                bytes.extend_from_slice(&irp::block::lower::read(&formatted.disk, at, n).expect("dump"));
                at += n as u64;
            }
            std::fs::write(&formatted.image, bytes).expect("write the image");
        }
        formatted
    }
}

/// Every byte a handle's file holds.
pub fn read_handle(h: &Handle) -> Vec<u8> {
    let size = h.query_stat().expect("stat").size as usize;
    let mut buf = vec![0u8; size];
    let mut at = 0;
    while at < size {
        let n = h.read_into(at as u64, &mut buf[at..]).expect("read");
        assert!(n > 0, "a short read at {at} of {size}");
        at += n;
    }
    buf
}

/// `e2fsck -fn` on `image`: panics unless it is clean (exit 0, nothing but the passes).
pub fn assert_e2fsck_clean(image: &Path, when: &str) {
    if !have("e2fsck") {
        irp::testing::skip("e2fsck is not installed");
        return;
    }
    let out = Command::new("e2fsck").arg("-fn").arg(image).output().expect("e2fsck runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let noise: Vec<&str> = text
        .lines()
        .filter(|l| {
            !(l.starts_with("Pass ")
                || l.starts_with("e2fsck ")
                || l.contains(" files (")
                || l.trim().is_empty())
        })
        .collect();
    assert!(out.status.success() && noise.is_empty(), "e2fsck -fn {when}: {:?}\n{text}", out.status.code());
}

/// `debugfs -R "cat PATH"` of `image`.
pub fn debugfs_cat(image: &Path, path: &str) -> Vec<u8> {
    let out =
        Command::new("debugfs").arg("-R").arg(format!("cat {path}")).arg(image).output().expect("debugfs");
    assert!(out.status.success(), "debugfs cat {path}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `debugfs -R "stat PATH"` of `image`, as text.
pub fn debugfs_stat(image: &Path, path: &str) -> String {
    let out =
        Command::new("debugfs").arg("-R").arg(format!("stat {path}")).arg(image).output().expect("debugfs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
