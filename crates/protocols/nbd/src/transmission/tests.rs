use proptest::prelude::*;

use super::*;
use crate::consts::*;
use crate::testutil::hex;
use crate::{PayloadAction, ProtocolError, RequestError, RequestErrorKind};

const ALL: u16 = FLAG_HAS_FLAGS
    | FLAG_SEND_FLUSH
    | FLAG_SEND_FUA
    | FLAG_SEND_TRIM
    | FLAG_SEND_WRITE_ZEROES
    | FLAG_SEND_DF
    | FLAG_SEND_FAST_ZERO
    | FLAG_SEND_CACHE;

fn req(command: u16, flags: u16, offset: u64, length: u32) -> RequestHeader {
    RequestHeader { flags, command, cookie: 0xc00c1e, offset, length }
}

fn classify(
    command: u16,
    flags: u16,
    offset: u64,
    length: u32,
    limits: &ExportLimits,
) -> Result<Command, RequestError> {
    Command::classify(&req(command, flags, offset, length), limits)
}

/// The error kind and errno of a refused request.
fn refused(r: Result<Command, RequestError>) -> (RequestErrorKind, u32) {
    let e = r.expect_err("request should be refused");
    (e.kind.clone(), e.errno())
}

#[test]
fn read_request_layout() {
    let h = RequestHeader {
        flags: 0,
        command: CMD_READ,
        cookie: 0x0102_0304_0506_0708,
        offset: 0x1000,
        length: 512,
    };
    let bytes = encode_request(&h);
    assert_eq!(bytes.to_vec(), hex("25609513 0000 0000 0102030405060708 0000000000001000 00000200"));
    assert_eq!(decode_request_header(&bytes), Ok(h));
    let w = RequestHeader { flags: CMD_FLAG_FUA, command: CMD_WRITE, ..h };
    assert_eq!(encode_request(&w)[4..8], [0, 1, 0, 1]);
    assert_eq!(w.payload_len(), 512);
    assert_eq!(h.payload_len(), 0);
}

#[test]
fn request_bad_magic() {
    let mut bytes = encode_request(&req(CMD_READ, 0, 0, 0));
    bytes[0] = 0x12; // the historic 0x12560953
    assert_eq!(
        decode_request_header(&bytes),
        Err(ProtocolError::BadMagic { expected: REQUEST_MAGIC.into(), found: 0x1260_9513 })
    );
}

#[test]
fn classify_accepts_valid_commands() {
    let l = ExportLimits::new(1 << 20, ALL);
    assert_eq!(classify(CMD_READ, 0, 0, 4096, &l), Ok(Command::Read { offset: 0, length: 4096, df: false }));
    assert_eq!(
        classify(CMD_READ, CMD_FLAG_DF, 0, 1, &l),
        Ok(Command::Read { offset: 0, length: 1, df: true })
    );
    // FUA is accepted on every command when advertised, and kept only where it matters.
    assert_eq!(
        classify(CMD_READ, CMD_FLAG_FUA, 8, 8, &l),
        Ok(Command::Read { offset: 8, length: 8, df: false })
    );
    assert_eq!(
        classify(CMD_WRITE, CMD_FLAG_FUA, (1 << 20) - 512, 512, &l),
        Ok(Command::Write { offset: (1 << 20) - 512, length: 512, fua: true })
    );
    assert_eq!(classify(CMD_FLUSH, 0, 0, 0, &l), Ok(Command::Flush));
    assert_eq!(classify(CMD_FLUSH, CMD_FLAG_FUA, 0, 0, &l), Ok(Command::Flush));
    assert_eq!(
        classify(CMD_TRIM, CMD_FLAG_FUA, 0, 1 << 20, &l),
        Ok(Command::Trim { offset: 0, length: 1 << 20, fua: true })
    );
    assert_eq!(
        classify(CMD_WRITE_ZEROES, CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO, 0, 100, &l),
        Ok(Command::WriteZeroes { offset: 0, length: 100, fua: false, no_hole: true, fast_zero: true })
    );
    assert_eq!(classify(CMD_CACHE, 0, 0, 10, &l), Ok(Command::Cache { offset: 0, length: 10 }));
    assert_eq!(
        classify(CMD_BLOCK_STATUS, CMD_FLAG_REQ_ONE, 0, 10, &l),
        Ok(Command::BlockStatus { offset: 0, length: 10, req_one: true })
    );
    // Zero-length requests are unspecified; servers should not disconnect. Accept them.
    assert_eq!(
        classify(CMD_READ, 0, 1 << 20, 0, &l),
        Ok(Command::Read { offset: 1 << 20, length: 0, df: false })
    );
    // Writes have payload, nothing else does.
    assert_eq!(classify(CMD_WRITE, 0, 0, 7, &l).unwrap().payload_len(), 7);
    assert_eq!(classify(CMD_READ, 0, 0, 7, &l).unwrap().payload_len(), 0);
}

