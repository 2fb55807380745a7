//! The NBD client disk against a scripted server built from this crate's encoders:
//! the `NBD_OPT_EXPORT_NAME` fallback, emulated FUA, the flush and `NBD_CMD_DISC` at
//! close, and `NBD_ESHUTDOWN`. The server logs every command it receives.

mod nbd_support;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use disks::nbd::{NbdDisk, NbdOptions, NbdUri};
use irp::Status;
use nbd::consts::*;
use nbd::handshake::{
    ClientOption, decode_client_flags, decode_option_header, encode_export_name_reply, encode_info_export,
    encode_option_ack, encode_option_error, encode_server_greeting, parse_option,
};
use nbd::transmission::{decode_request_header, encode_simple_reply};
use nbd_support::open;

const SIZE: u64 = 1 << 20;

/// What the scripted server does.
#[derive(Clone, Copy)]
struct Script {
    go: bool,
    flags: u16,
    /// Answer the request with this index (counted over all connections) with `ESHUTDOWN`.
    eshutdown_at: Option<usize>,
    /// Never answer a read.
    stall_reads: bool,
}

impl Script {
    fn new(flags: u16) -> Script {
        Script { go: true, flags: FLAG_HAS_FLAGS | flags, eshutdown_at: None, stall_reads: false }
    }
}

/// Commands received: (connection, command, flags).
type Log = Arc<Mutex<Vec<(usize, u16, u16)>>>;

fn serve(socket: &Path, script: Script) -> Log {
    let listener = UnixListener::bind(socket).unwrap();
    let log = Log::default();
    let server_log = Arc::clone(&log);
    let disk = Arc::new(Mutex::new(vec![0u8; SIZE as usize]));
    // Detached: it ends with the test process, blocked in accept.
    thread::spawn(move || {
        for (conn, stream) in listener.incoming().enumerate() {
            let (log, disk) = (Arc::clone(&server_log), Arc::clone(&disk));
            thread::spawn(move || {
                let mut s = stream.unwrap();
                if handshake(&mut s, script).is_some() {
                    transmission(&mut s, conn, script, &log, &disk);
                }
            });
        }
    });
    log
}

fn handshake(s: &mut UnixStream, script: Script) -> Option<()> {
    let greeting = FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES;
    s.write_all(&encode_server_greeting(greeting)).ok()?;
    let mut flags = [0; 4];
    s.read_exact(&mut flags).ok()?;
    let no_zeroes = decode_client_flags(&flags, greeting).ok()?.no_zeroes;
    loop {
        let mut header = [0; OPTION_HEADER_LEN];
        s.read_exact(&mut header).ok()?;
        let header = decode_option_header(&header).ok()?;
        let mut data = vec![0; header.length as usize];
        s.read_exact(&mut data).ok()?;
        match parse_option(header.option, &data).ok()? {
            ClientOption::Go { .. } if script.go => {
                s.write_all(&encode_info_export(OPT_GO, SIZE, script.flags)).ok()?;
                return s.write_all(&encode_option_ack(OPT_GO)).ok();
            }
            ClientOption::ExportName(_) => {
                return s.write_all(&encode_export_name_reply(SIZE, script.flags, no_zeroes)).ok();
            }
            _ => s.write_all(&encode_option_error(header.option, REP_ERR_UNSUP, None)).ok()?,
        }
    }
}

fn transmission(s: &mut UnixStream, conn: usize, script: Script, log: &Log, disk: &Mutex<Vec<u8>>) {
    let mut header = [0; REQUEST_HEADER_LEN];
    while s.read_exact(&mut header).is_ok() {
        let r = decode_request_header(&header).unwrap();
        let index = {
            let mut log = log.lock().unwrap();
            log.push((conn, r.command, r.flags));
            log.len() - 1
        };
        let range = r.offset as usize..r.offset as usize + r.length as usize;
        let mut payload = vec![0; r.payload_len() as usize];
        s.read_exact(&mut payload).unwrap();
        if r.command == CMD_DISC {
            return;
        }
        if script.stall_reads && r.command == CMD_READ {
            continue;
        }
        if script.eshutdown_at == Some(index) {
            s.write_all(&encode_simple_reply(r.cookie, ESHUTDOWN)).unwrap();
            continue;
        }
        let mut disk = disk.lock().unwrap();
        let mut reply = encode_simple_reply(r.cookie, 0).to_vec();
        match r.command {
            CMD_READ => reply.extend_from_slice(&disk[range]),
            CMD_WRITE => disk[range].copy_from_slice(&payload),
            CMD_WRITE_ZEROES | CMD_TRIM => disk[range].fill(0),
            _ => {}
        }
        s.write_all(&reply).unwrap();
    }
}

fn uri(socket: &Path) -> NbdUri {
    NbdUri::unix(socket, "")
}

fn commands(log: &Log) -> Vec<(usize, u16, u16)> {
    log.lock().unwrap().clone()
}

