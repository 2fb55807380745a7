//! The NBD client disk against qemu-nbd.

mod nbd_support;

use disks::nbd::{NbdDisk, NbdError, NbdOptions, NbdUri};
use nbd_support::{open, pattern, qemu_nbd, smoke};

#[test]
fn qemu_nbd_round_trips_data() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = qemu_nbd(dir.path(), &[]) else { return };
    let (io, device, h) = open(server.uri());
    let disk = device.disk::<NbdDisk>().unwrap();
    assert!(disk.info().can_flush(), "qemu-nbd advertises flush");
    assert!(device.characteristics().contains(irp::Characteristics::VOLATILE_CACHE));
    assert_eq!(device.sector_size(), 512);
    smoke(&device, &h);

    // What the client flushed is in the image file.
    h.write(60 << 20, &pattern(4096, 5)).unwrap();
    h.flush_buffers().unwrap();
    drop(h);
    io.shutdown().unwrap();
    drop(io);
    drop(device);
    let image = std::fs::read(dir.path().join("img")).unwrap();
    assert_eq!(image[60 << 20..(60 << 20) + 4096], pattern(4096, 5)[..]);

    // Shutdown disconnected; the server is persistent, so the disk reconnects.
    let (_io, _device, h) = open(server.uri());
    assert_eq!(h.read(60 << 20, 4096).unwrap().bytes(), &pattern(4096, 5)[..]);
}

#[test]
fn a_request_after_shutdown_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = qemu_nbd(dir.path(), &[]) else { return };
    let (_io, device, h) = open(server.uri());
    h.write(0, &[1; 4096]).unwrap();
    let shutdown = irp::Irp::for_device(&device, irp::MajorFunction::Shutdown);
    assert_eq!(device.call_and_wait(shutdown).status(), irp::Status::SUCCESS);
    assert_eq!(h.read(0, 4096).unwrap().bytes(), &[1; 4096]);
    h.flush_buffers().unwrap();
}

#[test]
fn an_unknown_export_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = qemu_nbd(dir.path(), &["--export-name=disk"]) else { return };
    let socket = server.socket.display().to_string();
    let uri = NbdUri::parse(&format!("nbd+unix:///nope?socket={socket}")).unwrap();
    let err = NbdDisk::connect("x", &NbdOptions::new(uri)).unwrap_err();
    assert!(matches!(err, NbdError::Refused { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("nope") && text.contains("NBD_REP_ERR_UNKNOWN"), "{text}");

    let uri = NbdUri::parse(&format!("nbd+unix:///disk?socket={socket}")).unwrap();
    let (_io, _device, h) = open(uri);
    assert_eq!(h.query_size().unwrap(), 64 << 20);
}
