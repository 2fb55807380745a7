//! Transmission: data round trips, refusals with the spec's errors, many requests in
//! flight answered out of order (within per-connection and server-wide bounds), the
//! flush promise (on one connection and across connections), and a graceful stop that
//! shuts the stacks down.

mod common;
mod raw_client;

use std::collections::HashSet;
use std::io::Write;

use common::{Running, export};
use nbd::consts::{
    CMD_FLAG_FUA, CMD_FLAG_NO_HOLE, CMD_FLUSH, CMD_READ, CMD_TRIM, CMD_WRITE, CMD_WRITE_ZEROES, EINVAL, EIO,
    ENOSPC, EPERM,
};
use nbd::transmission::RequestHeader;
use nbd_server::Limits;
use raw_client::RawClient;

fn header(command: u16, flags: u16, cookie: u64, offset: u64, length: u32) -> RequestHeader {
    RequestHeader { flags, command, cookie, offset, length }
}

#[test]
fn data_round_trips_with_simple_and_structured_replies() {
    let mut server = Running::start(vec![export("", "cache(size=1M) / memory(size=4M)")]);
    for structured in [false, true] {
        let mut c = RawClient::open(server.socket(), "", structured).unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + u32::from(structured)) as u8).collect();
        assert_eq!(c.write(12345, &data, false).unwrap(), 0);
        assert_eq!(c.read(12345, data.len() as u32).unwrap(), Ok(data.clone()));
        assert_eq!(c.read(0, 0).unwrap(), Ok(Vec::new()), "an empty read succeeds");
        // Write-zeroes (with and without NO_HOLE and FUA) and trim.
        let zero = c.request(header(CMD_WRITE_ZEROES, CMD_FLAG_NO_HOLE, 1, 12345, 1000), &[]).unwrap();
        assert_eq!(zero.error, 0);
        let zero = c.request(header(CMD_WRITE_ZEROES, CMD_FLAG_FUA, 2, 20000, 5000), &[]).unwrap();
        assert_eq!(zero.error, 0);
        let mut expected = data.clone();
        expected[..1000].fill(0);
        expected[20000 - 12345..25000 - 12345].fill(0);
        assert_eq!(c.read(12345, data.len() as u32).unwrap(), Ok(expected));
        assert_eq!(c.request(header(CMD_TRIM, CMD_FLAG_FUA, 3, 0, 65536), &[]).unwrap().error, 0);
        assert_eq!(c.flush().unwrap(), 0);
    }
    server.stop().unwrap();
}

#[test]
fn bad_requests_get_the_spec_errors_and_the_connection_goes_on() {
    let mut server =
        Running::start(vec![export("", "memory(size=1M)"), export("ro", "memory(size=1M)").read_only(true)]);
    for structured in [false, true] {
        let mut c = RawClient::open(server.socket(), "", structured).unwrap();
        let size = 1 << 20;
        assert_eq!(c.read(size - 10, 20).unwrap(), Err(EINVAL), "read past the end");
        assert_eq!(c.write(size - 10, &[1; 20], false).unwrap(), ENOSPC, "write past the end");
        assert_eq!(c.read(u64::MAX - 1, 20).unwrap(), Err(EINVAL), "offset overflow");
        assert_eq!(c.request(header(42, 0, 5, 0, 0), &[]).unwrap().error, EINVAL, "unknown command");
        assert_eq!(
            c.request(header(CMD_READ, 0, 6, 0, 33 << 20), &[]).unwrap().error,
            EINVAL,
            "read > 32 MiB (EOVERFLOW is for DF reads)"
        );
        assert_eq!(
            c.request(header(CMD_FLUSH, 0, 7, 1, 0), &[]).unwrap().error,
            EINVAL,
            "flush with an offset"
        );
        assert_eq!(c.request(header(CMD_READ, 0x4000, 8, 0, 1), &[]).unwrap().error, EINVAL, "unknown flag");
        // Still in sync after all of that.
        assert_eq!(c.write(0, b"still here", true).unwrap(), 0);
        assert_eq!(c.read(0, 10).unwrap(), Ok(b"still here".to_vec()));
    }
    let mut ro = RawClient::open(server.socket(), "ro", false).unwrap();
    assert_eq!(ro.write(0, &[1; 4096], false).unwrap(), EPERM, "the payload is skipped, then refused");
    let trim = ro.request(header(CMD_TRIM, 0, 9, 0, 4096), &[]).unwrap();
    assert_eq!(trim.error, EPERM, "trim on a read-only export (not advertised there either)");
    let zeroes = ro.request(header(CMD_WRITE_ZEROES, 0, 10, 0, 4096), &[]).unwrap();
    assert_eq!(zeroes.error, EPERM, "write-zeroes on a read-only export");
    assert_eq!(ro.flush().unwrap(), 0, "nothing to flush on a read-only export");
    assert_eq!(ro.read(0, 4).unwrap(), Ok(vec![0; 4]));
    server.stop().unwrap();
}

