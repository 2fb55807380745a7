//! `base:allocation` with a raw client: metadata contexts listed and selected as the spec
//! says, and `NBD_CMD_BLOCK_STATUS` answered from the stack's allocation query — holes
//! where nothing was written, data where it was, one extent with `REQ_ONE`, bounded
//! replies that the client continues, and a stack that cannot tell answered "all data".

mod common;
mod raw_client;

use common::{Running, export};
use nbd::consts::{BASE_ALLOCATION, EINVAL, REP_ERR_INVALID, REP_ERR_UNKNOWN, STATE_HOLE, STATE_ZERO};
use nbd::handshake::OptionReply;
use nbd::transmission::Extent;
use raw_client::RawClient;

const HOLE: u32 = STATE_HOLE | STATE_ZERO;
const CHUNK: u64 = 64 << 10; // the memory disk's allocation unit

fn e(length: u64, flags: u32) -> Extent {
    Extent { length: length as u32, flags }
}

fn error_type(replies: &[OptionReply]) -> u32 {
    match replies.last() {
        Some(OptionReply::Error { reply_type, .. }) => *reply_type,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

fn base(id: u32) -> OptionReply {
    OptionReply::MetaContext { id, name: BASE_ALLOCATION.into() }
}

fn server() -> Running {
    Running::start(vec![
        export("", "memory(size=16M)"),
        export("other", "memory(size=1M)"),
        export("opaque", "crash(size=1M)"),
    ])
}

/// A client that selected `base:allocation` on `name` and entered transmission there.
fn selected(server: &Running, name: &str) -> RawClient {
    let mut c = RawClient::connect(server.socket()).unwrap();
    assert_eq!(c.option(nbd::consts::OPT_STRUCTURED_REPLY, &[]).unwrap(), [OptionReply::Ack]);
    c.structured = true;
    assert_eq!(c.meta_context(false, name, &[BASE_ALLOCATION]).unwrap(), [base(1), OptionReply::Ack]);
    c.go(name, false).unwrap()
}

#[test]
fn contexts_are_listed_and_selected_as_the_spec_says() {
    let mut server = server();
    let mut c = RawClient::connect(server.socket()).unwrap();
    assert_eq!(
        error_type(&c.meta_context(true, "", &[]).unwrap()),
        REP_ERR_INVALID,
        "no structured replies yet"
    );
    assert_eq!(error_type(&c.meta_context(false, "", &[BASE_ALLOCATION]).unwrap()), REP_ERR_INVALID);
    assert_eq!(c.option(nbd::consts::OPT_STRUCTURED_REPLY, &[]).unwrap(), [OptionReply::Ack]);

    assert_eq!(c.meta_context(true, "", &[]).unwrap(), [base(0), OptionReply::Ack], "no query lists all");
    assert_eq!(
        c.meta_context(true, "other", &["base:"]).unwrap(),
        [base(0), OptionReply::Ack],
        "the base: wildcard"
    );
    assert_eq!(c.meta_context(true, "", &["qemu:dirty-bitmap:x", "base:nope"]).unwrap(), [OptionReply::Ack]);
    assert_eq!(
        c.meta_context(false, "", &["base:"]).unwrap(),
        [OptionReply::Ack],
        "SET ignores the wildcard"
    );
    assert_eq!(c.meta_context(false, "", &[]).unwrap(), [OptionReply::Ack], "no query selects nothing");
    let twice = c.meta_context(false, "", &["x-foo:bar", BASE_ALLOCATION, BASE_ALLOCATION]).unwrap();
    assert_eq!(twice, [base(1), OptionReply::Ack], "selected once, unknown namespaces ignored");
    assert_eq!(error_type(&c.meta_context(false, "missing", &[BASE_ALLOCATION]).unwrap()), REP_ERR_UNKNOWN);
    assert_eq!(
        error_type(&c.meta_context(false, "", &["allocation"]).unwrap()),
        REP_ERR_INVALID,
        "no namespace"
    );
    // The failed SET replaced the selection: nothing is selected now.
    let mut c = c.go("", false).unwrap();
    c.structured = true;
    assert_eq!(c.block_status(0, 4096, false).unwrap(), Err(EINVAL));
    server.stop().unwrap();
}

#[test]
fn block_status_needs_the_context_selected_for_the_export_entered() {
    let mut server = server();
    // Structured replies, but no context selected.
    let mut c = RawClient::open(server.socket(), "", true).unwrap();
    assert_eq!(c.block_status(0, 4096, false).unwrap(), Err(EINVAL));
    assert_eq!(c.write(0, b"still in sync", false).unwrap(), 0);

    // Selected for another export than the one entered.
    let mut c = RawClient::connect(server.socket()).unwrap();
    assert_eq!(c.option(nbd::consts::OPT_STRUCTURED_REPLY, &[]).unwrap(), [OptionReply::Ack]);
    assert_eq!(c.meta_context(false, "other", &[BASE_ALLOCATION]).unwrap(), [base(1), OptionReply::Ack]);
    let mut c = c.go("", true).unwrap();
    assert_eq!(c.block_status(0, 4096, false).unwrap(), Err(EINVAL));

    // Selected, then replaced by a SET that selects nothing.
    let mut c = RawClient::connect(server.socket()).unwrap();
    assert_eq!(c.option(nbd::consts::OPT_STRUCTURED_REPLY, &[]).unwrap(), [OptionReply::Ack]);
    assert_eq!(c.meta_context(false, "", &[BASE_ALLOCATION]).unwrap().len(), 2);
    assert_eq!(c.meta_context(false, "", &["base:"]).unwrap(), [OptionReply::Ack]);
    let mut c = c.go("", true).unwrap();
    assert_eq!(c.block_status(0, 4096, false).unwrap(), Err(EINVAL));

    // The default export by its empty name is the default export (where the write
    // above allocated the first chunk).
    let mut c = selected(&server, "");
    assert_eq!(c.block_status(0, 4096, false).unwrap(), Ok(vec![e(4096, 0)]));
    assert_eq!(c.block_status(CHUNK, 4096, false).unwrap(), Ok(vec![e(4096, HOLE)]));
    server.stop().unwrap();
}

#[test]
fn holes_and_data_as_written() {
    let mut server = server();
    let mut c = selected(&server, "");
    let size = 16 << 20;
    assert_eq!(c.block_status(0, size, false).unwrap(), Ok(vec![e(u64::from(size), HOLE)]), "a new disk");

    assert_eq!(c.write(CHUNK + 100, &[1; 10], false).unwrap(), 0);
    assert_eq!(c.write(5 * CHUNK, &vec![2; 2 * CHUNK as usize], false).unwrap(), 0);
    assert_eq!(c.write(u64::from(size) - 1, &[3], false).unwrap(), 0);
    let want = vec![
        e(CHUNK, HOLE),
        e(CHUNK, 0),
        e(3 * CHUNK, HOLE),
        e(2 * CHUNK, 0),
        e(u64::from(size) - 8 * CHUNK, HOLE),
        e(CHUNK, 0),
    ];
    assert_eq!(c.block_status(0, size, false).unwrap(), Ok(want));
    // Clipped to the request, which need not be aligned.
    let part = c.block_status(CHUNK + 7, (5 * CHUNK) as u32, false).unwrap();
    assert_eq!(part, Ok(vec![e(CHUNK - 7, 0), e(3 * CHUNK, HOLE), e(CHUNK + 7, 0)]));
    // REQ_ONE: the first extent, within the request.
    assert_eq!(c.block_status(0, size, true).unwrap(), Ok(vec![e(CHUNK, HOLE)]));
    assert_eq!(c.block_status(5 * CHUNK, 4096, true).unwrap(), Ok(vec![e(4096, 0)]));
    // A trim frees whole chunks again.
    assert_eq!(
        c.request(
            nbd::transmission::RequestHeader {
                flags: 0,
                command: nbd::consts::CMD_TRIM,
                cookie: 9,
                offset: 5 * CHUNK,
                length: CHUNK as u32,
            },
            &[]
        )
        .unwrap()
        .error,
        0
    );
    assert_eq!(
        c.block_status(4 * CHUNK, (3 * CHUNK) as u32, false).unwrap(),
        Ok(vec![e(2 * CHUNK, HOLE), e(CHUNK, 0)])
    );

    // Refused: empty, past the end; the connection goes on.
    assert_eq!(c.block_status(0, 0, false).unwrap(), Err(EINVAL));
    assert_eq!(c.block_status(u64::from(size) - 512, 1024, false).unwrap(), Err(EINVAL));
    assert_eq!(c.read(CHUNK + 100, 10).unwrap(), Ok(vec![1; 10]));
    server.stop().unwrap();
}

#[test]
fn a_stack_that_cannot_tell_is_all_data() {
    let mut server = server();
    let mut c = selected(&server, "opaque");
    assert_eq!(c.block_status(4096, 65536, false).unwrap(), Ok(vec![e(65536, 0)]));
    assert_eq!(c.block_status(0, 1 << 20, true).unwrap(), Ok(vec![e(1 << 20, 0)]));
    server.stop().unwrap();
}

#[test]
fn a_fragmented_export_is_answered_in_bounded_replies_the_client_continues() {
    let mut server = Running::start(vec![export("", "memory(size=512M)")]);
    let mut c = selected(&server, "");
    // 3000 separate data chunks: more than one reply holds.
    let runs = 3000u64;
    for i in 0..runs {
        assert_eq!(c.write(2 * i * CHUNK, &[1], false).unwrap(), 0);
    }
    let size = 512u64 << 20;
    let (mut at, mut data, mut replies) = (0u64, 0u64, 0);
    while at < size {
        let length = u32::try_from(size - at).unwrap_or(u32::MAX);
        let extents = c.block_status(at, length, false).unwrap().unwrap();
        assert!(extents.len() <= 2 * 1024 + 1, "{} extents in one reply", extents.len());
        for x in &extents {
            if x.flags == 0 {
                assert_eq!(at % (2 * CHUNK), 0, "data only where it was written");
                data += 1;
            }
            at += u64::from(x.length);
        }
        replies += 1;
    }
    assert_eq!(at, size, "the replies tile the export");
    assert_eq!(data, runs, "every data chunk once");
    assert!(replies > 1, "the answer came in several replies");
    server.stop().unwrap();
}