/// The log once it holds `n` commands (the server logs after the client moved on).
fn wait_for(log: &Log, n: usize) -> Vec<(usize, u16, u16)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while log.lock().unwrap().len() < n && std::time::Instant::now() < deadline {
        thread::sleep(std::time::Duration::from_millis(5));
    }
    commands(log)
}

/// The commands (command, flags) one connection received.
fn on(log: &[(usize, u16, u16)], conn: usize) -> Vec<(u16, u16)> {
    log.iter().filter(|c| c.0 == conn).map(|c| (c.1, c.2)).collect()
}

#[test]
fn export_name_is_the_fallback_when_go_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    let log = serve(&socket, Script { go: false, ..Script::new(FLAG_SEND_FLUSH) });
    let (_io, device, h) = open(uri(&socket));
    assert!(!device.disk::<NbdDisk>().unwrap().info().opened_with_go);
    h.write(512, &[3; 1024]).unwrap();
    assert_eq!(h.read(512, 1024).unwrap().bytes(), &[3; 1024]);
    h.write_zeroes(512, 512, irp::RequestFlags::NONE).unwrap();
    assert_eq!(h.read(512, 1024).unwrap().bytes()[..512], [0; 512], "zeroes written as data");
    assert_eq!(commands(&log)[2], (0, CMD_WRITE, 0), "no SEND_WRITE_ZEROES: a write of zeroes");
}

#[test]
fn fua_is_emulated_with_a_flush_after_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    let log = serve(&socket, Script::new(FLAG_SEND_FLUSH));
    let (_io, _device, h) = open(uri(&socket));
    h.write_fua(0, &[1; 4096]).unwrap();
    assert_eq!(commands(&log), [(0, CMD_WRITE, 0), (0, CMD_FLUSH, 0)]);

    let socket = dir.path().join("S2");
    let log = serve(&socket, Script::new(FLAG_SEND_FLUSH | FLAG_SEND_FUA));
    let (_io, _device, h) = open(uri(&socket));
    h.write_fua(0, &[1; 4096]).unwrap();
    assert_eq!(commands(&log), [(0, CMD_WRITE, CMD_FLAG_FUA)]);
}

/// Was flaky (1 run in 20-40 sent no DISC): the writer saw the connection settled when
/// the reader had decided on the DISC but not yet written it, and shut the socket down.
#[test]
fn closing_flushes_what_no_flush_covered_then_disconnects() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    let log = serve(&socket, Script::new(FLAG_SEND_FLUSH));
    let (io, device, h) = open(uri(&socket));
    h.write(0, &[1; 4096]).unwrap();
    drop((h, io, device));
    assert_eq!(wait_for(&log, 3), [(0, CMD_WRITE, 0), (0, CMD_FLUSH, 0), (0, CMD_DISC, 0)]);
}

#[test]
fn shutdown_flushes_and_disconnects_and_the_next_request_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    let log = serve(&socket, Script::new(FLAG_SEND_FLUSH));
    let (_io, device, h) = open(uri(&socket));
    h.write(0, &[1; 4096]).unwrap();
    let shutdown = irp::Irp::for_device(&device, irp::MajorFunction::Shutdown);
    assert_eq!(device.call_and_wait(shutdown).status(), Status::SUCCESS);
    assert_eq!(h.read(0, 4096).unwrap().bytes(), &[1; 4096]);
    let log = wait_for(&log, 4);
    assert_eq!(on(&log, 0), [(CMD_WRITE, 0), (CMD_FLUSH, 0), (CMD_DISC, 0)], "{log:?}");
    assert_eq!(on(&log, 1), [(CMD_READ, 0)], "{log:?}");
}

#[test]
fn eshutdown_disconnects_and_the_next_request_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    let log = serve(&socket, Script { eshutdown_at: Some(1), ..Script::new(FLAG_SEND_FLUSH) });
    let (_io, device, h) = open(uri(&socket));
    h.read(0, 512).unwrap();
    assert_eq!(h.read(0, 512).unwrap_err(), Status::DEVICE_BUSY);
    h.write(0, &[2; 512]).unwrap();
    assert_eq!(h.read(0, 512).unwrap().bytes(), &[2; 512]);
    h.flush_buffers().unwrap();
    assert!(!device.disk::<NbdDisk>().unwrap().lost_writes());
    let log = wait_for(&log, 6);
    assert_eq!(on(&log, 0), [(CMD_READ, 0), (CMD_READ, 0), (CMD_DISC, 0)], "{log:?}");
    assert_eq!(on(&log, 1), [(CMD_WRITE, 0), (CMD_READ, 0), (CMD_FLUSH, 0)], "{log:?}");
}

