//! The handshake: every option answered as the spec says, floods and garbage closed,
//! other clients unaffected.

mod common;
mod raw_client;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use common::{Running, export};
use nbd::consts::{
    FLAG_CAN_MULTI_CONN, FLAG_HAS_FLAGS, FLAG_READ_ONLY, FLAG_SEND_FLUSH, FLAG_SEND_FUA, FLAG_SEND_TRIM,
    FLAG_SEND_WRITE_ZEROES, IHAVEOPT, INFO_NAME, OPT_ABORT, OPT_EXPORT_NAME, OPT_GO, OPT_INFO, OPT_LIST,
    OPT_SET_META_CONTEXT, OPT_STARTTLS, OPT_STRUCTURED_REPLY, REP_ERR_INVALID, REP_ERR_UNKNOWN,
    REP_ERR_UNSUP,
};
use nbd::handshake::{ClientOption, InfoReply, OptionReply};
use raw_client::RawClient;

fn two_exports() -> Running {
    Running::start(vec![
        export("", "memory(size=1M)"),
        export("ro", "memory(size=2M)").read_only(true).description("a read-only disk"),
    ])
}

fn error_type(replies: &[OptionReply]) -> u32 {
    match replies.last() {
        Some(OptionReply::Error { reply_type, .. }) => *reply_type,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

fn info(client: &mut RawClient, name: &str, requests: Vec<u16>) -> Vec<OptionReply> {
    let data = ClientOption::Info { name: name.into(), requests }.encode_data().unwrap();
    client.option(OPT_INFO, &data).unwrap()
}

#[test]
fn every_option_gets_the_right_answer() {
    let mut server = two_exports();
    let mut c = RawClient::connect(server.socket()).unwrap();

    let list = c.option(OPT_LIST, &[]).unwrap();
    assert_eq!(
        list,
        vec![
            OptionReply::Server { name: String::new(), description: String::new() },
            OptionReply::Server { name: "ro".into(), description: "a read-only disk".into() },
            OptionReply::Ack,
        ]
    );

    let replies = info(&mut c, "ro", vec![INFO_NAME]);
    let flags = FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_SEND_FLUSH | FLAG_CAN_MULTI_CONN;
    assert!(replies.contains(&OptionReply::Info(InfoReply::Export { size: 2 << 20, flags })), "{replies:?}");
    assert!(replies.contains(&OptionReply::Info(InfoReply::Name("ro".into()))));
    assert_eq!(replies.last(), Some(&OptionReply::Ack));

    assert_eq!(error_type(&info(&mut c, "nope", vec![])), REP_ERR_UNKNOWN);
    assert_eq!(error_type(&c.option(77, b"whatever").unwrap()), REP_ERR_UNSUP);
    assert_eq!(error_type(&c.option(OPT_STARTTLS, &[]).unwrap()), REP_ERR_UNSUP);
    assert_eq!(error_type(&c.option(OPT_STRUCTURED_REPLY, b"x").unwrap()), REP_ERR_INVALID);
    assert_eq!(error_type(&c.option(OPT_LIST, b"x").unwrap()), REP_ERR_INVALID);
    // A name length larger than the data.
    assert_eq!(error_type(&c.option(OPT_GO, &[0, 0, 0, 9, b'a', 0, 0]).unwrap()), REP_ERR_INVALID);
    // Metadata contexts need structured replies first (tests/block_status.rs has the rest).
    let meta = ClientOption::SetMetaContext { name: String::new(), queries: vec!["base:allocation".into()] };
    assert_eq!(
        error_type(&c.option(OPT_SET_META_CONTEXT, &meta.encode_data().unwrap()).unwrap()),
        REP_ERR_INVALID
    );

    // After all that, the connection still works.
    let mut c = c.go("", true).unwrap();
    let flags = FLAG_HAS_FLAGS
        | FLAG_SEND_FLUSH
        | FLAG_SEND_FUA
        | FLAG_SEND_TRIM
        | FLAG_SEND_WRITE_ZEROES
        | FLAG_CAN_MULTI_CONN;
    assert_eq!((c.size, c.flags), (1 << 20, flags));
    assert_eq!(c.write(0, b"hello", false).unwrap(), 0);
    assert_eq!(c.read(0, 5).unwrap(), Ok(b"hello".to_vec()));
    server.stop().unwrap();
}

#[test]
fn abort_is_acknowledged_and_closes() {
    let server = two_exports();
    let mut c = RawClient::connect(server.socket()).unwrap();
    assert_eq!(c.option(OPT_ABORT, &[]).unwrap(), vec![OptionReply::Ack]);
    assert!(c.is_closed());
}

#[test]
fn export_name_enters_transmission_or_closes() {
    let server = two_exports();
    let mut c = RawClient::connect(server.socket()).unwrap();
    c.send_option(OPT_EXPORT_NAME, b"ro").unwrap();
    let mut reply = [0u8; 10]; // size and flags; no zeroes (NO_ZEROES negotiated)
    c.stream.read_exact(&mut reply).unwrap();
    assert_eq!(u64::from_be_bytes(reply[..8].try_into().unwrap()), 2 << 20);
    assert_ne!(u16::from_be_bytes([reply[8], reply[9]]) & FLAG_READ_ONLY, 0);
    assert_eq!(c.read(4096, 10).unwrap(), Ok(vec![0; 10]));

    let mut c = RawClient::connect(server.socket()).unwrap();
    c.send_option(OPT_EXPORT_NAME, b"missing").unwrap();
    assert!(c.is_closed(), "an unknown NBD_OPT_EXPORT_NAME cannot be answered: the server closes");
}

#[test]
fn option_flood_is_cut_off_and_others_are_served() {
    let mut server = two_exports();
    let mut flooder = RawClient::connect(server.socket()).unwrap();
    let mut answered = 0;
    for _ in 0..300 {
        if flooder.send_option(99, &[]).is_err() {
            break;
        }
        match flooder.option_reply() {
            Ok(OptionReply::Error { .. }) => answered += 1,
            _ => break,
        }
    }
    assert_eq!(answered, 256, "the limit is 256 options per handshake");
    assert!(flooder.is_closed());

    let mut good = RawClient::open(server.socket(), "", false).unwrap();
    assert_eq!(good.write(0, &[7; 512], true).unwrap(), 0);
    server.stop().unwrap();
}

#[test]
fn oversized_option_and_bad_magic_close_the_connection() {
    let mut server = two_exports();
    // Option data over 64 KiB: closed before the server reads it.
    let mut c = RawClient::connect(server.socket()).unwrap();
    let mut header = IHAVEOPT.to_be_bytes().to_vec();
    header.extend_from_slice(&OPT_LIST.to_be_bytes());
    header.extend_from_slice(&(1u32 << 30).to_be_bytes());
    c.stream.write_all(&header).unwrap();
    assert!(c.is_closed());

    // Not IHAVEOPT.
    let mut c = RawClient::connect(server.socket()).unwrap();
    c.stream.write_all(&[0x55; 16]).unwrap();
    assert!(c.is_closed());

    // Client flags the server did not advertise.
    let mut s = UnixStream::connect(server.socket()).unwrap();
    let mut greeting = [0; 18];
    s.read_exact(&mut greeting).unwrap();
    s.write_all(&0x8000_0001u32.to_be_bytes()).unwrap();
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);

    // A client that leaves in the middle of an option.
    let mut c = RawClient::connect(server.socket()).unwrap();
    c.stream.write_all(&IHAVEOPT.to_be_bytes()[..5]).unwrap();
    drop(c);

    let mut good = RawClient::open(server.socket(), "ro", true).unwrap();
    assert_eq!(good.read(0, 4096).unwrap(), Ok(vec![0; 4096]));
    server.stop().unwrap();
}