#[test]
fn disc_is_always_accepted() {
    let l = ExportLimits::new(0, FLAG_READ_ONLY);
    assert_eq!(classify(CMD_DISC, 0xffff, u64::MAX, u32::MAX, &l), Ok(Command::Disc));
}

#[test]
fn cache_without_send_cache() {
    let l = ExportLimits::new(100, FLAG_HAS_FLAGS);
    assert_eq!(classify(CMD_CACHE, 0, 0, 100, &l), Ok(Command::Cache { offset: 0, length: 100 }));
}

#[test]
fn classify_errors_and_errnos() {
    let l = ExportLimits::new(1 << 20, ALL);
    let bare = ExportLimits::new(1 << 20, FLAG_HAS_FLAGS);
    let ro = ExportLimits::new(1 << 20, ALL | FLAG_READ_ONLY);
    let ro_served = ExportLimits::new(1 << 20, FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_READ_ONLY);
    use RequestErrorKind::*;
    let cases: Vec<(Result<Command, RequestError>, RequestErrorKind, u32)> = vec![
        (classify(9, 0, 0, 0, &l), UnknownCommand(9), EINVAL),
        (classify(CMD_RESIZE, 0, 0, 0, &l), UnknownCommand(CMD_RESIZE), EINVAL),
        (classify(CMD_FLUSH, 0, 0, 0, &bare), NotAdvertised(CMD_FLUSH), EINVAL),
        (classify(CMD_TRIM, 0, 0, 1, &bare), NotAdvertised(CMD_TRIM), EINVAL),
        (classify(CMD_WRITE_ZEROES, 0, 0, 1, &bare), NotAdvertised(CMD_WRITE_ZEROES), EINVAL),
        (
            classify(CMD_WRITE, CMD_FLAG_FUA, 0, 1, &bare),
            BadFlags { command: CMD_WRITE, flags: CMD_FLAG_FUA },
            EINVAL,
        ),
        (
            classify(CMD_READ, CMD_FLAG_DF, 0, 1, &bare),
            BadFlags { command: CMD_READ, flags: CMD_FLAG_DF },
            EINVAL,
        ),
        (
            classify(CMD_READ, CMD_FLAG_NO_HOLE, 0, 1, &l),
            BadFlags { command: CMD_READ, flags: CMD_FLAG_NO_HOLE },
            EINVAL,
        ),
        (classify(CMD_WRITE, 1 << 5, 0, 1, &l), BadFlags { command: CMD_WRITE, flags: 1 << 5 }, EINVAL),
        (
            classify(CMD_BLOCK_STATUS, CMD_FLAG_DF, 0, 1, &l),
            BadFlags { command: CMD_BLOCK_STATUS, flags: CMD_FLAG_DF },
            EINVAL,
        ),
        (
            classify(
                CMD_WRITE_ZEROES,
                CMD_FLAG_FAST_ZERO,
                0,
                1,
                &ExportLimits::new(1, FLAG_SEND_WRITE_ZEROES),
            ),
            BadFlags { command: CMD_WRITE_ZEROES, flags: CMD_FLAG_FAST_ZERO },
            EINVAL,
        ),
        (classify(CMD_WRITE, 0, 0, 1, &ro), ReadOnly(CMD_WRITE), EPERM),
        (classify(CMD_TRIM, 0, 0, 1, &ro), ReadOnly(CMD_TRIM), EPERM),
        (classify(CMD_WRITE_ZEROES, 0, 0, 1, &ro), ReadOnly(CMD_WRITE_ZEROES), EPERM),
        // What a read-only export advertises: no trim, no write-zeroes; still EPERM.
        (classify(CMD_TRIM, 0, 0, 1, &ro_served), ReadOnly(CMD_TRIM), EPERM),
        (classify(CMD_WRITE_ZEROES, 0, 0, 1, &ro_served), ReadOnly(CMD_WRITE_ZEROES), EPERM),
        (classify(CMD_TRIM, CMD_FLAG_FUA, 0, 1, &ro_served), ReadOnly(CMD_TRIM), EPERM),
        (classify(CMD_FLUSH, 0, 1, 0, &l), FlushRange { offset: 1, length: 0 }, EINVAL),
        (classify(CMD_FLUSH, 0, 0, 1, &l), FlushRange { offset: 0, length: 1 }, EINVAL),
        (
            classify(CMD_READ, 0, 0, (1 << 25) + 1, &l),
            TooLarge { command: CMD_READ, length: (1 << 25) + 1, max: 1 << 25 },
            EINVAL,
        ),
        (
            classify(CMD_WRITE, 0, 0, (1 << 25) + 1, &l),
            TooLarge { command: CMD_WRITE, length: (1 << 25) + 1, max: 1 << 25 },
            EINVAL,
        ),
        (
            classify(CMD_WRITE, 0, 1 << 20, 1, &l),
            OutOfRange { command: CMD_WRITE, offset: 1 << 20, length: 1, size: 1 << 20 },
            ENOSPC,
        ),
        (
            classify(CMD_WRITE_ZEROES, 0, 1, 1 << 20, &l),
            OutOfRange { command: CMD_WRITE_ZEROES, offset: 1, length: 1 << 20, size: 1 << 20 },
            ENOSPC,
        ),
        (
            classify(CMD_READ, 0, (1 << 20) - 1, 2, &l),
            OutOfRange { command: CMD_READ, offset: (1 << 20) - 1, length: 2, size: 1 << 20 },
            EINVAL,
        ),
        (
            classify(CMD_TRIM, 0, u64::MAX, 1, &l),
            OutOfRange { command: CMD_TRIM, offset: u64::MAX, length: 1, size: 1 << 20 },
            EINVAL,
        ),
        (
            classify(CMD_BLOCK_STATUS, 0, 1 << 21, 0, &l),
            OutOfRange { command: CMD_BLOCK_STATUS, offset: 1 << 21, length: 0, size: 1 << 20 },
            EINVAL,
        ),
        (
            classify(CMD_CACHE, 0, 1 << 20, 1, &l),
            OutOfRange { command: CMD_CACHE, offset: 1 << 20, length: 1, size: 1 << 20 },
            EINVAL,
        ),
    ];
    for (result, kind, errno) in cases {
        assert_eq!(refused(result), (kind, errno));
    }
}