#[test]
fn dropping_the_disk_with_a_request_stuck_in_the_server_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    serve(&socket, Script { stall_reads: true, ..Script::new(FLAG_SEND_FLUSH) });
    let timeout = Duration::from_millis(300);
    let options = NbdOptions { timeout, request_timeout: None, ..NbdOptions::new(uri(&socket)) };
    let device = NbdDisk::create("stall", options).unwrap();
    let (tx, rx) = mpsc::channel();
    let read = irp::Irp::for_device(&device, irp::MajorFunction::Read)
        .with_parameters(irp::Parameters::Read { offset: 0, length: 512 })
        .with_mdl(irp::Mdl::with_len(512).unwrap());
    assert_eq!(irp::Device::submit_to(&device, read, tx), Status::PENDING);
    let start = Instant::now();
    drop(device);
    assert!(start.elapsed() < Duration::from_secs(5), "drop took {:?}", start.elapsed());
    assert_eq!(rx.recv_timeout(Duration::from_secs(1)).unwrap().status(), Status::CONNECTION_RESET);
}

#[test]
fn a_server_that_stops_answering_is_given_up_after_the_request_timeout_and_the_next_request_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    let log = serve(&socket, Script { stall_reads: true, ..Script::new(FLAG_SEND_FLUSH) });
    let limit = Duration::from_millis(400);
    let options = NbdOptions { request_timeout: Some(limit), ..NbdOptions::new(uri(&socket)) };
    let device = NbdDisk::create("silent", options).unwrap();
    let (_io, h) = nbd_support::open_device(&device);
    // Answered requests keep the connection: nothing is owed between them.
    h.write(0, &[3; 512]).unwrap();
    std::thread::sleep(limit * 2);
    h.flush_buffers().unwrap();
    // A read the server never answers fails once nothing arrived for the limit.
    let start = Instant::now();
    assert_eq!(h.read(0, 512).unwrap_err(), Status::IO_TIMEOUT);
    let took = start.elapsed();
    assert!(took >= limit && took < limit * 3, "gave up after {took:?} (limit {limit:?})");
    // Everything acknowledged was flushed: nothing is lost, and the next request
    // reconnects.
    assert!(!device.disk::<NbdDisk>().unwrap().lost_writes());
    h.write(512, &[4; 512]).unwrap();
    h.flush_buffers().unwrap();
    let log = wait_for(&log, 5);
    assert_eq!(on(&log, 0), [(CMD_WRITE, 0), (CMD_FLUSH, 0), (CMD_READ, 0)], "{log:?}");
    assert_eq!(on(&log, 1), [(CMD_WRITE, 0), (CMD_FLUSH, 0)], "{log:?}");
}

/// Opens an NBD disk called `name` (unique per test: the injected panics are armed per
/// disk name) on `socket`.
fn open_named(socket: &Path, name: &str) -> (irp::IoManager, irp::DeviceRef, irp::Handle) {
    let device = NbdDisk::create(name, NbdOptions::new(uri(socket))).unwrap();
    let (io, handle) = nbd_support::open_device(&device);
    (io, device, handle)
}

/// A panic in a connection's reader thread fails what that connection has in flight with
/// STATUS_INTERNAL_ERROR (nothing is left waiting), and the next request reconnects.
#[test]
fn a_panic_in_the_reader_fails_what_is_in_flight_and_the_next_request_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    let log = serve(&socket, Script::new(FLAG_SEND_FLUSH));
    let (_io, _device, h) = open_named(&socket, "panicky-reader");
    h.write(0, &[7; 4096]).unwrap();
    h.flush_buffers().unwrap();
    irp::testing::panics::arm("nbd-client-reader", "panicky-reader", 1);
    assert_eq!(h.read(0, 4096).map(drop), Err(Status::INTERNAL_ERROR), "the read in flight fails");
    assert_eq!(irp::testing::panics::pending("nbd-client-reader", "panicky-reader"), 0);
    assert_eq!(h.read(0, 4096).unwrap().bytes(), &[7; 4096], "a new connection serves the next one");
    h.flush_buffers().expect("no acknowledged write was unflushed: flushes still succeed");
    let connections: std::collections::HashSet<usize> = commands(&log).iter().map(|c| c.0).collect();
    assert_eq!(connections.len(), 2, "it reconnected");
}

/// A panic in the writer thread fails what is queued, and every later request fails at
/// once instead of waiting for a writer that is gone.
#[test]
fn a_panic_in_the_writer_fails_what_is_queued_and_later_requests() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("S");
    serve(&socket, Script::new(FLAG_SEND_FLUSH));
    let (io, device, h) = open_named(&socket, "panicky-writer");
    h.write(0, &[7; 4096]).unwrap();
    // Flushed: the connection's end loses no acknowledged write (which would make
    // flushes fail with STATUS_CONNECTION_RESET instead).
    h.flush_buffers().unwrap();
    irp::testing::panics::arm("nbd-client-writer", "panicky-writer", 1);
    assert_eq!(h.read(0, 4096).map(drop), Err(Status::INTERNAL_ERROR), "the queued read fails");
    assert_eq!(h.write(0, &[8; 4096]), Err(Status::INTERNAL_ERROR), "so does every later request");
    assert_eq!(h.flush_buffers(), Err(Status::INTERNAL_ERROR));
    drop((h, io, device)); // and closing the disk does not hang
}
