//! Fuzzing entry points, shared by the cargo-fuzz targets in `fuzz/` and by the corpus
//! replay test (`corpus.rs` here), so the corpus also runs in `cargo test` on stable. Built
//! for tests and with the `fuzzing` feature (which the `fuzz/` crate enables) only: it is not
//! part of the protocol API.
//!
//! Each function takes arbitrary bytes as they would arrive on a socket, drives the
//! decoders over them, re-encodes whatever decoded, and asserts the round trip. It
//! panics only when an invariant breaks — which is the bug a fuzzer reports.

use crate::consts::BASE_ALLOCATION;
use crate::consts::{
    FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES, FLAG_READ_ONLY, FLAG_SEND_DF, FLAG_SEND_FAST_ZERO, FLAG_SEND_FLUSH,
    FLAG_SEND_FUA, FLAG_SEND_TRIM, FLAG_SEND_WRITE_ZEROES, OPTION_HEADER_LEN, OPTION_REPLY_HEADER_LEN,
    OPTION_REPLY_MAGIC, REQUEST_HEADER_LEN, SIMPLE_REPLY_LEN, SIMPLE_REPLY_MAGIC,
    STRUCTURED_REPLY_HEADER_LEN, STRUCTURED_REPLY_MAGIC,
};
use crate::handshake::{
    ClientOption, MetaQueryMode, decode_client_flags, decode_export_name_reply, decode_option_header,
    decode_option_reply_header, decode_server_greeting, parse_option, parse_option_reply,
    select_meta_contexts, split_context_name,
};
use crate::transmission::{
    Command, ExportLimits, ReplyChunk, check_block_status, decode_request_header, decode_simple_reply,
    decode_structured_reply_header, encode_block_status_chunk, encode_request, encode_simple_reply,
    encode_structured_reply_header, parse_reply_chunk,
};
use crate::{PayloadAction, RequestError};

