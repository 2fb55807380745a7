use proptest::prelude::*;

use super::*;
use crate::consts::*;
use crate::testutil::hex;

fn option_bytes(option: u32, data: &[u8]) -> Vec<u8> {
    let mut v = IHAVEOPT.to_be_bytes().to_vec();
    v.extend_from_slice(&option.to_be_bytes());
    v.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    v.extend_from_slice(data);
    v
}

#[test]
fn server_greeting_layout() {
    let g = encode_server_greeting(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    assert_eq!(g.to_vec(), hex("4e42444d41474943 49484156454f5054 0003"));
    assert_eq!(&g[..16], b"NBDMAGICIHAVEOPT");
    assert_eq!(decode_server_greeting(&g), Ok(3));
    // Unknown handshake flags are passed through; the client ignores them.
    assert_eq!(decode_server_greeting(&encode_server_greeting(0x8001)), Ok(0x8001));
}

#[test]
fn server_greeting_bad_magic() {
    let mut g = encode_server_greeting(1);
    g[0] = b'X';
    assert!(matches!(decode_server_greeting(&g), Err(ProtocolError::BadMagic { expected: NBDMAGIC, .. })));
    let mut g = encode_server_greeting(1);
    g[15] = b'X';
    assert!(matches!(decode_server_greeting(&g), Err(ProtocolError::BadMagic { expected: IHAVEOPT, .. })));
}

#[test]
fn client_flags() {
    let both = FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES;
    for fixed_newstyle in [false, true] {
        for no_zeroes in [false, true] {
            let f = ClientFlags { fixed_newstyle, no_zeroes };
            assert_eq!(decode_client_flags(&encode_client_flags(f), both), Ok(f));
        }
    }
    assert_eq!(encode_client_flags(ClientFlags { fixed_newstyle: true, no_zeroes: true }), [0, 0, 0, 3]);
    // Unknown bit.
    assert_eq!(
        decode_client_flags(&[0, 0, 0, 5], both),
        Err(ProtocolError::BadClientFlags { flags: 5, advertised: both })
    );
    // NO_ZEROES without the server offering it.
    assert!(decode_client_flags(&[0, 0, 0, 3], FLAG_FIXED_NEWSTYLE).is_err());
    assert_eq!(ProtocolError::BadClientFlags { flags: 5, advertised: 3 }.option_reply_error(), None);
}

#[test]
fn export_name_reply_layout() {
    let r = encode_export_name_reply(0x1_0000_0000, FLAG_HAS_FLAGS | FLAG_SEND_FLUSH, false);
    assert_eq!(r.len(), 134);
    assert_eq!(r[..10].to_vec(), hex("0000000100000000 0005"));
    assert!(r[10..].iter().all(|&b| b == 0));
    let r = encode_export_name_reply(4096, 1, true);
    assert_eq!(r.len(), 10);
    assert_eq!(decode_export_name_reply(r.as_slice().try_into().unwrap()), (4096, 1));
}

#[test]
fn option_header() {
    let bytes = option_bytes(OPT_GO, &[0; 6]);
    assert_eq!(bytes[..16].to_vec(), hex("49484156454f5054 00000007 00000006"));
    assert_eq!(decode_option_header(&bytes), Ok(OptionHeader { option: OPT_GO, length: 6 }));
    assert_eq!(decode_option_header(&bytes[..15]), Err(ProtocolError::TooShort { needed: 16, got: 15 }));
    let mut bad = bytes.clone();
    bad[3] = 0;
    assert!(matches!(decode_option_header(&bad), Err(ProtocolError::BadMagic { expected: IHAVEOPT, .. })));
    let mut big = option_bytes(OPT_LIST, &[]);
    big[12..16].copy_from_slice(&(MAX_OPTION_DATA + 1).to_be_bytes());
    assert_eq!(
        decode_option_header(&big),
        Err(ProtocolError::OptionTooLarge { length: MAX_OPTION_DATA + 1, max: MAX_OPTION_DATA })
    );
    big[12..16].copy_from_slice(&MAX_OPTION_DATA.to_be_bytes());
    assert!(decode_option_header(&big).is_ok());
    assert!(matches!(parse_option(OPT_LIST, &vec![0; 70_000]), Err(ProtocolError::OptionTooLarge { .. })));
    assert!(matches!(encode_option(OPT_LIST, &vec![0; 70_000]), Err(ProtocolError::OptionTooLarge { .. })));
}

#[test]
fn go_layout() {
    let bytes = encode_go("disk", &[INFO_BLOCK_SIZE, INFO_NAME]).unwrap();
    let expected = hex("49484156454f5054 00000007 0000000e  00000004 6469736b 0002 0003 0001");
    assert_eq!(bytes, expected);
    let header = decode_option_header(&bytes).unwrap();
    assert_eq!(
        parse_option(header.option, &bytes[16..]),
        Ok(ClientOption::Go { name: "disk".into(), requests: vec![INFO_BLOCK_SIZE, INFO_NAME] })
    );
}

#[test]
fn parse_simple_options() {
    assert_eq!(parse_option(OPT_EXPORT_NAME, b""), Ok(ClientOption::ExportName(String::new())));
    assert_eq!(parse_option(OPT_EXPORT_NAME, b"vol"), Ok(ClientOption::ExportName("vol".into())));
    assert_eq!(parse_option(OPT_ABORT, b""), Ok(ClientOption::Abort));
    // The spec tells servers to ignore data sent with ABORT rather than reject it.
    assert_eq!(parse_option(OPT_ABORT, b"junk"), Ok(ClientOption::Abort));
    assert_eq!(parse_option(OPT_LIST, b""), Ok(ClientOption::List));
    assert_eq!(parse_option(OPT_STARTTLS, b""), Ok(ClientOption::StartTls));
    assert_eq!(parse_option(OPT_STRUCTURED_REPLY, b""), Ok(ClientOption::StructuredReply));
    assert_eq!(parse_option(4, b"peek"), Ok(ClientOption::Unknown { code: 4 }));
    assert_eq!(parse_option(0xdead_beef, b""), Ok(ClientOption::Unknown { code: 0xdead_beef }));
    assert_eq!(
        parse_option(OPT_INFO, &hex("00000000 0000")),
        Ok(ClientOption::Info { name: String::new(), requests: vec![] })
    );
}

#[test]
fn parse_option_errors_answer_err_invalid() {
    let cases: &[(u32, Vec<u8>)] = &[
        (OPT_LIST, b"x".to_vec()),
        (OPT_STARTTLS, b"x".to_vec()),
        (OPT_STRUCTURED_REPLY, b"x".to_vec()),
        // Shorter than the 6 fixed bytes.
        (OPT_GO, hex("0000 0000")),
        // Name length larger than the data.
        (OPT_GO, hex("00000009 6469736b 0000")),
        // One information request announced, none sent; two sent, one announced.
        (OPT_INFO, hex("00000000 0001")),
        (OPT_INFO, hex("00000000 0001 0000 0001")),
        // Odd trailing byte.
        (OPT_GO, hex("00000000 0000 00")),
        // Names: not UTF-8, NUL, longer than 4096.
        (OPT_EXPORT_NAME, vec![0xff, 0xfe]),
        (OPT_EXPORT_NAME, b"a\0b".to_vec()),
        (OPT_EXPORT_NAME, vec![b'a'; 4097]),
        (OPT_GO, hex("00000002 c328 0000")),
        // Metadata contexts: count larger than the data, trailing bytes, short query.
        (OPT_SET_META_CONTEXT, hex("00000000 ffffffff")),
        (OPT_LIST_META_CONTEXT, hex("00000000 00000000 00")),
        (OPT_SET_META_CONTEXT, hex("00000000 00000001 00000010 6261")),
    ];
    for (option, data) in cases {
        let err = parse_option(*option, data).expect_err(&format!("option {option} {data:x?}"));
        assert_eq!(err.option_reply_error(), Some(REP_ERR_INVALID), "{err}");
    }
    assert!(parse_option(OPT_EXPORT_NAME, &vec![b'a'; 4096]).is_ok());
}

#[test]
fn meta_context_options() {
    let data = hex("00000004 6469736b 00000002 0000000f 626173653a616c6c6f636174696f6e 00000002 783a");
    let parsed = parse_option(OPT_SET_META_CONTEXT, &data).unwrap();
    assert_eq!(
        parsed,
        ClientOption::SetMetaContext {
            name: "disk".into(),
            queries: vec!["base:allocation".into(), "x:".into()]
        }
    );
    assert_eq!(parsed.encode_data().unwrap(), data);
}

#[test]
fn meta_context_reply_layout() {
    assert_eq!(
        encode_rep_meta_context(OPT_SET_META_CONTEXT, 1, BASE_ALLOCATION).unwrap(),
        hex("0003e889045565a9 0000000a 00000004 00000013 00000001 626173653a616c6c6f636174696f6e")
    );
    assert!(encode_rep_meta_context(OPT_LIST_META_CONTEXT, 0, "a\0:b").is_err());
}

#[test]
fn option_encode_rejects_bad_names() {
    assert!(ClientOption::ExportName("a\0".into()).encode().is_err());
    assert!(encode_go(&"x".repeat(4097), &[]).is_err());
    assert!(matches!(encode_go("", &vec![0; 70_000]), Err(ProtocolError::TooLong { .. })));
}

#[test]
fn option_reply_layouts() {
    assert_eq!(encode_option_ack(OPT_GO), hex("0003e889045565a9 00000007 00000001 00000000"));
    assert_eq!(
        encode_info_export(OPT_GO, 1 << 20, FLAG_HAS_FLAGS | FLAG_SEND_FLUSH),
        hex("0003e889045565a9 00000007 00000003 0000000c 0000 0000000000100000 0005")
    );
    assert_eq!(
        encode_info_block_size(OPT_INFO, BlockSize { minimum: 1, preferred: 4096, maximum: 1 << 25 }),
        hex("0003e889045565a9 00000006 00000003 0000000e 0003 00000001 00001000 02000000")
    );
    assert_eq!(
        encode_rep_server("ab", Some("d")).unwrap(),
        hex("0003e889045565a9 00000003 00000002 00000007 00000002 6162 64")
    );
    assert_eq!(
        encode_option_error(OPT_GO, REP_ERR_UNKNOWN, Some("no")),
        hex("0003e889045565a9 00000007 80000006 00000002 6e6f")
    );
    assert_eq!(encode_option_error(OPT_LIST, REP_ERR_POLICY, None).len(), 20);
    assert_eq!(
        encode_info_name(OPT_GO, "n").unwrap(),
        hex("0003e889045565a9 00000007 00000003 00000003 0001 6e")
    );
    assert!(encode_info_name(OPT_GO, "\0").is_err());
    // Long messages are cut at 4096 bytes on a character boundary.
    let long = encode_option_error(OPT_GO, REP_ERR_INVALID, Some(&"é".repeat(3000)));
    assert_eq!(long.len(), 20 + 4096);
}

fn decode_reply(bytes: &[u8]) -> Result<OptionReply, ProtocolError> {
    let header = decode_option_reply_header(bytes)?;
    parse_option_reply(&header, &bytes[OPTION_REPLY_HEADER_LEN..])
}

#[test]
fn option_reply_decoding() {
    assert_eq!(decode_reply(&encode_option_ack(OPT_ABORT)), Ok(OptionReply::Ack));
    assert_eq!(
        decode_reply(&encode_rep_server("ab", None).unwrap()),
        Ok(OptionReply::Server { name: "ab".into(), description: String::new() })
    );
    assert_eq!(
        decode_reply(&encode_info_export(OPT_GO, 7, 1)),
        Ok(OptionReply::Info(InfoReply::Export { size: 7, flags: 1 }))
    );
    assert_eq!(
        decode_reply(&encode_option_error(OPT_GO, REP_ERR_TLS_REQD, Some("tls"))),
        Ok(OptionReply::Error { reply_type: REP_ERR_TLS_REQD, message: "tls".into() })
    );
    assert_eq!(
        parse_info_reply(&hex("0009 abcd")),
        Ok(InfoReply::Unknown { info_type: 9, data: vec![0xab, 0xcd] })
    );
    assert_eq!(parse_info_reply(&hex("0002 6869")), Ok(InfoReply::Description("hi".into())));
}

#[test]
fn option_reply_errors() {
    let header = |reply_type, length| OptionReplyHeader { option: OPT_GO, reply_type, length };
    let invalid =
        |r: Result<_, ProtocolError>| assert!(matches!(r, Err(ProtocolError::InvalidReply(_))), "{r:?}");
    invalid(parse_option_reply(&header(REP_ACK, 1), b"x"));
    invalid(parse_option_reply(&header(REP_ACK, 2), b"x"));
    invalid(parse_option_reply(&header(REP_SERVER, 2), &[0, 0]));
    invalid(parse_option_reply(&header(REP_SERVER, 6), &hex("00000005 6162")));
    invalid(parse_option_reply(&header(REP_INFO, 0), b""));
    invalid(parse_option_reply(&header(REP_INFO, 11), &[0; 11]));
    invalid(parse_option_reply(&header(REP_INFO, 13), &hex("0003 00000001 00001000 020000")));
    invalid(parse_option_reply(&header(REP_META_CONTEXT, 3), &[0; 3]));
    let mut bad = encode_option_ack(OPT_GO);
    bad[7] ^= 1;
    assert!(matches!(decode_option_reply_header(&bad), Err(ProtocolError::BadMagic { .. })));
    bad = encode_option_ack(OPT_GO);
    bad[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(decode_option_reply_header(&bad), Err(ProtocolError::ReplyTooLarge { .. })));
    assert!(matches!(decode_option_reply_header(&bad[..19]), Err(ProtocolError::TooShort { .. })));
    assert_eq!(
        parse_option_reply(&header(5, 1), b"z"),
        Ok(OptionReply::Unknown { reply_type: 5, data: b"z".to_vec() })
    );
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:/é_-]{0,40}"
}

