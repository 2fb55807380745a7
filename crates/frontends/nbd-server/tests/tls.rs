//! TLS (`NBD_OPT_STARTTLS`): forced and optional TLS answered as the spec says, client
//! certificates checked, bad credentials refused naming the file, the TLS handshake under
//! the handshake's deadline, and the NBD client disk over TLS against this server.

mod common;
mod raw_client;

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Running, export};
use nbd::consts::{
    OPT_EXPORT_NAME, OPT_GO, OPT_INFO, OPT_LIST, OPT_STARTTLS, OPT_STRUCTURED_REPLY, REP_ERR_INVALID,
    REP_ERR_TLS_REQD, REP_ERR_UNSUP,
};
use nbd::handshake::{ClientOption, OptionReply};
use nbd_server::{Limits, TlsConfig, TlsMode};
use nbd_tls::rustls::ClientConnection;
use nbd_tls::{Relay, Socket};
use raw_client::RawClient;

/// A certificates directory, or `None` (the test skips) without `openssl`.
fn pki() -> Option<tempfile::TempDir> {
    if !nbd_tls::testing::have_openssl() {
        irp::testing::skip("openssl not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    nbd_tls::testing::make_pki(dir.path()).unwrap();
    Some(dir)
}

fn tls(mode: TlsMode, dir: &Path, verify_peer: bool) -> TlsConfig {
    TlsConfig { mode, certificates: Some(dir.to_owned()), verify_peer }
}

fn server(mode: TlsMode, dir: &Path, verify_peer: bool) -> Running {
    Running::with_tls(vec![export("", "memory(size=4M)")], Limits::default(), tls(mode, dir, verify_peer))
}

fn error_type(replies: &[OptionReply]) -> u32 {
    match replies.last() {
        Some(OptionReply::Error { reply_type, .. }) => *reply_type,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

/// `NBD_OPT_STARTTLS`, the TLS handshake with the client credentials in `client_dir`,
/// then the client's stream is the plain end of a relay (returned: keep it alive).
fn start_tls(c: &mut RawClient, client_dir: &Path) -> std::io::Result<Relay> {
    assert_eq!(c.option(OPT_STARTTLS, &[])?, vec![OptionReply::Ack]);
    let config = nbd_tls::client_config(client_dir).unwrap();
    let mut conn = ClientConnection::new(config, "localhost".try_into().unwrap()).unwrap();
    let socket = Socket::Unix(std::mem::replace(&mut c.stream, UnixStream::pair()?.0));
    nbd_tls::handshake(&mut conn, &mut &socket)?;
    let (plain, relay) = nbd_tls::start(conn.into(), socket, "test-client")?;
    plain.set_read_timeout(Some(Duration::from_secs(20)))?;
    c.stream = plain;
    Ok(relay)
}

/// Data written over TLS reads back.
fn round_trip(c: &mut RawClient) {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 13) as u8).collect();
    assert_eq!(c.write(777, &data, true).unwrap(), 0);
    assert_eq!(c.read(777, data.len() as u32).unwrap(), Ok(data));
    assert_eq!(c.flush().unwrap(), 0);
}

#[test]
fn required_tls_refuses_every_option_before_starttls() {
    let Some(dir) = pki() else { return };
    let server = server(TlsMode::Require, dir.path(), false);
    let mut c = RawClient::connect(server.socket()).unwrap();
    let go = ClientOption::Go { name: String::new(), requests: vec![] }.encode_data().unwrap();
    assert_eq!(error_type(&c.option(OPT_GO, &go).unwrap()), REP_ERR_TLS_REQD);
    assert_eq!(error_type(&c.option(OPT_INFO, &go).unwrap()), REP_ERR_TLS_REQD);
    assert_eq!(error_type(&c.option(OPT_LIST, &[]).unwrap()), REP_ERR_TLS_REQD);
    assert_eq!(error_type(&c.option(OPT_STRUCTURED_REPLY, &[]).unwrap()), REP_ERR_TLS_REQD);
    assert_eq!(error_type(&c.option(99, &[]).unwrap()), REP_ERR_TLS_REQD);
    let _relay = start_tls(&mut c, dir.path()).unwrap();
    // Over TLS: everything is answered; a second STARTTLS is invalid.
    assert_eq!(error_type(&c.option(OPT_STARTTLS, &[]).unwrap()), REP_ERR_INVALID);
    assert_eq!(c.option(OPT_LIST, &[]).unwrap().last(), Some(&OptionReply::Ack));
    let mut c = c.go("", true).unwrap();
    assert_eq!(c.size, 4 << 20);
    round_trip(&mut c);
}

#[test]
fn required_tls_closes_export_name_before_starttls() {
    let Some(dir) = pki() else { return };
    let server = server(TlsMode::Require, dir.path(), false);
    let mut c = RawClient::connect(server.socket()).unwrap();
    c.send_option(OPT_EXPORT_NAME, b"").unwrap();
    let mut byte = [0; 1];
    assert_eq!(c.stream.read(&mut byte).unwrap(), 0, "the server closes the connection");
}

#[test]
fn optional_tls_serves_plain_and_tls_clients() {
    let Some(dir) = pki() else { return };
    let server = server(TlsMode::On, dir.path(), false);
    let mut plain = RawClient::open(server.socket(), "", false).unwrap();
    round_trip(&mut plain);
    let mut c = RawClient::connect(server.socket()).unwrap();
    let _relay = start_tls(&mut c, dir.path()).unwrap();
    let mut c = c.go("", false).unwrap();
    round_trip(&mut c);
    // Both at once, on one stack.
    round_trip(&mut plain);
}

#[test]
fn tls_off_refuses_starttls() {
    let Some(dir) = pki() else { return };
    let server = server(TlsMode::Off, dir.path(), false);
    let mut c = RawClient::connect(server.socket()).unwrap();
    assert_eq!(error_type(&c.option(OPT_STARTTLS, &[]).unwrap()), REP_ERR_UNSUP);
    round_trip(&mut c.go("", false).unwrap());
}

#[test]
fn verify_peer_requires_a_client_certificate_from_the_ca() {
    let Some(dir) = pki() else { return };
    let server = server(TlsMode::Require, dir.path(), true);
    // Only the CA: no client certificate to show.
    let anonymous = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("ca-cert.pem"), anonymous.path().join("ca-cert.pem")).unwrap();
    let mut c = RawClient::connect(server.socket()).unwrap();
    // TLS 1.3: the client's handshake may finish before the server refuses; the refusal
    // arrives at the latest as the end of the stream.
    if let Ok(_relay) = start_tls(&mut c, anonymous.path()) {
        let go = ClientOption::Go { name: String::new(), requests: vec![] }.encode_data().unwrap();
        assert!(c.option(OPT_GO, &go).is_err(), "a client without a certificate got an answer");
    }
    // A certificate the CA did not sign.
    let stranger = pki().unwrap();
    std::fs::copy(dir.path().join("ca-cert.pem"), stranger.path().join("ca-cert.pem")).unwrap();
    let mut c = RawClient::connect(server.socket()).unwrap();
    if let Ok(_relay) = start_tls(&mut c, stranger.path()) {
        assert!(c.option(OPT_LIST, &[]).is_err(), "a client with a stranger's certificate got an answer");
    }
    // The CA's client certificate.
    let mut c = RawClient::connect(server.socket()).unwrap();
    let _relay = start_tls(&mut c, dir.path()).unwrap();
    round_trip(&mut c.go("", true).unwrap());
}

#[test]
fn bad_credentials_are_refused_at_bind_naming_the_file() {
    let Some(dir) = pki() else { return };
    let d = dir.path();
    let bind = |tls: TlsConfig| {
        let socket = d.join("x.sock");
        let mut config = nbd_server::ServerConfig::new().listen(nbd_server::Listen::Unix(socket));
        config.exports = vec![export("", "memory(size=1M)")];
        config.tls = tls;
        let manager = std::sync::Arc::new(irp::IoManager::new());
        nbd_server::Server::bind(config, manager).map(drop).unwrap_err().to_string()
    };
    let e = bind(TlsConfig { mode: TlsMode::Require, certificates: None, verify_peer: false });
    assert!(e.contains("no certificates directory"), "{e}");
    std::fs::copy(d.join("client-key.pem"), d.join("server-key.pem")).unwrap();
    let e = bind(tls(TlsMode::On, d, false));
    assert!(e.contains("server-cert.pem and server-key.pem do not go together"), "{e}");
    std::fs::remove_file(d.join("server-key.pem")).unwrap();
    let e = bind(tls(TlsMode::Require, d, false));
    assert!(e.contains(&d.join("server-key.pem").display().to_string()), "{e}");
    assert!(!d.join("x.sock").exists(), "nothing was bound");
}

#[test]
fn the_handshake_deadline_covers_the_tls_handshake() {
    let Some(dir) = pki() else { return };
    let limits = Limits { handshake_timeout: Duration::from_millis(500), ..Limits::default() };
    let server = Running::with_tls(
        vec![export("", "memory(size=1M)")],
        limits,
        tls(TlsMode::Require, dir.path(), false),
    );
    let mut c = RawClient::connect(server.socket()).unwrap();
    assert_eq!(c.option(OPT_STARTTLS, &[]).unwrap(), vec![OptionReply::Ack]);
    // No ClientHello: the server gives up at the deadline.
    let started = Instant::now();
    let mut byte = [0; 1];
    assert_eq!(c.stream.read(&mut byte).unwrap(), 0);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
}

#[test]
fn the_nbd_client_disk_speaks_tls_to_this_server() {
    let Some(dir) = pki() else { return };
    let server = server(TlsMode::Require, dir.path(), true);
    let registry = stack::DriverRegistry::builtin();
    let ctx = stack::BuildContext::new();
    let uri = format!(
        "nbds+unix:///?socket={}&tls-certificates={}",
        server.socket().display(),
        dir.path().display()
    );
    let top = registry.build_str(&format!("nbd(uri=\"{uri}\")"), &ctx).unwrap();
    let io = irp::IoManager::new();
    io.register("d", &top).unwrap();
    let h = io.open("d", irp::Access::READ_WRITE).unwrap();
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 241) as u8).collect();
    h.write(4096, &data).unwrap();
    h.flush_buffers().unwrap();
    assert_eq!(h.read(4096, data.len()).unwrap().bytes(), &data[..]);
    // A shutdown disconnects; the next request reconnects, with TLS again.
    let shutdown = irp::Irp::for_device(&top, irp::MajorFunction::Shutdown);
    assert_eq!(top.call_and_wait(shutdown).status(), irp::Status::SUCCESS);
    assert_eq!(h.read(4096, 4096).unwrap().bytes(), &data[..4096]);
    drop(h);
    io.shutdown().unwrap();

    // Without TLS, the server refuses it, and says why.
    let plain = format!("nbd(uri=\"nbd+unix:///?socket={}\")", server.socket().display());
    let e = registry.build_str(&plain, &ctx).unwrap_err().to_string();
    assert!(e.contains("the server requires TLS"), "{e}");
}
