//! Simple replies and structured reply chunks.

use proptest::prelude::*;

use super::*;
use crate::ProtocolError;
use crate::consts::*;
use crate::testutil::hex;

#[test]
fn simple_reply_layout() {
    let r = encode_simple_reply(0x0102_0304_0506_0708, EIO);
    assert_eq!(r.to_vec(), hex("67446698 00000005 0102030405060708"));
    assert_eq!(decode_simple_reply(&r), Ok(SimpleReply { error: EIO, cookie: 0x0102_0304_0506_0708 }));
    let mut bad = r;
    bad[0] = 0x96; // the historic reply magic
    assert!(matches!(decode_simple_reply(&bad), Err(ProtocolError::BadMagic { .. })));
}

fn parse(bytes: &[u8]) -> Result<(StructuredReplyHeader, ReplyChunk<'_>), ProtocolError> {
    let (h, payload) = bytes.split_first_chunk().unwrap();
    let h = decode_structured_reply_header(h)?;
    Ok((h, parse_reply_chunk(&h, payload)?))
}

#[test]
fn structured_reply_layouts() {
    assert_eq!(encode_none_chunk(7).to_vec(), hex("668e33ef 0001 0000 0000000000000007 00000000"));
    assert_eq!(
        encode_offset_data_header(7, 0, 0x200, 3).unwrap().to_vec(),
        hex("668e33ef 0000 0001 0000000000000007 0000000b 0000000000000200")
    );
    assert!(encode_offset_data_header(7, 0, 0, 0).is_err());
    assert!(encode_offset_data_header(7, 0, 0, u32::MAX - 7).is_err());
    assert!(encode_offset_data_header(7, 0, 0, u32::MAX - 8).is_ok());
    let e = encode_error_chunk(9, EINVAL, "bad");
    assert_eq!(e, hex("668e33ef 0001 8001 0000000000000009 00000009 00000016 0003 626164"));
    let (h, chunk) = parse(&e).unwrap();
    assert!(h.is_done());
    assert_eq!(
        chunk,
        ReplyChunk::Error { reply_type: REPLY_TYPE_ERROR, error: EINVAL, message: "bad".into() }
    );
    let e = encode_error_offset_chunk(9, EIO, "", 4096);
    assert_eq!(
        parse(&e).unwrap().1,
        ReplyChunk::ErrorOffset { error: EIO, message: String::new(), offset: 4096 }
    );
    // Messages are cut to 4096 bytes and lose their NULs.
    let e = encode_error_chunk(9, EIO, &format!("a\0{}", "x".repeat(5000)));
    assert_eq!(e.len(), 20 + 6 + 4096);
    assert!(matches!(parse(&e).unwrap().1, ReplyChunk::Error { message, .. } if message.starts_with("ax")));
}

#[test]
fn structured_chunks_round_trip() {
    let chunks = [
        ReplyChunk::None,
        ReplyChunk::OffsetData { offset: 512, data: b"hello" },
        ReplyChunk::OffsetHole { offset: 0, size: 4096 },
        ReplyChunk::BlockStatus {
            context_id: 1,
            extents: vec![Extent { length: 512, flags: 3 }, Extent { length: 1, flags: 0 }],
        },
        ReplyChunk::Error { reply_type: REPLY_TYPE_ERROR, error: ENOSPC, message: "full".into() },
        ReplyChunk::ErrorOffset { error: EIO, message: "m".into(), offset: 7 },
    ];
    for chunk in chunks {
        let bytes = chunk.encode(42, 0).unwrap();
        let (h, parsed) = parse(&bytes).unwrap();
        assert_eq!(h.cookie, 42);
        assert_eq!(h.reply_type, chunk.reply_type());
        assert_eq!(parsed, chunk);
    }
}

#[test]
fn structured_chunk_errors() {
    let h = |reply_type, flags, length| StructuredReplyHeader { flags, reply_type, cookie: 1, length };
    let bad = |r: Result<ReplyChunk<'_>, ProtocolError>| {
        assert!(matches!(r, Err(ProtocolError::InvalidReply(_))), "{r:?}")
    };
    bad(parse_reply_chunk(&h(REPLY_TYPE_NONE, 0, 0), b""));
    bad(parse_reply_chunk(&h(REPLY_TYPE_NONE, 1, 1), b"x"));
    bad(parse_reply_chunk(&h(REPLY_TYPE_OFFSET_DATA, 0, 8), &[0; 8]));
    bad(parse_reply_chunk(&h(REPLY_TYPE_OFFSET_HOLE, 0, 12), &[0; 12]));
    bad(parse_reply_chunk(&h(REPLY_TYPE_OFFSET_HOLE, 0, 13), &[1; 13]));
    bad(parse_reply_chunk(&h(REPLY_TYPE_BLOCK_STATUS, 0, 4), &[0; 4]));
    bad(parse_reply_chunk(&h(REPLY_TYPE_BLOCK_STATUS, 0, 13), &[1; 13]));
    bad(parse_reply_chunk(&h(REPLY_TYPE_BLOCK_STATUS, 0, 12), &hex("00000001 00000000 00000000")));
    bad(parse_reply_chunk(&h(REPLY_TYPE_ERROR, 1, 5), &[0, 0, 0, 5, 0]));
    bad(parse_reply_chunk(&h(REPLY_TYPE_ERROR, 1, 6), &hex("00000000 0000")));
    bad(parse_reply_chunk(&h(REPLY_TYPE_ERROR, 1, 6), &hex("00000005 0001")));
    bad(parse_reply_chunk(&h(REPLY_TYPE_ERROR, 1, 7), &hex("00000005 0000 00")));
    bad(parse_reply_chunk(&h(REPLY_TYPE_ERROR_OFFSET, 1, 6), &hex("00000005 0000")));
    bad(parse_reply_chunk(&h(3, 0, 0), b""));
    bad(parse_reply_chunk(&h(REPLY_TYPE_OFFSET_DATA, 0, 100), &[0; 9]));
    // Unknown error chunks are errors of the request, not of the stream.
    assert_eq!(
        parse_reply_chunk(&h(0x8003, 1, 8), &hex("00000005 0000 abcd")),
        Ok(ReplyChunk::Error { reply_type: 0x8003, error: 5, message: String::new() })
    );
    let mut bytes = encode_none_chunk(1);
    bytes[3] ^= 1;
    assert!(matches!(decode_structured_reply_header(&bytes), Err(ProtocolError::BadMagic { .. })));
}

