//! Connection slots (issue 13, item 4): a deadline for the whole handshake, a cap of
//! their own for connections still in the handshake, an optional idle timeout, and at
//! the connection limit the connection idle longest makes room. Clients here are raw
//! sockets that trickle bytes or stall.

mod common;
mod raw_client;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Running, export};
use nbd::consts::{IHAVEOPT, OPT_GO};
use nbd::handshake::ClientOption;
use nbd_server::Limits;
use raw_client::RawClient;

fn memory_server(limits: Limits) -> Running {
    Running::with_limits(vec![export("", "memory(size=1M)")], limits)
}

/// Connects and reads the greeting: the server accepted the connection and is in its
/// handshake, waiting for the client's flags.
fn stall_in_handshake(socket: &Path) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut greeting = [0; 18];
    s.read_exact(&mut greeting).expect("a greeting");
    s
}

/// Whether the server has closed `s` (reads end of file) — without waiting.
fn closed_now(s: &mut UnixStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut byte = [0; 1];
    let closed = match s.read(&mut byte) {
        Ok(0) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
        Ok(_) => false,
    };
    s.set_nonblocking(false).unwrap();
    closed
}

/// Waits (up to 20 s) until the server closes `s`.
fn closes(s: &mut UnixStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// A client that sends its handshake one byte every 200 ms (4 s for the whole of it)
/// is closed at the handshake's deadline (1 s here), however often bytes arrive.
#[test]
fn a_trickled_handshake_is_closed_at_its_deadline() {
    let limits = Limits { handshake_timeout: Duration::from_secs(1), ..Limits::default() };
    let mut server = memory_server(limits);
    let mut s = stall_in_handshake(server.socket());
    let mut bytes = 1u32.to_be_bytes().to_vec(); // NBD_FLAG_C_FIXED_NEWSTYLE
    let go = ClientOption::Go { name: String::new(), requests: vec![] }.encode_data().unwrap();
    bytes.extend_from_slice(&IHAVEOPT.to_be_bytes());
    bytes.extend_from_slice(&OPT_GO.to_be_bytes());
    bytes.extend_from_slice(&(go.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&go);
    let mut sent = 0;
    for byte in &bytes {
        if closed_now(&mut s) || s.write_all(&[*byte]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(sent < bytes.len(), "the server waited for the whole trickled handshake ({sent} bytes)");
    assert!(closes(&mut s), "the connection is closed");
    // Others are served.
    let mut good = RawClient::open(server.socket(), "", false).unwrap();
    assert_eq!(good.write(0, &[1; 512], false).unwrap(), 0);
    server.stop().unwrap();
}

/// Clients that connect and dawdle in the handshake can take only their own places:
/// established clients go on, and the places come back when the dawdlers go.
#[test]
fn connections_in_the_handshake_have_a_bound_of_their_own() {
    let limits =
        Limits { max_handshakes: 2, handshake_timeout: Duration::from_secs(60), ..Limits::default() };
    let mut server = memory_server(limits);
    let mut established = RawClient::open(server.socket(), "", false).unwrap();
    let dawdlers = [stall_in_handshake(server.socket()), stall_in_handshake(server.socket())];
    assert!(RawClient::connect(server.socket()).is_err(), "a third client in the handshake is refused");
    assert_eq!(established.write(0, &[2; 4096], false).unwrap(), 0, "the established client is served");
    assert_eq!(established.read(0, 4096).unwrap(), Ok(vec![2; 4096]));
    drop(dawdlers);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut newcomer = loop {
        match RawClient::open(server.socket(), "", false) {
            Ok(c) => break c,
            Err(e) => assert!(Instant::now() < deadline, "the dawdlers' places never came back: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(newcomer.read(0, 4096).unwrap(), Ok(vec![2; 4096]));
    drop((established, newcomer));
    server.stop().unwrap();
}

/// With an idle timeout, a connection with nothing in flight and nothing arriving is
/// closed, and so is one that stopped in the middle of a request; one that keeps
/// sending requests is not.
#[test]
fn the_idle_timeout_closes_idle_and_stalled_connections() {
    let limits = Limits { idle_timeout: Some(Duration::from_secs(1)), ..Limits::default() };
    let mut server = memory_server(limits);
    let mut idle = RawClient::open(server.socket(), "", false).unwrap();
    let mut stalled = RawClient::open(server.socket(), "", false).unwrap();
    stalled.stream.write_all(&nbd::consts::REQUEST_MAGIC.to_be_bytes()).unwrap(); // 4 of 28 bytes
    let mut active = RawClient::open(server.socket(), "", false).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(active.write(0, &[3; 512], false).unwrap(), 0, "a client that keeps working is served");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(idle.is_closed(), "the idle connection is closed");
    assert!(stalled.is_closed(), "the stalled connection is closed");
    assert_eq!(active.read(0, 512).unwrap(), Ok(vec![3; 512]), "the active one is still open");
    drop(active);
    server.stop().unwrap();
}

/// At the connection limit, a new client takes the place of the connection idle longest
/// (nothing in flight: it loses nothing but the connection); with none idle long enough
/// it is refused.
#[test]
fn at_the_limit_the_connection_idle_longest_makes_room() {
    let limits =
        Limits { max_connections: 2, evict_idle_after: Duration::from_millis(200), ..Limits::default() };
    let mut server = memory_server(limits);
    let mut sleeper = RawClient::open(server.socket(), "", false).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let mut worker = RawClient::open(server.socket(), "", false).unwrap();
    assert_eq!(worker.write(0, &[4; 512], false).unwrap(), 0);
    let mut newcomer = RawClient::open(server.socket(), "", false).expect("room is made");
    assert!(sleeper.is_closed(), "the connection idle longest was closed");
    assert_eq!(newcomer.read(0, 512).unwrap(), Ok(vec![4; 512]));
    assert_eq!(worker.read(0, 512).unwrap(), Ok(vec![4; 512]), "the worker was not touched");
    drop((worker, newcomer));
    server.stop().unwrap();

    let limits =
        Limits { max_connections: 1, evict_idle_after: Duration::from_secs(60), ..Limits::default() };
    let mut server = memory_server(limits);
    let mut only = RawClient::open(server.socket(), "", false).unwrap();
    assert!(RawClient::connect(server.socket()).is_err(), "nobody idle for a minute: refused");
    assert_eq!(only.read(0, 512).unwrap(), Ok(vec![0; 512]));
    drop(only);
    server.stop().unwrap();
}

/// Sixteen clients that pipeline reads and never read the replies hold the server-wide
/// budget for bytes in flight (scaled down here: 4 MiB, 1 MiB per connection); a fresh
/// client is still served — its fair share of the budget goes in — instead of waiting
/// for the slow ones to be cut off by the reply timeout.
#[test]
fn a_fresh_client_is_served_while_slow_readers_hold_the_budget() {
    use nbd::consts::CMD_READ;
    use nbd::transmission::RequestHeader;
    let limits = Limits {
        max_server_bytes_in_flight: 4 << 20,
        max_bytes_in_flight: 1 << 20,
        reply_timeout: Duration::from_secs(600),
        ..Limits::default()
    };
    let mut server = memory_server(limits);
    let slow: Vec<RawClient> = (0..16)
        .map(|_| {
            let mut c = RawClient::open(server.socket(), "", false).unwrap();
            for cookie in 0..64 {
                let header =
                    RequestHeader { flags: 0, command: CMD_READ, cookie, offset: 0, length: 256 << 10 };
                c.send(header, &[]).unwrap();
            }
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300)); // the slow ones fill their sockets
    let mut fresh = RawClient::open(server.socket(), "", false).unwrap();
    // RawClient gives up after 20 s; without fair shares this waited for the reply timeout.
    assert_eq!(fresh.read(0, 128 << 10).unwrap(), Ok(vec![0; 128 << 10]));
    assert_eq!(fresh.write(0, &[9; 64 << 10], false).unwrap(), 0);
    assert_eq!(fresh.flush().unwrap(), 0);
    assert_eq!(fresh.read(0, 64 << 10).unwrap(), Ok(vec![9; 64 << 10]), "nothing acknowledged is lost");
    drop(fresh);
    server.stop().unwrap(); // cuts the slow ones off after the stop's grace
    drop(slow);
}

/// Shares shrink as connections come: early slow readers may hold more than their share
/// when the hard cap (twice the bound) is reached. Such a connection that reads nothing
/// while another waits for room is cut off after the stall timeout, and the waiting
/// client is served.
#[test]
fn a_stuck_client_over_its_share_is_cut_off_when_others_wait() {
    use nbd::consts::CMD_READ;
    use nbd::transmission::RequestHeader;
    let limits = Limits {
        max_server_bytes_in_flight: 4 << 20,
        max_bytes_in_flight: 4 << 20,
        stall_timeout: Duration::from_millis(300),
        reply_timeout: Duration::from_secs(600),
        ..Limits::default()
    };
    let mut server = memory_server(limits);
    let stuck = |server: &Running| {
        let mut c = RawClient::open(server.socket(), "", false).unwrap();
        for cookie in 0..16 {
            let header = RequestHeader { flags: 0, command: CMD_READ, cookie, offset: 0, length: 1 << 20 };
            c.send(header, &[]).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        c
    };
    // The first takes the whole bound (4 MiB), the next ones their shrinking shares, up to
    // the cap of 8 MiB.
    let mut first = stuck(&server);
    let others: Vec<RawClient> = (0..3).map(|_| stuck(&server)).collect();
    let mut fresh = RawClient::open(server.socket(), "", false).unwrap();
    assert_eq!(fresh.read(0, 256 << 10).unwrap(), Ok(vec![0; 256 << 10]), "served");
    assert_eq!(fresh.write(0, &[5; 4096], false).unwrap(), 0);
    assert_eq!(fresh.flush().unwrap(), 0);
    assert!(first.is_closed(), "the client holding four times its share was cut off");
    drop((fresh, others));
    server.stop().unwrap();
}