fn client_option() -> impl Strategy<Value = ClientOption> {
    prop_oneof![
        name().prop_map(ClientOption::ExportName),
        Just(ClientOption::Abort),
        Just(ClientOption::List),
        Just(ClientOption::StartTls),
        Just(ClientOption::StructuredReply),
        (name(), prop::collection::vec(any::<u16>(), 0..8))
            .prop_map(|(name, requests)| ClientOption::Info { name, requests }),
        (name(), prop::collection::vec(any::<u16>(), 0..8))
            .prop_map(|(name, requests)| ClientOption::Go { name, requests }),
        (name(), prop::collection::vec(name(), 0..4))
            .prop_map(|(name, queries)| ClientOption::ListMetaContext { name, queries }),
        (name(), prop::collection::vec(name(), 0..4))
            .prop_map(|(name, queries)| ClientOption::SetMetaContext { name, queries }),
        (11u32..).prop_map(|code| ClientOption::Unknown { code }),
    ]
}

fn option_reply() -> impl Strategy<Value = OptionReply> {
    prop_oneof![
        Just(OptionReply::Ack),
        (name(), name()).prop_map(|(name, description)| OptionReply::Server { name, description }),
        (any::<u64>(), any::<u16>())
            .prop_map(|(size, flags)| OptionReply::Info(InfoReply::Export { size, flags })),
        name().prop_map(|n| OptionReply::Info(InfoReply::Name(n))),
        name().prop_map(|n| OptionReply::Info(InfoReply::Description(n))),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(minimum, preferred, maximum)| {
            OptionReply::Info(InfoReply::BlockSize(BlockSize { minimum, preferred, maximum }))
        }),
        (4u16.., prop::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(info_type, data)| OptionReply::Info(InfoReply::Unknown { info_type, data })),
        (any::<u32>(), name()).prop_map(|(id, name)| OptionReply::MetaContext { id, name }),
        (REP_FLAG_ERROR.., name())
            .prop_map(|(reply_type, message)| OptionReply::Error { reply_type, message }),
    ]
}

