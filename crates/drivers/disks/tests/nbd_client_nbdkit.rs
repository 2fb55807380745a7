//! The NBD client disk against nbdkit: plugins, error injection, refusals, and a server
//! killed and restarted under the disk.

mod nbd_support;

use std::sync::mpsc;
use std::time::Duration;

use disks::nbd::{NbdDisk, NbdOptions};
use irp::{Device, Irp, MajorFunction, Mdl, Parameters, Status};
use nbd_support::{Server, installed, open, pattern, smoke};

#[test]
fn nbdkit_memory_and_file_round_trip_data() {
    if !installed("nbdkit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    std::fs::File::create(&img).unwrap().set_len(64 << 20).unwrap();
    let file_arg = format!("file={}", img.display());
    for args in [&["memory", "64M"][..], &["file", &file_arg][..]] {
        let server = Server::nbdkit(&dir.path().join("S"), args);
        let (_io, device, h) = open(server.uri());
        smoke(&device, &h);
    }
    let image = std::fs::read(&img).unwrap();
    assert_eq!(image[..4096], pattern(4096, 0)[..], "the file plugin kept what was flushed");
}

#[test]
fn block_size_constraints_are_kept() {
    if !installed("nbdkit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--filter=blocksize-policy",
        "memory",
        "64M",
        "blocksize-minimum=4096",
        "blocksize-preferred=4096",
        "blocksize-maximum=1M",
        "blocksize-error-policy=error",
    ];
    let server = Server::nbdkit(&dir.path().join("S"), &args);
    let (_io, device, h) = open(server.uri());
    let info = device.disk::<NbdDisk>().unwrap().info();
    assert_eq!((info.min_block(), info.max_request()), (4096, 1 << 20));
    assert_eq!(device.sector_size(), 4096);
    smoke(&device, &h); // 40 MiB transfers in 1 MiB requests
    assert_eq!(h.write(512, &[1; 4096]).unwrap_err(), Status::INVALID_PARAMETER, "unaligned");
}

#[test]
fn a_read_only_export_refuses_writes_and_flushes_at_once() {
    if !installed("nbdkit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::nbdkit(&dir.path().join("S"), &["--readonly", "memory", "1M"]);
    let (_io, device, h) = open(server.uri());
    assert!(device.characteristics().contains(irp::Characteristics::READ_ONLY));
    let write = Irp::for_device(&device, MajorFunction::Write)
        .with_parameters(Parameters::Write { offset: 0, length: 512 })
        .with_mdl(Mdl::with_len(512).unwrap());
    assert_eq!(device.call_and_wait(write).status(), Status::MEDIA_WRITE_PROTECTED);
    let flush = Irp::for_device(&device, MajorFunction::FlushBuffers);
    assert_eq!(device.call_and_wait(flush).status(), Status::SUCCESS);
    assert_eq!(h.read(0, 512).unwrap().bytes(), &[0; 512]);
}

#[test]
fn server_errors_map_to_statuses() {
    if !installed("nbdkit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args =
        ["--log=null", "--filter=error", "memory", "64M", "error-pwrite=ENOSPC", "error-pwrite-rate=100%"];
    let server = Server::nbdkit(&dir.path().join("S"), &args);
    let (_io, _device, h) = open(server.uri());
    assert_eq!(h.write(0, &[1; 4096]).unwrap_err(), Status::DISK_FULL);
    assert_eq!(
        h.write(0, &vec![1; 40 << 20]).unwrap_err(),
        Status::DISK_FULL,
        "split write: first error wins"
    );
    assert_eq!(h.read(0, 4096).unwrap().bytes(), &[0; 4096]);
    h.flush_buffers().unwrap();
}

#[test]
fn a_server_without_flush_fails_flushes() {
    if !installed("nbdkit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "eval",
        "get_size=echo 1048576",
        "pread=head -c $3 /dev/zero",
        "can_write=exit 0",
        "pwrite=cat >/dev/null",
        "can_flush=exit 3",
    ];
    let server = Server::nbdkit(&dir.path().join("S"), &args);
    let (_io, device, h) = open(server.uri());
    let disk = device.disk::<NbdDisk>().unwrap();
    assert!(!disk.info().can_flush() && !disk.info().can_fua());
    assert!(!device.characteristics().contains(irp::Characteristics::VOLATILE_CACHE));
    h.write(0, &[1; 4096]).unwrap();
    assert_eq!(h.flush_buffers().unwrap_err(), Status::NOT_SUPPORTED, "no silent no-op");
    assert_eq!(h.write_fua(0, &[1; 4096]).unwrap_err(), Status::NOT_SUPPORTED);
    let no_sync =
        Irp::for_device(&device, MajorFunction::FlushBuffers).with_flush_flags(irp::FlushFlags::NoSync);
    assert_eq!(device.call_and_wait(no_sync).status(), Status::SUCCESS, "no device sync asked");
}

#[test]
fn servers_without_fixed_newstyle_are_refused() {
    if !installed("nbdkit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["--mask-handshake=0", "memory", "1M"][..], "fixed newstyle"),
        (&["--oldstyle", "memory", "1M"][..], "oldstyle"),
    ] {
        let server = Server::nbdkit(&dir.path().join("S"), args);
        let err = NbdDisk::connect("x", &NbdOptions::new(server.uri())).unwrap_err().to_string();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn a_killed_server_fails_requests_and_a_restarted_one_is_reconnected() {
    if !installed("nbdkit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    let img = dir.path().join("img");
    std::fs::File::create(&img).unwrap().set_len(64 << 20).unwrap();
    let file_arg = format!("file={}", img.display());
    let args = ["file", file_arg.as_str()];
    let server = Server::nbdkit(&socket, &args);
    let (_io, device, h) = open(server.uri());
    let data = pattern(1 << 20, 1);
    h.write(0, &data).unwrap();
    h.flush_buffers().unwrap();

    // Kill the server with reads in flight: each completes, with data or a reset.
    let (tx, rx) = mpsc::channel();
    for i in 0..64u64 {
        let irp = Irp::for_device(&device, MajorFunction::Read)
            .with_parameters(Parameters::Read { offset: i << 20, length: 1 << 20 })
            .with_mdl(Mdl::with_len(1 << 20).unwrap());
        Device::submit_to(&device, irp, tx.clone());
    }
    server.kill();
    let mut reset = 0;
    for _ in 0..64 {
        let status = rx.recv_timeout(Duration::from_secs(10)).expect("no hang").status();
        assert!(matches!(status, Status::SUCCESS | Status::CONNECTION_RESET), "{status}");
        reset += usize::from(status == Status::CONNECTION_RESET);
    }
    println!("{reset} of 64 reads in flight failed with STATUS_CONNECTION_RESET");
    // The next request finds the connection lost, or fails to reconnect.
    assert_eq!(h.read(0, 4096).unwrap_err(), Status::CONNECTION_RESET);
    assert_eq!(h.read(0, 4096).unwrap_err(), Status::CONNECTION_RESET, "nobody listens");

    let server = Server::nbdkit(&socket, &args);
    assert_eq!(h.read(0, 1 << 20).unwrap().bytes(), &data[..], "reconnected");
    h.write(1 << 20, &data).unwrap();
    h.flush_buffers().unwrap();
    assert!(!device.disk::<NbdDisk>().unwrap().lost_writes());
    drop((h, _io, device)); // before the server: a clean shutdown
    drop(server);
}

#[test]
fn writes_lost_with_the_server_fail_every_later_flush() {
    if !installed("nbdkit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    let server = Server::nbdkit(&socket, &["memory", "64M"]);
    let (_io, device, h) = open(server.uri());
    h.write(0, &[7; 4096]).unwrap();
    server.kill();
    assert_eq!(h.read(0, 4096).unwrap_err(), Status::CONNECTION_RESET);

    let _server = Server::nbdkit(&socket, &["memory", "64M"]);
    assert_eq!(h.read(0, 4096).unwrap().bytes(), &[0; 4096], "the memory plugin lost the write");
    h.write(0, &[8; 4096]).unwrap();
    assert!(device.disk::<NbdDisk>().unwrap().lost_writes());
    assert_eq!(h.flush_buffers().unwrap_err(), Status::CONNECTION_RESET);
    assert_eq!(h.flush_buffers().unwrap_err(), Status::CONNECTION_RESET, "sticky");
}
