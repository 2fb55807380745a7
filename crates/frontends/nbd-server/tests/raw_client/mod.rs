//! A small blocking NBD client for tests, built on the `nbd` crate's encoders: it can
//! send anything, including what a real client never would. Also used by the CLI's
//! tests (`#[path]`).
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use nbd::consts::{
    CMD_BLOCK_STATUS, CMD_FLAG_FUA, CMD_FLAG_REQ_ONE, CMD_FLUSH, CMD_READ, CMD_WRITE, INFO_BLOCK_SIZE,
    OPT_GO, OPT_STRUCTURED_REPLY, OPTION_REPLY_HEADER_LEN, REQUEST_HEADER_LEN, SIMPLE_REPLY_LEN,
    STRUCTURED_REPLY_HEADER_LEN,
};
use nbd::handshake::{
    ClientFlags, ClientOption, InfoReply, OptionReply, decode_option_reply_header, decode_server_greeting,
    encode_client_flags, encode_go, encode_option, parse_option_reply,
};
use nbd::transmission::{
    Extent, ReplyChunk, RequestHeader, check_block_status, decode_simple_reply,
    decode_structured_reply_header, encode_request, parse_reply_chunk,
};

/// A connected client, before or after the handshake.
pub struct RawClient {
    pub stream: UnixStream,
    /// Export size and transmission flags, after `go`.
    pub size: u64,
    pub flags: u16,
    pub structured: bool,
}

/// One reply: the cookie, the NBD error (0 = success), a read's data and the block
/// status chunks (context id, extents).
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub cookie: u64,
    pub error: u32,
    pub data: Vec<u8>,
    pub blocks: Vec<(u32, Vec<Extent>)>,
}

