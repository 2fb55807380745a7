//! Unit tests: URIs, status mapping, request planning.

use std::path::PathBuf;

use irp::Status;

use super::connect::ExportInfo;
use super::plan::{MAX_EFFECT, Op, Payload, chunks, plan};
use super::{DEFAULT_PORT, NbdUri, Transport, UriErrorKind, status_from_nbd_error};
use nbd::consts::*;
use nbd::handshake::BlockSize;
use nbd::transmission::Command;

fn kind(uri: &str) -> UriErrorKind {
    NbdUri::parse(uri).unwrap_err().kind
}

#[test]
fn tcp_uris_parse() {
    let cases = [
        ("nbd://example.com", "example.com", DEFAULT_PORT, ""),
        ("nbd://example.com/", "example.com", DEFAULT_PORT, ""),
        ("nbd://example.com:10810/disk", "example.com", 10810, "disk"),
        ("nbd://example.com:/disk", "example.com", DEFAULT_PORT, "disk"),
        ("nbd://example.com//disk", "example.com", DEFAULT_PORT, "/disk"),
        ("nbd://example.com/hello%20world", "example.com", DEFAULT_PORT, "hello world"),
        ("NBD://127.0.0.1:1/a+b", "127.0.0.1", 1, "a+b"),
        ("nbd://[::1]:2000/x", "::1", 2000, "x"),
        ("nbd://[fe80::1%25eth0]/", "fe80::1%eth0", DEFAULT_PORT, ""),
    ];
    for (text, host, port, export) in cases {
        let uri = NbdUri::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(uri, NbdUri::tcp(host, port, export), "{text}");
        assert_eq!(NbdUri::parse(&uri.to_string()).unwrap(), uri, "{text} -> {uri}");
    }
}

#[test]
fn unix_uris_parse() {
    let uri = NbdUri::parse("nbd+unix:///disk?socket=/run/nbd.sock").unwrap();
    assert_eq!(uri, NbdUri::unix("/run/nbd.sock", "disk"));
    let uri = NbdUri::parse("nbd+unix:///?socket=rel%20dir/s").unwrap();
    assert_eq!(uri.transport, Transport::Unix { socket: PathBuf::from("rel dir/s") });
    assert_eq!(uri.export, "");
    let abstract_ = NbdUri::parse("nbd+unix:///?socket=%00/abstract").unwrap();
    assert_eq!(abstract_.transport, Transport::Unix { socket: PathBuf::from("\0/abstract") });
    for uri in [uri, abstract_, NbdUri::unix("/a b/c&d=e", "ex?port#x")] {
        assert_eq!(NbdUri::parse(&uri.to_string()).unwrap(), uri, "{uri}");
    }
}

#[test]
fn tls_uris_parse() {
    let uri = NbdUri::parse("nbds://example.com:10810/disk?tls-certificates=/etc/pki/a%20b").unwrap();
    assert_eq!(uri, NbdUri::tcp("example.com", 10810, "disk").with_tls(Some("/etc/pki/a b".into())));
    assert_eq!(uri.tls_server_name(), "example.com");
    let unix = NbdUri::parse("nbds+unix:///x?socket=/s&tls-certificates=/pki").unwrap();
    assert_eq!(unix, NbdUri::unix("/s", "x").with_tls(Some("/pki".into())));
    assert_eq!(unix.tls_server_name(), "localhost");
    let bare = NbdUri::parse("NBDS+UNIX:///?socket=/s").unwrap();
    assert_eq!(bare, NbdUri::unix("/s", "").with_tls(None));
    for uri in [uri, unix, bare] {
        assert_eq!(NbdUri::parse(&uri.to_string()).unwrap(), uri, "{uri}");
    }
    assert_eq!(
        kind("nbds://h/?tls-certificates=a&tls-certificates=b"),
        UriErrorKind::BadParameter("tls-certificates".into())
    );
}