/// A crashed crash disk is a device that is gone: its requests fail with EIO, not with
/// the EINVAL of a bad request.
#[test]
fn a_crashed_disk_answers_eio() {
    let mut server = Running::start(vec![export("", "crash(size=1M,control=crash-now)")]);
    let mut c = RawClient::open(server.socket(), "", true).unwrap();
    assert_eq!(c.write(0, &[1; 4096], false).unwrap(), 0);
    std::fs::write(server.path("crash-now"), "lose-all").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let error = loop {
        match c.read(0, 4096).unwrap() {
            Ok(_) => assert!(std::time::Instant::now() < deadline, "the control file did not crash the disk"),
            Err(error) => break error,
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(error, EIO, "a read of the crashed disk");
    assert_eq!(c.write(0, &[2; 4096], false).unwrap(), EIO, "a write");
    assert_eq!(c.flush().unwrap(), EIO, "a flush");
    drop(c);
    // The shutdown of a crashed disk fails: the server says so.
    let _ = server.stop();
}

/// A panic in a connection's thread (injected while it starts a read) leaves nobody
/// waiting: that client gets EIO for the request or sees the connection close, the
/// server goes on serving others, and it still stops cleanly.
#[test]
fn a_panic_in_a_connection_thread_closes_only_that_connection() {
    let mut server =
        Running::start(vec![export("panicky-connection", "memory(size=1M)"), export("", "memory(size=1M)")]);
    let mut other = RawClient::open(server.socket(), "", false).unwrap();
    let mut victim = RawClient::open(server.socket(), "panicky-connection", false).unwrap();
    assert_eq!(victim.write(0, &[3; 4096], false).unwrap(), 0);
    irp::testing::panics::arm("nbd-server-connection", "panicky-connection", 1);
    match victim.read(0, 4096) {
        Ok(Err(error)) => assert_eq!(error, EIO, "the request in the panicking thread"),
        Ok(Ok(_)) => panic!("the read succeeded: no panic was injected"),
        Err(_) => {} // the connection closed before the reply went out
    }
    assert!(victim.is_closed(), "the connection is closed");
    assert_eq!(irp::testing::panics::pending("nbd-server-connection", "panicky-connection"), 0);
    assert_eq!(other.write(0, &[4; 4096], false).unwrap(), 0, "other connections go on");
    let mut again = RawClient::open(server.socket(), "panicky-connection", false).unwrap();
    assert_eq!(again.read(0, 4096).unwrap(), Ok(vec![3; 4096]), "and new ones are served");
    drop((other, again));
    server.stop().unwrap();
}

/// A panic in a connection's reply thread (injected when it takes a reply the socket did
/// not take at once) breaks that connection like a failed write: its client sees it close,
/// and neither the connection's thread nor the server's stop waits for replies nobody
/// will send.
#[test]
fn a_panic_in_a_reply_thread_breaks_only_that_connection() {
    let mut server =
        Running::start(vec![export("panicky-replies", "memory(size=64M)"), export("", "memory(size=1M)")]);
    let mut other = RawClient::open(server.socket(), "", false).unwrap();
    let mut victim = RawClient::open(server.socket(), "panicky-replies", false).unwrap();
    irp::testing::panics::arm("nbd-server-replies", "panicky-replies", 1);
    // Replies of 1 MiB that the client does not read: the socket fills, the reply
    // thread takes over, and panics.
    for cookie in 0..8 {
        victim.send(header(CMD_READ, 0, cookie, 0, 1 << 20), &[]).unwrap();
    }
    assert!(victim.is_closed(), "the connection is broken");
    assert_eq!(irp::testing::panics::pending("nbd-server-replies", "panicky-replies"), 0);
    assert_eq!(other.write(0, &[6; 512], false).unwrap(), 0, "other connections go on");
    drop(other);
    server.stop().unwrap();
}

#[test]
fn protocol_violations_close_only_that_connection() {
    let mut server = Running::start(vec![export("", "memory(size=1M)")]);
    let mut good = RawClient::open(server.socket(), "", false).unwrap();
    assert_eq!(good.write(0, &[1; 4096], false).unwrap(), 0);

    let mut garbage = RawClient::open(server.socket(), "", false).unwrap();
    garbage.stream.write_all(&[0xde; 28]).unwrap();
    assert!(garbage.is_closed(), "bad request magic: closed");

    let mut huge = RawClient::open(server.socket(), "", false).unwrap();
    huge.send(header(CMD_WRITE, 0, 1, 0, 64 << 20), &[0; 4096]).unwrap();
    assert!(huge.is_closed(), "a write payload over 32 MiB is not skipped: closed");

    let mut truncated = RawClient::open(server.socket(), "", false).unwrap();
    truncated.send(header(CMD_WRITE, 0, 1, 0, 8192), &[9; 100]).unwrap();
    drop(truncated); // the write was never complete: not carried out

    assert_eq!(good.read(0, 4096).unwrap(), Ok(vec![1; 4096]));
    assert_eq!(good.flush().unwrap(), 0);
    server.stop().unwrap();
}

/// Sends `count` requests without waiting, with a thread reading replies; returns the
/// cookies answered (each exactly once, errors none).
fn pipeline(c: RawClient, count: u64) -> HashSet<u64> {
    let mut writer = c.stream.try_clone().unwrap();
    let mut reader = c;
    let replies = std::thread::spawn(move || {
        let mut cookies = HashSet::new();
        for _ in 0..count {
            // Reads are 512 bytes at odd cookies; writes at even ones.
            let answer = reader.answer_with(|cookie| if cookie % 2 == 1 { 512 } else { 0 }).unwrap();
            let expected_len = if answer.cookie % 2 == 1 { 512 } else { 0 };
            assert_eq!((answer.error, answer.data.len()), (0, expected_len), "cookie {}", answer.cookie);
            assert!(cookies.insert(answer.cookie), "cookie {} answered twice", answer.cookie);
        }
        cookies
    });
    let mut message = Vec::new();
    for cookie in 0..count {
        let offset = (cookie % 64) * 4096;
        let (command, length) = if cookie % 2 == 1 { (CMD_READ, 512) } else { (CMD_WRITE, 4096) };
        message.extend_from_slice(&nbd::transmission::encode_request(&header(
            command, 0, cookie, offset, length,
        )));
        if command == CMD_WRITE {
            message.extend_from_slice(&[cookie as u8; 4096]);
        }
    }
    writer.write_all(&message).unwrap();
    replies.join().unwrap()
}

#[test]
fn many_requests_in_flight_are_all_answered() {
    let mut server = Running::start(vec![export("", "file(path=disk.img,size=1M,threads=4)")]);
    let c = RawClient::open(server.socket(), "", false).unwrap();
    assert_eq!(pipeline(c, 1000), (0..1000).collect());
    let c = RawClient::open(server.socket(), "", true).unwrap();
    assert_eq!(pipeline(c, 1000), (0..1000).collect());
    server.stop().unwrap();

    // The same with room for only two requests (8 KiB) at a time.
    let limits = Limits { max_requests_in_flight: 2, max_bytes_in_flight: 8192, ..Limits::default() };
    let mut server = Running::with_limits(vec![export("", "file(path=disk.img,size=1M)")], limits);
    let c = RawClient::open(server.socket(), "", true).unwrap();
    assert_eq!(pipeline(c, 300), (0..300).collect());
    server.stop().unwrap();

    // Four connections sharing room for 8 KiB server-wide.
    let limits = Limits { max_server_bytes_in_flight: 8192, ..Limits::default() };
    let mut server = Running::with_limits(vec![export("", "file(path=disk.img,size=1M,threads=4)")], limits);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let c = RawClient::open(server.socket(), "", true).unwrap();
            std::thread::spawn(move || pipeline(c, 300))
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), (0..300).collect());
    }
    server.stop().unwrap();
}

