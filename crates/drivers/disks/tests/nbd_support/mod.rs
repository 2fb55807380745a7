//! What the client tests share: starting NBD servers (killed by PID and waited for),
//! opening the client disk, and the checks every server must pass.

#![allow(dead_code)] // each test crate uses part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use disks::nbd::{NbdDisk, NbdOptions, NbdUri};
use irp::{
    Access, Device, DeviceRef, Handle, IoManager, Irp, MajorFunction, Mdl, Parameters, RequestFlags, Status,
};

/// Whether `program` can be run; reports the test as skipped ([`irp::testing::skip`]) when it
/// cannot.
pub fn installed(program: &str) -> bool {
    let ok = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        irp::testing::skip(format_args!("{program} not installed"));
    }
    ok
}

/// A server process, killed (by PID) and waited for on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub socket: PathBuf,
}

impl Server {
    /// Starts `program args` serving on `socket` and waits until `ready` exists (the
    /// socket itself for qemu-nbd, which listens as it creates it).
    pub fn start(program: &str, args: &[&str], socket: &Path, ready: &Path) -> Server {
        let _ = std::fs::remove_file(socket);
        let _ = std::fs::remove_file(ready);
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let mut server = Server { child, socket: socket.to_owned() };
        // (Connecting to probe would make qemu-nbd log a failed negotiation.)
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{program} exited early: {status}");
            }
            assert!(Instant::now() < deadline, "{program} did not create {}", socket.display());
            std::thread::sleep(Duration::from_millis(10));
        }
        server
    }

    /// `nbdkit --unix S --foreground --exit-with-parent ARGS...`, ready when its PID
    /// file appears (nbdkit writes it once it accepts connections).
    pub fn nbdkit(socket: &Path, args: &[&str]) -> Server {
        let pid_file = socket.with_extension("pid");
        let (socket_arg, pid_arg) = (socket.to_str().unwrap(), pid_file.to_str().unwrap());
        let mut all = vec!["--unix", socket_arg, "-P", pid_arg, "--foreground", "--exit-with-parent"];
        all.extend_from_slice(args);
        Server::start("nbdkit", &all, socket, &pid_file)
    }

    /// The URI of the server's default export.
    pub fn uri(&self) -> NbdUri {
        NbdUri::parse(&format!("nbd+unix:///?socket={}", self.socket.display())).unwrap()
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The client disk on `uri`, registered as "d" and opened read-write.
pub fn open(uri: NbdUri) -> (IoManager, DeviceRef, Handle) {
    let device = NbdDisk::create("nbd0", NbdOptions::new(uri)).expect("connect to the NBD server");
    let (io, handle) = open_device(&device);
    (io, device, handle)
}

/// Registers `device` with a new I/O manager and opens it for reading and writing.
pub fn open_device(device: &DeviceRef) -> (IoManager, Handle) {
    let io = IoManager::new();
    io.register("d", device).unwrap();
    let handle = io.open("d", Access::READ_WRITE).unwrap();
    (io, handle)
}

/// Bytes that differ with `seed` and position.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8).collect()
}