#[test]
fn block_status_chunk_layout_and_limits() {
    let extents = [Extent { length: 4096, flags: STATE_HOLE | STATE_ZERO }, Extent { length: 512, flags: 0 }];
    let bytes = encode_block_status_chunk(5, REPLY_FLAG_DONE, 1, &extents).unwrap();
    assert_eq!(
        bytes,
        hex("668e33ef 0001 0005 0000000000000005 00000014 00000001 00001000 00000003 00000200 00000000")
    );
    let (h, chunk) = parse(&bytes).unwrap();
    assert!(h.is_done());
    assert_eq!(chunk, ReplyChunk::BlockStatus { context_id: 1, extents: extents.to_vec() });
    assert!(encode_block_status_chunk(5, 0, 1, &[]).is_err(), "at least one extent");
    assert!(encode_block_status_chunk(5, 0, 1, &[Extent { length: 0, flags: 0 }]).is_err());
    let too_many = vec![Extent { length: 1, flags: 0 }; MAX_BLOCK_STATUS_EXTENTS + 1];
    assert!(encode_block_status_chunk(5, 0, 1, &too_many).is_err());
}

#[test]
fn block_status_replies_are_checked_against_their_request() {
    let e = |lengths: &[u32]| lengths.iter().map(|&length| Extent { length, flags: 0 }).collect::<Vec<_>>();
    assert!(check_block_status(&e(&[100]), 100, true).is_ok());
    assert!(check_block_status(&e(&[50]), 100, true).is_ok(), "shorter is fine");
    assert!(check_block_status(&e(&[101]), 100, true).is_err(), "REQ_ONE: not past the request");
    assert!(check_block_status(&e(&[50, 50]), 100, true).is_err(), "REQ_ONE: one extent");
    assert!(check_block_status(&e(&[]), 100, false).is_err(), "at least one");
    assert!(check_block_status(&e(&[60, 200]), 100, false).is_ok(), "the last may run past");
    assert!(check_block_status(&e(&[60, 40, 1]), 100, false).is_err(), "only the last may reach the end");
}

fn chunk() -> impl Strategy<Value = ReplyChunk<'static>> {
    let message = "[a-z ]{0,20}";
    prop_oneof![
        Just(ReplyChunk::None),
        (any::<u64>(), prop::sample::select(vec![&b"x"[..], b"data", &[0; 64]]))
            .prop_map(|(offset, data)| ReplyChunk::OffsetData { offset, data }),
        (any::<u64>(), 1u32..).prop_map(|(offset, size)| ReplyChunk::OffsetHole { offset, size }),
        (any::<u32>(), prop::collection::vec((1u32.., any::<u32>()), 1..5)).prop_map(|(context_id, e)| {
            ReplyChunk::BlockStatus {
                context_id,
                extents: e.into_iter().map(|(length, flags)| Extent { length, flags }).collect(),
            }
        }),
        (1u32.., message).prop_map(|(error, message)| ReplyChunk::Error {
            reply_type: REPLY_TYPE_ERROR,
            error,
            message
        }),
        (1u32.., message, any::<u64>()).prop_map(|(error, message, offset)| ReplyChunk::ErrorOffset {
            error,
            message,
            offset
        }),
    ]
}

proptest! {
    #[test]
    fn chunks_round_trip(chunk in chunk(), cookie: u64, done: bool) {
        let bytes = chunk.encode(cookie, u16::from(done)).unwrap();
        let (h, parsed) = parse(&bytes).unwrap();
        prop_assert_eq!(h.cookie, cookie);
        prop_assert_eq!(h.is_done(), done || chunk == ReplyChunk::None);
        prop_assert_eq!(parsed, chunk);
    }

    #[test]
    fn simple_replies_round_trip(cookie: u64, error: u32) {
        prop_assert_eq!(decode_simple_reply(&encode_simple_reply(cookie, error)), Ok(SimpleReply { error, cookie }));
    }

    #[test]
    fn reply_stream_fuzz_entry(chunks in prop::collection::vec(chunk(), 0..4), junk in prop::collection::vec(any::<u8>(), 0..32)) {
        let mut stream = encode_simple_reply(1, 0).to_vec();
        for c in &chunks {
            stream.extend(c.encode(2, 0).unwrap());
        }
        stream.extend(crate::handshake::encode_option_ack(7));
        crate::fuzz::reply(&stream);
        stream.extend_from_slice(&junk);
        crate::fuzz::reply(&stream);
    }
}