/// Bytes from the client after the server greeting: 4 bytes of client flags, then a
/// sequence of options (header, data), decoded as a server would (but going on after
/// errors that would close the connection). Parsed options must re-encode to the same
/// option.
pub fn option(data: &[u8]) {
    let Some((flags, mut rest)) = data.split_first_chunk::<4>() else { return };
    let _ = decode_client_flags(flags, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    let _ = decode_client_flags(flags, 0);
    while rest.len() >= OPTION_HEADER_LEN {
        let Ok(header) = decode_option_header(rest) else { return };
        let body_start = &rest[OPTION_HEADER_LEN..];
        // A truncated stream: parse what is there (as if the length said so) and stop.
        let len = usize::try_from(header.length).unwrap_or(usize::MAX).min(body_start.len());
        let (body, next) = body_start.split_at(len);
        match parse_option(header.option, body) {
            Ok(parsed) => check_option(&parsed, header.option, body),
            Err(e) => {
                let _ = e.option_reply_error();
            }
        }
        rest = next;
    }
}

fn check_option(parsed: &ClientOption, code: u32, body: &[u8]) {
    assert_eq!(parsed.code(), code);
    let encoded = parsed.encode().expect("a parsed option re-encodes");
    let header = decode_option_header(&encoded).expect("re-encoded header decodes");
    let reparsed =
        parse_option(header.option, &encoded[OPTION_HEADER_LEN..]).expect("re-encoded option parses");
    assert_eq!(&reparsed, parsed);
    // Options whose data is ignored (ABORT, unknown options) only round-trip without data.
    let canonical = !matches!(parsed, ClientOption::Abort | ClientOption::Unknown { .. }) || body.is_empty();
    if canonical {
        assert_eq!(&encoded[OPTION_HEADER_LEN..], body);
    }
    if let ClientOption::ListMetaContext { queries, .. } | ClientOption::SetMetaContext { queries, .. } =
        parsed
    {
        check_meta_selection(queries);
    }
}

/// What a server with `base:allocation` (and a context of another namespace) answers to
/// metadata context queries: only contexts it has, each once; `SET` only what a query
/// names exactly; `LIST` with no query, everything.
fn check_meta_selection(queries: &[String]) {
    let supported = [BASE_ALLOCATION, "x-irpstack:test"];
    for mode in [MetaQueryMode::List, MetaQueryMode::Set] {
        let Ok(chosen) = select_meta_contexts(mode, queries, &supported) else {
            assert!(queries.iter().any(|q| split_context_name(q).is_err()), "only a malformed query fails");
            continue;
        };
        let mut seen = chosen.clone();
        seen.dedup();
        assert_eq!(seen, chosen, "each context at most once");
        assert!(chosen.iter().all(|c| supported.contains(c)));
        if mode == MetaQueryMode::Set {
            assert!(chosen.iter().all(|c| queries.iter().any(|q| q == c)), "SET selects only what it names");
        } else if queries.is_empty() {
            assert_eq!(chosen, supported, "LIST without queries lists everything");
        }
    }
}

/// Export limits the request target checks every header against.
fn fuzz_limits() -> [ExportLimits; 4] {
    let all = FLAG_SEND_FLUSH
        | FLAG_SEND_FUA
        | FLAG_SEND_TRIM
        | FLAG_SEND_WRITE_ZEROES
        | FLAG_SEND_DF
        | FLAG_SEND_FAST_ZERO;
    let aligned = ExportLimits { max_payload: 4096, min_block: 512, ..ExportLimits::new(1 << 20, all) };
    [
        ExportLimits::new(1 << 30, all),
        ExportLimits::new(1 << 20, FLAG_READ_ONLY),
        aligned,
        ExportLimits { max_payload: u32::MAX, ..ExportLimits::new(u64::MAX, all) },
    ]
}

/// Bytes from the client during transmission: a sequence of request headers, each
/// followed by its write payload, classified against several exports. Accepted commands
/// must lie within the export and re-encode to a header that classifies the same.
pub fn request(data: &[u8]) {
    let limits = fuzz_limits();
    let mut rest = data;
    while let Some((bytes, tail)) = rest.split_first_chunk::<REQUEST_HEADER_LEN>() {
        let Ok(header) = decode_request_header(bytes) else { return };
        assert_eq!(&encode_request(&header), bytes);
        for limit in &limits {
            match Command::classify(&header, limit) {
                Ok(command) => check_command(command, &header, limit),
                Err(e) => check_refusal(&e, &header),
            }
        }
        let payload = usize::try_from(header.payload_len()).unwrap_or(usize::MAX).min(tail.len());
        rest = &tail[payload..];
    }
}

fn check_command(command: Command, header: &crate::transmission::RequestHeader, limits: &ExportLimits) {
    assert_eq!(command.payload_len(), header.payload_len());
    let again = command.header(header.cookie);
    assert_eq!(Command::classify(&again, limits), Ok(command));
    if !matches!(command, Command::Disc | Command::Flush) {
        let end = header.offset.checked_add(header.length.into()).expect("accepted range does not overflow");
        assert!(end <= limits.size, "accepted range ends past the export");
    }
}

fn check_refusal(e: &RequestError, header: &crate::transmission::RequestHeader) {
    assert_ne!(e.errno(), 0);
    assert!(crate::consts::error_name(e.errno()).is_some(), "errno {} is not an NBD error", e.errno());
    assert_eq!(e.cookie, header.cookie);
    match e.payload {
        PayloadAction::None => assert_eq!(header.payload_len(), 0),
        PayloadAction::Discard(n) => assert_eq!(n, header.payload_len()),
        PayloadAction::Disconnect => assert_ne!(header.payload_len(), 0),
    }
}

/// Bytes from the server: option replies, simple replies and structured reply chunks in
/// any mix, told apart by their magic as a client would. Decoded replies must re-encode
/// to something that decodes the same. Leftover bytes are also tried as a greeting and
/// as an `NBD_OPT_EXPORT_NAME` reply.
pub fn reply(data: &[u8]) {
    if let Some(greeting) = data.first_chunk() {
        let _ = decode_server_greeting(greeting);
    }
    if let Some(export) = data.first_chunk() {
        let _ = decode_export_name_reply(export);
    }
    let mut rest = data;
    loop {
        let consumed =
            if rest.first_chunk::<8>().is_some_and(|m| u64::from_be_bytes(*m) == OPTION_REPLY_MAGIC) {
                option_reply(rest)
            } else if let Some(magic) = rest.first_chunk::<4>().map(|m| u32::from_be_bytes(*m)) {
                match magic {
                    SIMPLE_REPLY_MAGIC => simple_reply(rest),
                    STRUCTURED_REPLY_MAGIC => structured_reply(rest),
                    _ => None,
                }
            } else {
                None
            };
        match consumed {
            Some(n) if n > 0 && n <= rest.len() => rest = &rest[n..],
            _ => return,
        }
    }
}

/// Decodes one option reply at the start of `rest`; returns the bytes it used.
fn option_reply(rest: &[u8]) -> Option<usize> {
    let header = decode_option_reply_header(rest).ok()?;
    let body = rest.get(OPTION_REPLY_HEADER_LEN..)?;
    let len = usize::try_from(header.length).ok()?.min(body.len());
    if let Ok(parsed) = parse_option_reply(&header, &body[..len])
        && let Ok(encoded) = parsed.encode(header.option)
    {
        let h = decode_option_reply_header(&encoded).expect("re-encoded reply header decodes");
        assert_eq!(h.option, header.option);
        let again =
            parse_option_reply(&h, &encoded[OPTION_REPLY_HEADER_LEN..]).expect("re-encoded reply parses");
        assert_eq!(again, parsed);
    }
    Some(OPTION_REPLY_HEADER_LEN + len)
}

fn simple_reply(rest: &[u8]) -> Option<usize> {
    let bytes = rest.first_chunk::<SIMPLE_REPLY_LEN>()?;
    let reply = decode_simple_reply(bytes).ok()?;
    assert_eq!(&encode_simple_reply(reply.cookie, reply.error), bytes);
    Some(SIMPLE_REPLY_LEN)
}

fn structured_reply(rest: &[u8]) -> Option<usize> {
    let (bytes, tail) = rest.split_first_chunk::<STRUCTURED_REPLY_HEADER_LEN>()?;
    let header = decode_structured_reply_header(bytes).ok()?;
    assert_eq!(&encode_structured_reply_header(&header), bytes);
    let len = usize::try_from(header.length).ok()?.min(tail.len());
    if let Ok(chunk) = parse_reply_chunk(&header, &tail[..len])
        && let Ok(encoded) = chunk.encode(header.cookie, header.flags)
    {
        let (h, payload) = encoded.split_first_chunk().expect("re-encoded chunk has a header");
        let h = decode_structured_reply_header(h).expect("re-encoded chunk header decodes");
        assert_eq!((h.cookie, h.flags), (header.cookie, header.flags));
        assert_eq!(parse_reply_chunk(&h, payload).expect("re-encoded chunk parses"), chunk);
        if let ReplyChunk::BlockStatus { context_id, extents } = &chunk {
            let again = encode_block_status_chunk(header.cookie, header.flags, *context_id, extents)
                .expect("a parsed block status chunk re-encodes");
            assert_eq!(again, encoded);
            // Extents that exactly cover what was asked for are a valid answer.
            let total: u64 = extents.iter().map(|e| u64::from(e.length)).sum();
            if let Ok(asked) = u32::try_from(total) {
                assert!(check_block_status(extents, asked, false).is_ok());
                assert_eq!(check_block_status(extents, asked, true).is_ok(), extents.len() == 1);
            }
        }
    }
    Some(STRUCTURED_REPLY_HEADER_LEN + len)
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod seeds;