/// Write, read, flush, FUA, discard, write-zeroes, the end of the disk and 256
/// concurrent requests against a 64 MiB export.
pub fn smoke(device: &DeviceRef, h: &Handle) {
    const SIZE: u64 = 64 << 20;
    assert_eq!(h.query_size().unwrap(), SIZE);

    let data = pattern(1 << 20, 7);
    assert_eq!(h.write(4096, &data).unwrap(), data.len());
    assert_eq!(h.read(4096, data.len()).unwrap().bytes(), &data[..]);
    h.flush_buffers().unwrap();

    // Larger than the 32 MiB maximum request: split, and put back together.
    let big = pattern(40 << 20, 3);
    assert_eq!(h.write(8 << 20, &big).unwrap(), big.len());
    assert!(h.read(8 << 20, big.len()).unwrap().bytes() == &big[..], "40 MiB round trip");

    let fua = pattern(8192, 99);
    assert_eq!(h.write_fua(SIZE - 8192, &fua).unwrap(), 8192);
    assert_eq!(h.read(SIZE - 8192, 8192).unwrap().bytes(), &fua[..]);

    h.write_zeroes(4096, 8192, RequestFlags::NONE).unwrap();
    h.write_zeroes(4096 + 8192, 4096, RequestFlags::MAY_UNMAP | RequestFlags::FORCE_UNIT_ACCESS).unwrap();
    let back = h.read(0, 1 << 20).unwrap();
    assert!(back.bytes()[4096..4096 + 12288].iter().all(|&b| b == 0), "write-zeroes reads back as zeroes");
    assert_eq!(&back.bytes()[4096 + 12288..], &data[12288..(1 << 20) - 4096]);
    h.discard(1 << 20, 1 << 20).unwrap();

    assert_eq!(h.read(SIZE, 512).unwrap_err(), Status::END_OF_FILE);
    assert_eq!(h.read(SIZE - 512, 1024).unwrap_err(), Status::END_OF_FILE);
    assert_eq!(h.write(SIZE - 512, &[1; 1024]).unwrap_err(), Status::INVALID_PARAMETER);
    assert_eq!(h.read(0, 0).unwrap().bytes(), &[] as &[u8]);

    concurrent(device, 256);
    h.flush_buffers().unwrap();
}

/// `n` writes in flight at once through `submit_to`, then `n` reads, checked.
pub fn concurrent(device: &DeviceRef, n: usize) {
    let (tx, rx) = mpsc::channel();
    let block = 4096usize;
    for i in 0..n {
        let mdl = Mdl::from_slice(&pattern(block, i as u8)).unwrap();
        let irp = Irp::for_device(device, MajorFunction::Write)
            .with_parameters(Parameters::Write { offset: (i * block) as u64, length: block as u32 })
            .with_mdl(mdl)
            .with_user_data(i as u64);
        Device::submit_to(device, irp, tx.clone());
    }
    for _ in 0..n {
        let done = rx.recv_timeout(Duration::from_secs(20)).expect("every write completes");
        assert_eq!(done.status(), Status::SUCCESS, "write {}", done.user_data());
    }
    for i in 0..n {
        let irp = Irp::for_device(device, MajorFunction::Read)
            .with_parameters(Parameters::Read { offset: (i * block) as u64, length: block as u32 })
            .with_mdl(Mdl::with_len(block).unwrap())
            .with_user_data(i as u64);
        Device::submit_to(device, irp, tx.clone());
    }
    for _ in 0..n {
        let mut done = rx.recv_timeout(Duration::from_secs(20)).expect("every read completes");
        let i = done.user_data() as usize;
        assert_eq!(done.status(), Status::SUCCESS, "read {i}");
        assert_eq!(done.take_mdl().unwrap().bytes(), &pattern(block, i as u8)[..], "read {i}");
    }
}

/// qemu-nbd serving a fresh 64 MiB raw image `img` in `dir` on the socket `S` there, with
/// `extra` arguments; `None` (a printed skip) where qemu-nbd is not installed.
pub fn qemu_nbd(dir: &Path, extra: &[&str]) -> Option<Server> {
    if !installed("qemu-nbd") || !installed("qemu-img") {
        return None;
    }
    let img = dir.join("img");
    let status =
        Command::new("qemu-img").args(["create", "-q", "-f", "raw"]).arg(&img).arg("64M").status().unwrap();
    assert!(status.success(), "qemu-img create failed");
    let socket = dir.join("S");
    let socket_arg = format!("--socket={}", socket.display());
    let mut args = vec!["--persistent", "--shared=8", &socket_arg, "--format=raw", "--cache=writeback"];
    args.extend_from_slice(extra);
    args.push(img.to_str().unwrap());
    Some(Server::start("qemu-nbd", &args, &socket, &socket))
}