proptest! {
    #[test]
    fn options_round_trip(option in client_option()) {
        let bytes = option.encode().unwrap();
        let header = decode_option_header(&bytes).unwrap();
        prop_assert_eq!(header.option, option.code());
        prop_assert_eq!(header.length as usize, bytes.len() - 16);
        prop_assert_eq!(parse_option(header.option, &bytes[16..]).unwrap(), option);
    }

    #[test]
    fn option_replies_round_trip(reply in option_reply(), option in any::<u32>()) {
        let bytes = reply.encode(option).unwrap();
        let header = decode_option_reply_header(&bytes).unwrap();
        prop_assert_eq!(header.option, option);
        prop_assert_eq!(parse_option_reply(&header, &bytes[20..]).unwrap(), reply);
    }

    #[test]
    fn handshake_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), code in 0u32..12, flags: u16) {
        let _ = decode_option_header(&bytes);
        let _ = parse_option(code, &bytes);
        let _ = decode_option_reply_header(&bytes);
        let _ = parse_info_reply(&bytes);
        let reply_type = u32::from(bytes.first().copied().unwrap_or(0) & 7) | ((code & 1) << 31);
        let header = OptionReplyHeader { option: code, reply_type, length: bytes.len() as u32 };
        let _ = parse_option_reply(&header, &bytes);
        if let Some(f) = bytes.first_chunk() { let _ = decode_client_flags(f, flags); }
        if let Some(g) = bytes.first_chunk() { let _ = decode_server_greeting(g); }
    }

    #[test]
    fn option_stream_fuzz_entry(options in prop::collection::vec(client_option(), 0..4), junk in prop::collection::vec(any::<u8>(), 0..32)) {
        let mut stream = vec![0, 0, 0, 3];
        stream.extend(options.iter().flat_map(|o| o.encode().unwrap()));
        crate::fuzz::option(&stream);
        stream.extend_from_slice(&junk);
        crate::fuzz::option(&stream);
        crate::fuzz::option(&junk);
    }
}