fn durable(server: &Running, offset: usize, len: usize) -> Vec<u8> {
    std::fs::read(server.path("durable.img")).unwrap()[offset..offset + len].to_vec()
}

#[test]
fn flush_makes_acknowledged_writes_durable_across_connections() {
    // The crash disk's image file holds only what a flush made durable.
    let mut server = Running::start(vec![export("", "crash(size=1M,path=durable.img)")]);
    let mut a = RawClient::open(server.socket(), "", false).unwrap();
    let mut b = RawClient::open(server.socket(), "", true).unwrap();
    assert_eq!(a.write(0, &[0xaa; 4096], false).unwrap(), 0);
    assert_eq!(durable(&server, 0, 4096), vec![0; 4096], "not durable before a flush");
    assert_eq!(b.flush().unwrap(), 0, "a flush on another connection");
    assert_eq!(durable(&server, 0, 4096), vec![0xaa; 4096], "covered: CAN_MULTI_CONN holds");

    assert_eq!(b.write(8192, &[0xbb; 4096], true).unwrap(), 0);
    assert_eq!(durable(&server, 8192, 4096), vec![0xbb; 4096], "a FUA write is durable when answered");
    server.stop().unwrap();
}

#[test]
fn stop_answers_clients_and_shuts_the_stacks_down() {
    let mut server = Running::start(vec![export("", "cache(size=1M) / crash(size=1M,path=durable.img)")]);
    let mut c = RawClient::open(server.socket(), "", false).unwrap();
    assert_eq!(c.write(4096, &[0x5a; 4096], false).unwrap(), 0);
    assert_eq!(durable(&server, 4096, 4096), vec![0; 4096], "still in the cache");
    server.stop().expect("a clean stop");
    assert!(c.is_closed(), "connections are closed at stop");
    let bytes = std::fs::read(server.path("durable.img")).unwrap();
    assert_eq!(bytes[4096..8192], [0x5a; 4096], "IRP_MJ_SHUTDOWN wrote the cache back and synced the disk");
}

#[test]
fn flush_goes_through_irpstacks_own_nbd_client() {
    // Server A keeps the disk; server B exports `nbd(uri=A)`: the NBD client driver
    // turns B's FlushBuffers IRP back into NBD_CMD_FLUSH on A.
    let mut a = Running::start(vec![export("", "crash(size=1M,path=durable.img)")]);
    let uri = format!("nbd+unix:///?socket={}", a.socket().display());
    let mut b = Running::start(vec![export("", &format!("nbd(uri=\"{uri}\")"))]);
    let mut c = RawClient::open(b.socket(), "", true).unwrap();
    assert_eq!(c.size, 1 << 20);
    assert_eq!(c.write(65536, &[0x42; 8192], false).unwrap(), 0);
    assert_eq!(durable(&a, 65536, 8192), vec![0; 8192]);
    assert_eq!(c.flush().unwrap(), 0);
    assert_eq!(durable(&a, 65536, 8192), vec![0x42; 8192], "the flush reached A's disk");
    assert_eq!(c.read(65536, 8192).unwrap(), Ok(vec![0x42; 8192]));
    b.stop().unwrap();
    a.stop().unwrap();
}