#[test]
fn offset_plus_length_overflow_is_out_of_range() {
    let l = ExportLimits { max_payload: u32::MAX, ..ExportLimits::new(u64::MAX, ALL) };
    let (kind, errno) = refused(classify(CMD_WRITE, 0, u64::MAX - 10, 11, &l));
    assert!(matches!(kind, RequestErrorKind::OutOfRange { .. }));
    assert_eq!(errno, ENOSPC);
    assert!(classify(CMD_WRITE, 0, u64::MAX - 10, 10, &l).is_ok());
}

#[test]
fn alignment() {
    let l = ExportLimits { min_block: 512, ..ExportLimits::new(1 << 20, ALL) };
    assert!(classify(CMD_READ, 0, 512, 1024, &l).is_ok());
    let (kind, errno) = refused(classify(CMD_READ, 0, 511, 512, &l));
    assert_eq!(
        (kind, errno),
        (
            RequestErrorKind::Misaligned { command: CMD_READ, offset: 511, length: 512, min_block: 512 },
            EINVAL
        )
    );
    assert!(classify(CMD_TRIM, 0, 0, 100, &l).is_err());
    // min_block 0 means no constraint rather than a division by zero.
    let l = ExportLimits { min_block: 0, ..l };
    assert!(classify(CMD_READ, 0, 3, 5, &l).is_ok());
}