impl RawClient {
    /// Connects and reads the greeting, then sends the fixed-newstyle client flags.
    pub fn connect(socket: &Path) -> io::Result<RawClient> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut greeting = [0; 18];
        stream.read_exact(&mut greeting)?;
        decode_server_greeting(&greeting).map_err(io::Error::other)?;
        stream.write_all(&encode_client_flags(ClientFlags { fixed_newstyle: true, no_zeroes: true }))?;
        Ok(RawClient { stream, size: 0, flags: 0, structured: false })
    }

    /// Sends an option (any code, any data).
    pub fn send_option(&mut self, option: u32, data: &[u8]) -> io::Result<()> {
        self.stream.write_all(&encode_option(option, data).map_err(io::Error::other)?)
    }

    /// Reads one option reply.
    pub fn option_reply(&mut self) -> io::Result<OptionReply> {
        let mut header = [0; OPTION_REPLY_HEADER_LEN];
        self.stream.read_exact(&mut header)?;
        let header = decode_option_reply_header(&header).map_err(io::Error::other)?;
        let mut data = vec![0; header.length as usize];
        self.stream.read_exact(&mut data)?;
        parse_option_reply(&header, &data).map_err(io::Error::other)
    }

    /// Sends an option and reads replies up to the final one (ACK or an error).
    pub fn option(&mut self, option: u32, data: &[u8]) -> io::Result<Vec<OptionReply>> {
        self.send_option(option, data)?;
        let mut replies = Vec::new();
        loop {
            let reply = self.option_reply()?;
            let last = matches!(reply, OptionReply::Ack | OptionReply::Error { .. });
            replies.push(reply);
            if last {
                return Ok(replies);
            }
        }
    }

    /// Negotiates structured replies (if asked) and enters transmission with `NBD_OPT_GO`.
    pub fn go(mut self, name: &str, structured: bool) -> io::Result<RawClient> {
        if structured {
            let replies = self.option(OPT_STRUCTURED_REPLY, &[])?;
            assert_eq!(replies, vec![OptionReply::Ack]);
            self.structured = true;
        }
        self.stream.write_all(&encode_go(name, &[INFO_BLOCK_SIZE]).map_err(io::Error::other)?)?;
        loop {
            match self.option_reply()? {
                OptionReply::Info(InfoReply::Export { size, flags }) => {
                    (self.size, self.flags) = (size, flags)
                }
                OptionReply::Info(_) => {}
                OptionReply::Ack => return Ok(self),
                other => return Err(io::Error::other(format!("NBD_OPT_GO failed: {other:?}"))),
            }
        }
    }

    /// Connects to `socket` and enters transmission on export `name`.
    pub fn open(socket: &Path, name: &str, structured: bool) -> io::Result<RawClient> {
        RawClient::connect(socket)?.go(name, structured)
    }

    /// Sends a request header and a payload.
    pub fn send(&mut self, header: RequestHeader, payload: &[u8]) -> io::Result<()> {
        let mut message = encode_request(&header).to_vec();
        message.extend_from_slice(payload);
        self.stream.write_all(&message)
    }

    /// Reads one whole reply; `read_len` says how many data bytes a successful simple
    /// reply to a read carries (simple replies do not say).
    pub fn answer(&mut self, read_len: usize) -> io::Result<Answer> {
        self.answer_with(|_| read_len)
    }

    /// Reads one whole reply; `read_len` says, from the cookie, how many data bytes a
    /// successful simple reply carries.
    pub fn answer_with(&mut self, read_len: impl Fn(u64) -> usize) -> io::Result<Answer> {
        if self.structured {
            return self.structured_answer();
        }
        let mut header = [0; SIMPLE_REPLY_LEN];
        self.stream.read_exact(&mut header)?;
        let reply = decode_simple_reply(&header).map_err(io::Error::other)?;
        let mut data = vec![0; if reply.error == 0 { read_len(reply.cookie) } else { 0 }];
        self.stream.read_exact(&mut data)?;
        Ok(Answer { cookie: reply.cookie, error: reply.error, data, blocks: Vec::new() })
    }

    fn structured_answer(&mut self) -> io::Result<Answer> {
        let mut answer = Answer { cookie: 0, error: 0, data: Vec::new(), blocks: Vec::new() };
        loop {
            let mut header = [0; STRUCTURED_REPLY_HEADER_LEN];
            self.stream.read_exact(&mut header)?;
            let header = decode_structured_reply_header(&header).map_err(io::Error::other)?;
            let mut payload = vec![0; header.length as usize];
            self.stream.read_exact(&mut payload)?;
            answer.cookie = header.cookie;
            match parse_reply_chunk(&header, &payload).map_err(io::Error::other)? {
                ReplyChunk::OffsetData { data, .. } => answer.data.extend_from_slice(data),
                ReplyChunk::BlockStatus { context_id, extents } => answer.blocks.push((context_id, extents)),
                ReplyChunk::Error { error, .. } | ReplyChunk::ErrorOffset { error, .. } => {
                    answer.error = error
                }
                _ => {}
            }
            if header.is_done() {
                return Ok(answer);
            }
        }
    }

    /// Sends a request and waits for its reply.
    pub fn request(&mut self, header: RequestHeader, payload: &[u8]) -> io::Result<Answer> {
        let read_len = if header.command == CMD_READ { header.length as usize } else { 0 };
        self.send(header, payload)?;
        let answer = self.answer(read_len)?;
        assert_eq!(answer.cookie, header.cookie, "reply to another request");
        Ok(answer)
    }

    /// Writes `data` at `offset` (with FUA if asked); returns the NBD error.
    pub fn write(&mut self, offset: u64, data: &[u8], fua: bool) -> io::Result<u32> {
        let flags = if fua { CMD_FLAG_FUA } else { 0 };
        let length = data.len() as u32;
        let header =
            RequestHeader { flags, command: CMD_WRITE, cookie: offset.wrapping_add(0x1000), offset, length };
        Ok(self.request(header, data)?.error)
    }

    /// Reads `length` bytes at `offset`.
    pub fn read(&mut self, offset: u64, length: u32) -> io::Result<Result<Vec<u8>, u32>> {
        let header = RequestHeader {
            flags: 0,
            command: CMD_READ,
            cookie: offset.wrapping_add(0x2000),
            offset,
            length,
        };
        let answer = self.request(header, &[])?;
        Ok(if answer.error == 0 { Ok(answer.data) } else { Err(answer.error) })
    }

    /// `NBD_OPT_SET_META_CONTEXT` (or `LIST_`, with `list`) for export `name`: the replies.
    pub fn meta_context(&mut self, list: bool, name: &str, queries: &[&str]) -> io::Result<Vec<OptionReply>> {
        let (name, queries) = (name.to_owned(), queries.iter().map(|q| (*q).to_owned()).collect());
        let option = if list {
            ClientOption::ListMetaContext { name, queries }
        } else {
            ClientOption::SetMetaContext { name, queries }
        };
        self.option(option.code(), &option.encode_data().map_err(io::Error::other)?)
    }

    /// `NBD_CMD_BLOCK_STATUS` of `length` bytes at `offset`: the extents of the one
    /// context (checked against the request by the spec's rules), or the NBD error.
    pub fn block_status(
        &mut self,
        offset: u64,
        length: u32,
        req_one: bool,
    ) -> io::Result<Result<Vec<Extent>, u32>> {
        let flags = if req_one { CMD_FLAG_REQ_ONE } else { 0 };
        let header = RequestHeader { flags, command: CMD_BLOCK_STATUS, cookie: 0x4000, offset, length };
        let answer = self.request(header, &[])?;
        if answer.error != 0 {
            return Ok(Err(answer.error));
        }
        let [(_, extents)] = <[_; 1]>::try_from(answer.blocks)
            .map_err(|b| io::Error::other(format!("expected one block status chunk, got {b:?}")))?;
        check_block_status(&extents, length, req_one).map_err(io::Error::other)?;
        Ok(Ok(extents))
    }

    /// Flushes; returns the NBD error.
    pub fn flush(&mut self) -> io::Result<u32> {
        let header = RequestHeader { flags: 0, command: CMD_FLUSH, cookie: 0x3000, offset: 0, length: 0 };
        Ok(self.request(header, &[])?.error)
    }

    /// Whether the server closed the connection (reads end of file within the timeout).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 256];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// The `NBD_OPT_GO` code, for tests that build options by hand.
pub const GO: u32 = OPT_GO;
/// The request header size.
pub const HEADER_LEN: usize = REQUEST_HEADER_LEN;