#[test]
fn bad_uris_say_why() {
    assert_eq!(kind("nbds://host/x?tls-psk-file=k"), UriErrorKind::TlsUnsupported("tls-psk-file".into()));
    assert_eq!(kind("nbd://host/x?tls-certificates=/d"), UriErrorKind::TlsParameterWithoutTls);
    assert_eq!(kind("nbds+vsock://1/x"), UriErrorKind::UnsupportedTransport("vsock".into()));
    assert_eq!(kind("nbd+vsock://1:2"), UriErrorKind::UnsupportedTransport("vsock".into()));
    assert_eq!(kind("http://host/"), UriErrorKind::UnknownScheme("http".into()));
    assert_eq!(kind("/dev/nbd0"), UriErrorKind::NotAUri);
    assert_eq!(kind("nbd:///x"), UriErrorKind::MissingHost);
    assert_eq!(kind("nbd://:10809/x"), UriErrorKind::MissingHost);
    assert_eq!(kind("nbd://h:0/"), UriErrorKind::BadPort("0".into()));
    assert_eq!(kind("nbd://h:99999/"), UriErrorKind::BadPort("99999".into()));
    assert_eq!(kind("nbd://h:x/"), UriErrorKind::BadPort("x".into()));
    assert_eq!(kind("nbd://[::1]x/"), UriErrorKind::BadPort("x".into()));
    assert_eq!(kind("nbd://user@h/"), UriErrorKind::UserInfo);
    assert_eq!(kind("nbd+unix://h/x?socket=s"), UriErrorKind::HostOnUnix);
    assert_eq!(kind("nbd+unix:///x"), UriErrorKind::MissingSocket);
    assert_eq!(kind("nbd+unix:///x?socket="), UriErrorKind::MissingSocket);
    assert_eq!(kind("nbd://h/x?socket=s"), UriErrorKind::SocketOnTcp);
    assert_eq!(kind("nbd://h/x?bogus=1"), UriErrorKind::BadParameter("bogus".into()));
    assert_eq!(kind("nbd+unix:///?socket=a&socket=b"), UriErrorKind::BadParameter("socket".into()));
    assert_eq!(kind("nbd://h/x#frag"), UriErrorKind::Fragment);
    assert_eq!(kind("nbd://h/%zz"), UriErrorKind::BadEncoding("%zz".into()));
    assert_eq!(kind("nbd://h/%ff"), UriErrorKind::BadEncoding("%ff".into()));
    assert_eq!(kind("nbd://h/a%00b"), UriErrorKind::BadExportName("a\0b".into()));
    let long = format!("nbd://h/{}", "x".repeat(4097));
    assert!(matches!(kind(&long), UriErrorKind::BadExportName(_)));
    let err = NbdUri::parse("nbd://h:x/").unwrap_err().to_string();
    assert!(err.contains("nbd://h:x/") && err.contains("bad port"), "{err}");
}

#[test]
fn nbd_errors_map_to_statuses() {
    let cases = [
        (0, CMD_READ, Status::SUCCESS),
        (EPERM, CMD_WRITE, Status::MEDIA_WRITE_PROTECTED),
        (EPERM, CMD_TRIM, Status::MEDIA_WRITE_PROTECTED),
        (EPERM, CMD_WRITE_ZEROES, Status::MEDIA_WRITE_PROTECTED),
        (EPERM, CMD_READ, Status::ACCESS_DENIED),
        (EIO, CMD_READ, Status::IO_DEVICE_ERROR),
        (EIO, CMD_FLUSH, Status::IO_DEVICE_ERROR),
        (ENOMEM, CMD_WRITE, Status::INSUFFICIENT_RESOURCES),
        (EINVAL, CMD_READ, Status::INVALID_PARAMETER),
        (EOVERFLOW, CMD_READ, Status::INVALID_PARAMETER),
        (ENOSPC, CMD_WRITE, Status::DISK_FULL),
        (ENOTSUP, CMD_WRITE_ZEROES, Status::NOT_SUPPORTED),
        (ESHUTDOWN, CMD_WRITE, Status::DEVICE_BUSY),
        (12345, CMD_READ, Status::IO_DEVICE_ERROR),
    ];
    for (error, command, status) in cases {
        assert_eq!(status_from_nbd_error(error, command), status, "error {error} on command {command}");
    }
}

fn info(flags: u16, block_size: Option<(u32, u32)>) -> ExportInfo {
    ExportInfo {
        size: 1 << 40,
        transmission_flags: FLAG_HAS_FLAGS | flags,
        block_size: block_size.map(|(minimum, maximum)| BlockSize { minimum, preferred: 4096, maximum }),
        opened_with_go: true,
    }
}