#[test]
fn payload_action_of_refused_requests() {
    let ro = ExportLimits::new(1 << 30, ALL | FLAG_READ_ONLY);
    let e = classify(CMD_WRITE, 0, 0, 4096, &ro).unwrap_err();
    assert_eq!((e.payload, e.cookie), (PayloadAction::Discard(4096), 0xc00c1e));
    // Reads have no payload, even refused ones.
    assert_eq!(classify(CMD_READ, 0, 1 << 30, 4096, &ro).unwrap_err().payload, PayloadAction::None);
    // An oversized write up to 32 MiB is still skipped, as the spec asks.
    let small = ExportLimits { max_payload: 4096, ..ExportLimits::new(1 << 30, ALL) };
    assert_eq!(
        classify(CMD_WRITE, 0, 0, 1 << 25, &small).unwrap_err().payload,
        PayloadAction::Discard(1 << 25)
    );
    assert_eq!(
        classify(CMD_WRITE, 0, 0, (1 << 25) + 1, &small).unwrap_err().payload,
        PayloadAction::Disconnect
    );
    // A zero-length refused write has nothing to skip.
    assert_eq!(classify(CMD_WRITE, 0, 1 << 31, 0, &ro).unwrap_err().payload, PayloadAction::None);
}

fn command() -> impl Strategy<Value = Command> {
    let range = || {
        (any::<u64>(), any::<u32>()).prop_filter("in u64", |(o, l)| o.checked_add(u64::from(*l)).is_some())
    };
    prop_oneof![
        (range(), any::<bool>()).prop_map(|((offset, length), df)| Command::Read { offset, length, df }),
        (range(), any::<bool>()).prop_map(|((offset, length), fua)| Command::Write { offset, length, fua }),
        Just(Command::Disc),
        Just(Command::Flush),
        (range(), any::<bool>()).prop_map(|((offset, length), fua)| Command::Trim { offset, length, fua }),
        range().prop_map(|(offset, length)| Command::Cache { offset, length }),
        (range(), any::<[bool; 3]>()).prop_map(|((offset, length), [fua, no_hole, fast_zero])| {
            Command::WriteZeroes { offset, length, fua, no_hole, fast_zero }
        }),
        (range(), any::<bool>()).prop_map(|((offset, length), req_one)| Command::BlockStatus {
            offset,
            length,
            req_one
        }),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(command in command(), cookie: u64) {
        let limits = ExportLimits { max_payload: u32::MAX, ..ExportLimits::new(u64::MAX, ALL) };
        let header = command.header(cookie);
        let decoded = decode_request_header(&encode_request(&header)).unwrap();
        prop_assert_eq!(decoded, header);
        prop_assert_eq!(Command::classify(&decoded, &limits), Ok(command));
    }

    #[test]
    fn request_headers_round_trip(flags: u16, command: u16, cookie: u64, offset: u64, length: u32) {
        let h = RequestHeader { flags, command, cookie, offset, length };
        prop_assert_eq!(decode_request_header(&encode_request(&h)), Ok(h));
    }

    #[test]
    fn classify_never_panics(h in any::<(u16, u16, u64, u64, u32)>(), l in any::<(u64, u16, u32, u32)>()) {
        let header = RequestHeader { flags: h.0, command: h.1, cookie: h.2, offset: h.3, length: h.4 };
        let limits = ExportLimits { size: l.0, transmission_flags: l.1, max_payload: l.2, min_block: l.3 };
        if let Err(e) = Command::classify(&header, &limits) {
            prop_assert!(error_name(e.errno()).is_some());
        }
    }

    #[test]
    fn transmission_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), reply_type: u16, flags: u16) {
        if let Some(b) = bytes.first_chunk() { let _ = decode_request_header(b); }
        if let Some(b) = bytes.first_chunk() { let _ = decode_simple_reply(b); }
        if let Some(b) = bytes.first_chunk() { let _ = decode_structured_reply_header(b); }
        let header = StructuredReplyHeader { flags, reply_type, cookie: 0, length: bytes.len() as u32 };
        let _ = parse_reply_chunk(&header, &bytes);
        crate::fuzz::request(&bytes);
        crate::fuzz::reply(&bytes);
    }

    #[test]
    fn request_stream_fuzz_entry(commands in prop::collection::vec(command(), 0..4), payload in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut stream = Vec::new();
        for c in &commands {
            let mut h = c.header(1);
            h.length %= 64;
            stream.extend_from_slice(&encode_request(&h));
            stream.extend_from_slice(&payload[..h.payload_len() as usize % (payload.len() + 1)]);
        }
        crate::fuzz::request(&stream);
    }
}
