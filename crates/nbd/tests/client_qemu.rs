//! The NBD client disk against qemu-nbd.

mod client_support;

use std::path::Path;
use std::process::Command;

use client_support::{Server, installed, open, pattern, smoke};
use nbd::client::{NbdDisk, NbdError, NbdOptions, NbdUri};

fn qemu_nbd(dir: &Path, extra: &[&str]) -> Option<Server> {
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

#[test]
fn qemu_nbd_round_trips_data() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = qemu_nbd(dir.path(), &[]) else { return };
    let (io, device, h) = open(server.uri());
    let disk = device.driver_as::<NbdDisk>().unwrap();
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

#[test]
fn a_cache_stack_over_nbd_builds_from_a_spec() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = qemu_nbd(dir.path(), &[]) else { return };
    let registry = drivers::spec::DriverRegistry::builtin();
    let ctx = drivers::spec::BuildContext::new().with_base_dir(dir.path());
    let top =
        registry.build_str("cache(size=8M) / nbd(uri=\"nbd+unix:///?socket=S\",timeout=2s)", &ctx).unwrap();
    assert_eq!(top.stack_names(), ["cache0", "nbd1"]);
    let io = irp::IoManager::new();
    io.register("d", &top).unwrap();
    let h = io.open("d", irp::Access::READ_WRITE).unwrap();
    smoke(&top, &h);
    drop(h);
    io.shutdown().unwrap();
    drop((io, top));
    let image = std::fs::read(dir.path().join("img")).unwrap();
    assert_eq!(image[..4096], pattern(4096, 0)[..], "the cache wrote back, the NBD flush reached the image");

    let err = registry.build_str("nbd(uri=nbds://h/x)", &ctx).unwrap_err().to_string();
    assert!(err.contains("TLS is not supported"), "{err}");
    let err = registry.build_str("nbd(uri=\"nbd+unix:///?socket=missing\")", &ctx).unwrap_err().to_string();
    assert!(err.contains("missing"), "{err}");
    drop(server);
}