#[test]
fn export_info_derives_sizes() {
    let plain = info(0, None);
    assert_eq!((plain.min_block(), plain.sector_size(), plain.max_request()), (1, 512, 32 << 20));
    let big = info(0, Some((4096, u32::MAX)));
    assert_eq!((big.min_block(), big.sector_size(), big.max_request()), (4096, 4096, 32 << 20));
    let odd = info(0, Some((512, 1_000_000)));
    assert_eq!(odd.max_request(), 1_000_000 / 512 * 512);
}

#[test]
fn chunks_cover_the_range_exactly() {
    assert_eq!(chunks(10, 0, 4).collect::<Vec<_>>(), []);
    assert_eq!(chunks(10, 9, 4).collect::<Vec<_>>(), [(10, 4), (14, 4), (18, 1)]);
    assert_eq!(chunks(0, 8, 4).collect::<Vec<_>>(), [(0, 4), (4, 4)]);
}

#[test]
fn large_reads_and_writes_split_at_the_maximum_payload() {
    let i = info(FLAG_SEND_FUA | FLAG_SEND_FLUSH, Some((512, 1 << 20)));
    let p = plan(Op::Write { offset: 4096, length: (5 << 19) as u32, fua: true }, &i).unwrap();
    assert_eq!(p.parts.len(), 3);
    assert!(!p.then_flush);
    assert_eq!(p.information, 5 << 19);
    assert_eq!(p.parts[2].command, Command::Write { offset: 4096 + (2 << 20), length: 1 << 19, fua: true });
    assert_eq!(p.parts[2].payload, Payload::Mdl { offset: 2 << 20, len: 1 << 19 });
    let p = plan(Op::Read { offset: 0, length: 3 << 20 }, &i).unwrap();
    assert_eq!(p.parts.len(), 3);
    assert_eq!(p.parts[1].command, Command::Read { offset: 1 << 20, length: 1 << 20, df: false });
}

#[test]
fn fua_is_native_emulated_or_refused() {
    let write = Op::Write { offset: 0, length: 512, fua: true };
    let emulated = plan(write, &info(FLAG_SEND_FLUSH, None)).unwrap();
    assert!(emulated.then_flush);
    assert_eq!(emulated.parts[0].command, Command::Write { offset: 0, length: 512, fua: false });
    assert_eq!(plan(write, &info(0, None)), Err(Status::NOT_SUPPORTED));
    let plain = Op::Write { offset: 0, length: 512, fua: false };
    assert!(!plan(plain, &info(0, None)).unwrap().then_flush);
}

#[test]
fn flush_needs_send_flush() {
    assert_eq!(plan(Op::Flush, &info(0, None)), Err(Status::NOT_SUPPORTED));
    let p = plan(Op::Flush, &info(FLAG_SEND_FLUSH, None)).unwrap();
    assert_eq!(p.parts.len(), 1);
    assert_eq!(p.parts[0].command, Command::Flush);
    let p = plan(Op::FlushAfter { generation: 1, information: 77 }, &info(FLAG_SEND_FLUSH, None)).unwrap();
    assert_eq!(p.information, 77);
}

#[test]
fn trim_and_zeroes_fall_back() {
    let trim = Op::Trim { offset: 0, length: 3 * MAX_EFFECT };
    assert!(plan(trim, &info(0, None)).unwrap().parts.is_empty(), "a discard without SEND_TRIM does nothing");
    assert_eq!(plan(trim, &info(FLAG_SEND_TRIM, None)).unwrap().parts.len(), 3);

    let zeroes = Op::Zeroes { offset: 512, length: 40 << 20, no_hole: true, fua: false };
    let native = plan(zeroes, &info(FLAG_SEND_WRITE_ZEROES, None)).unwrap();
    assert_eq!(
        native.parts[0].command,
        Command::WriteZeroes { offset: 512, length: 40 << 20, fua: false, no_hole: true, fast_zero: false }
    );
    let written = plan(zeroes, &info(0, None)).unwrap();
    assert_eq!(written.parts.len(), 2, "40 MiB of zeroes in writes of at most 32 MiB");
    assert_eq!(written.parts[1].payload, Payload::Zeroes { len: 8 << 20 });
    assert_eq!(
        written.parts[1].command,
        Command::Write { offset: 512 + (32 << 20), length: 8 << 20, fua: false }
    );
}
