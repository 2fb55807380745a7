//! Connecting: the socket, then the fixed newstyle handshake — `NBD_OPT_STARTTLS` and the
//! TLS handshake first for a TLS URI — with `NBD_OPT_GO` (asking for
//! `NBD_INFO_BLOCK_SIZE`), falling back to `NBD_OPT_EXPORT_NAME` when the server answers
//! `NBD_REP_ERR_UNSUP`.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use nbd_tls::rustls::pki_types::ServerName;
use nbd_tls::rustls::{ClientConfig, ClientConnection};

use super::error::NbdError;
use super::stream::{NoWait, Stream};
use super::uri::NbdUri;
use nbd::consts::{
    DEFAULT_MAX_PAYLOAD, EXPORT_NAME_REPLY_LEN, EXPORT_NAME_REPLY_ZEROES, FLAG_CAN_MULTI_CONN,
    FLAG_FIXED_NEWSTYLE, FLAG_HAS_FLAGS, FLAG_NO_ZEROES, FLAG_READ_ONLY, FLAG_SEND_FLUSH, FLAG_SEND_FUA,
    FLAG_SEND_TRIM, FLAG_SEND_WRITE_ZEROES, INFO_BLOCK_SIZE, OPT_GO, OPT_STARTTLS, OPTION_REPLY_HEADER_LEN,
    REP_ERR_TLS_REQD, REP_ERR_UNSUP, SERVER_GREETING_LEN, option_reply_name,
};
use nbd::handshake::{
    BlockSize, ClientFlags, ClientOption, InfoReply, OptionReply, decode_export_name_reply,
    decode_option_reply_header, decode_server_greeting, encode_client_flags, encode_go, parse_option_reply,
};

/// What the server said about the export during the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportInfo {
    /// Export size in bytes.
    pub size: u64,
    /// Transmission flags (`FLAG_...`; 0 when the server did not set `FLAG_HAS_FLAGS`).
    pub transmission_flags: u16,
    /// Block size constraints, when the server sent `NBD_INFO_BLOCK_SIZE`.
    pub block_size: Option<BlockSize>,
    /// Whether the export was opened with `NBD_OPT_GO` (else `NBD_OPT_EXPORT_NAME`).
    pub opened_with_go: bool,
}

/// The largest request this client sends, whatever the server allows (32 MiB).
const MAX_REQUEST: u32 = DEFAULT_MAX_PAYLOAD;

impl ExportInfo {
    fn has(&self, flag: u16) -> bool {
        self.transmission_flags & flag != 0
    }
    /// `FLAG_READ_ONLY`.
    pub fn read_only(&self) -> bool {
        self.has(FLAG_READ_ONLY)
    }
    /// `FLAG_SEND_FLUSH`: the server has a cache that `NBD_CMD_FLUSH` writes back.
    pub fn can_flush(&self) -> bool {
        self.has(FLAG_SEND_FLUSH)
    }
    /// `FLAG_SEND_FUA`.
    pub fn can_fua(&self) -> bool {
        self.has(FLAG_SEND_FUA)
    }
    /// `FLAG_SEND_TRIM`.
    pub fn can_trim(&self) -> bool {
        self.has(FLAG_SEND_TRIM)
    }
    /// `FLAG_SEND_WRITE_ZEROES`.
    pub fn can_write_zeroes(&self) -> bool {
        self.has(FLAG_SEND_WRITE_ZEROES)
    }
    /// `FLAG_CAN_MULTI_CONN`.
    pub fn can_multi_conn(&self) -> bool {
        self.has(FLAG_CAN_MULTI_CONN)
    }
    /// The minimum block size: offsets and lengths are multiples of it (1 by default).
    pub fn min_block(&self) -> u32 {
        self.block_size.map_or(1, |b| b.minimum)
    }
    /// The sector size the device reports: 512, or the minimum block size if larger.
    pub fn sector_size(&self) -> u32 {
        self.min_block().max(512)
    }
    /// The largest read or write sent as one request: the server's maximum payload, at
    /// most 32 MiB, rounded down to the minimum block size. Larger transfers are split.
    pub fn max_request(&self) -> u32 {
        let max = self.block_size.map_or(MAX_REQUEST, |b| b.maximum.min(MAX_REQUEST));
        let min = self.min_block();
        (max - max % min).max(min)
    }
}

/// Connects to `uri` and negotiates the export, over TLS with `tls` (loaded from the
/// certificates directory); `timeout` bounds the connect and each read or write of the
/// handshake. The stream comes back without timeouts.
pub(super) fn connect(
    uri: &NbdUri,
    tls: Option<&Arc<ClientConfig>>,
    timeout: Duration,
) -> Result<(Stream, ExportInfo), NbdError> {
    let stream = Stream::connect(&uri.transport, timeout)
        .map_err(|source| NbdError::Connect { uri: uri.clone(), source })?;
    let io_err = |stage| move |source| NbdError::HandshakeIo { uri: uri.clone(), stage, source };
    stream.set_timeouts(Some(timeout)).map_err(io_err("setting the socket timeouts"))?;
    let mut handshake = Handshake { stream, uri, tls, timeout };
    let info = handshake.run()?;
    let stream = handshake.stream;
    stream.set_timeouts(None).map_err(io_err("clearing the socket timeouts"))?;
    Ok((stream, info))
}

struct Handshake<'a> {
    stream: Stream,
    uri: &'a NbdUri,
    tls: Option<&'a Arc<ClientConfig>>,
    timeout: Duration,
}

impl Handshake<'_> {
    fn io(&self, stage: &'static str) -> impl FnOnce(io::Error) -> NbdError + '_ {
        move |source| NbdError::HandshakeIo { uri: self.uri.clone(), stage, source }
    }

    fn fail(&self, reason: impl Into<String>) -> NbdError {
        NbdError::Handshake { uri: self.uri.clone(), reason: reason.into() }
    }

    fn run(&mut self) -> Result<ExportInfo, NbdError> {
        let mut greeting = [0; SERVER_GREETING_LEN];
        self.stream.read_exact(&mut greeting).map_err(self.io("reading the server greeting"))?;
        let flags = decode_server_greeting(&greeting).map_err(|e| {
            // Oldstyle servers send the magic 0x00420281861253 where newstyle ones send IHAVEOPT.
            if greeting[8..16] == 0x0000_4202_8186_1253_u64.to_be_bytes() {
                self.fail("the server uses oldstyle negotiation, which is not supported")
            } else {
                self.fail(format!("bad server greeting: {e}"))
            }
        })?;
        if flags & FLAG_FIXED_NEWSTYLE == 0 {
            return Err(self.fail("the server does not support fixed newstyle negotiation"));
        }
        let no_zeroes = flags & FLAG_NO_ZEROES != 0;
        let client = ClientFlags { fixed_newstyle: true, no_zeroes };
        self.stream.write_all(&encode_client_flags(client)).map_err(self.io("sending the client flags"))?;
        if let Some(config) = self.tls {
            self.start_tls(Arc::clone(config))?;
        }
        match self.go()? {
            Some(info) => Ok(info),
            None => self.export_name(no_zeroes),
        }
    }

    /// `NBD_OPT_STARTTLS`, the TLS handshake (bounded by the timeout), then the relay:
    /// the rest of the handshake and transmission go through it.
    fn start_tls(&mut self, config: Arc<ClientConfig>) -> Result<(), NbdError> {
        let option = ClientOption::StartTls.encode().map_err(|e| self.fail(e.to_string()))?;
        self.stream.write_all(&option).map_err(self.io("sending NBD_OPT_STARTTLS"))?;
        let mut header = [0; OPTION_REPLY_HEADER_LEN];
        self.stream.read_exact(&mut header).map_err(self.io("reading the reply to NBD_OPT_STARTTLS"))?;
        let header = decode_option_reply_header(&header).map_err(|e| self.fail(e.to_string()))?;
        let mut data = vec![0; header.length as usize];
        self.stream.read_exact(&mut data).map_err(self.io("reading the reply to NBD_OPT_STARTTLS"))?;
        if header.option != OPT_STARTTLS {
            return Err(self.fail(format!("reply to option {} to NBD_OPT_STARTTLS", header.option)));
        }
        match parse_option_reply(&header, &data).map_err(|e| self.fail(e.to_string()))? {
            OptionReply::Ack => {}
            OptionReply::Error { reply_type, message } => {
                let reply = option_reply_name(reply_type).unwrap_or("an unknown error");
                return Err(
                    self.fail(format!("the server refused TLS (NBD_OPT_STARTTLS: {reply}: {message:?})"))
                );
            }
            other => return Err(self.fail(format!("unexpected reply to NBD_OPT_STARTTLS: {other:?}"))),
        }
        let name = self.uri.tls_server_name();
        let server_name = ServerName::try_from(name.to_owned())
            .map_err(|e| self.fail(format!("{name:?} cannot be checked against a certificate: {e}")))?;
        let mut conn = ClientConnection::new(config, server_name)
            .map_err(|e| self.fail(format!("cannot start TLS: {e}")))?;
        let placeholder =
            Stream::Unix(std::os::unix::net::UnixStream::pair().map_err(self.io("starting TLS"))?.0);
        let Some(socket) = std::mem::replace(&mut self.stream, placeholder).into_socket() else {
            return Err(self.fail("NBD_OPT_STARTTLS on a stream already under TLS"));
        };
        nbd_tls::handshake(&mut conn, &mut &socket).map_err(self.io("doing the TLS handshake"))?;
        let (plain, relay) =
            nbd_tls::start(conn.into(), socket, "nbd-client").map_err(self.io("starting TLS"))?;
        self.stream = Stream::Tls { plain, _relay: relay };
        self.stream.set_timeouts(Some(self.timeout)).map_err(self.io("setting the socket timeouts"))
    }

    /// `NBD_OPT_GO`; `None` when the server does not know it.
    fn go(&self) -> Result<Option<ExportInfo>, NbdError> {
        let export = &self.uri.export;
        let go = encode_go(export, &[INFO_BLOCK_SIZE]).map_err(|e| self.fail(format!("export name: {e}")))?;
        self.stream.write_all(&go).map_err(self.io("sending NBD_OPT_GO"))?;
        let mut export_info = None;
        let mut block_size = None;
        loop {
            let mut header = [0; OPTION_REPLY_HEADER_LEN];
            self.stream.read_exact(&mut header).map_err(self.io("reading the reply to NBD_OPT_GO"))?;
            let header = decode_option_reply_header(&header).map_err(|e| self.fail(e.to_string()))?;
            let mut data = vec![0; header.length as usize];
            self.stream.read_exact(&mut data).map_err(self.io("reading the reply to NBD_OPT_GO"))?;
            if header.option != OPT_GO {
                return Err(
                    self.fail(format!("reply to option {} while waiting for NBD_OPT_GO", header.option))
                );
            }
            match parse_option_reply(&header, &data).map_err(|e| self.fail(e.to_string()))? {
                OptionReply::Info(InfoReply::Export { size, flags }) => export_info = Some((size, flags)),
                OptionReply::Info(InfoReply::BlockSize(b)) => block_size = Some(self.check_block_size(b)?),
                OptionReply::Info(_) => {}
                OptionReply::Ack => {
                    let (size, flags) = export_info
                        .ok_or_else(|| self.fail("NBD_REP_ACK to NBD_OPT_GO without NBD_INFO_EXPORT"))?;
                    return Ok(Some(ExportInfo {
                        size,
                        transmission_flags: transmission_flags(flags),
                        block_size,
                        opened_with_go: true,
                    }));
                }
                OptionReply::Error { reply_type: REP_ERR_UNSUP, .. } => return Ok(None),
                OptionReply::Error { reply_type: REP_ERR_TLS_REQD, .. } => {
                    return Err(self.fail(
                        "the server requires TLS: use nbds:// or nbds+unix:// with tls-certificates=DIR",
                    ));
                }
                OptionReply::Error { reply_type, message } => {
                    // A polite end of the negotiation; the refusal is the error either way.
                    if let Ok(abort) = ClientOption::Abort.encode() {
                        let _ = self.stream.write_all(&abort);
                    }
                    return Err(NbdError::Refused {
                        uri: Box::new(self.uri.clone()),
                        export: export.clone(),
                        reply: option_reply_name(reply_type).unwrap_or("an unknown error"),
                        message,
                    });
                }
                other => return Err(self.fail(format!("unexpected reply to NBD_OPT_GO: {other:?}"))),
            }
        }
    }

    /// `NBD_OPT_EXPORT_NAME` (servers without `NBD_OPT_GO`): the server closes the
    /// connection if it does not know the export.
    fn export_name(&self, no_zeroes: bool) -> Result<ExportInfo, NbdError> {
        let option = ClientOption::ExportName(self.uri.export.clone())
            .encode()
            .map_err(|e| self.fail(format!("export name: {e}")))?;
        self.stream.write_all(&option).map_err(self.io("sending NBD_OPT_EXPORT_NAME"))?;
        let mut reply = [0; EXPORT_NAME_REPLY_LEN];
        self.stream
            .read_exact(&mut reply)
            .map_err(self.io("reading the reply to NBD_OPT_EXPORT_NAME (is the export name right?)"))?;
        if !no_zeroes {
            self.stream
                .skip(EXPORT_NAME_REPLY_ZEROES as u64, &mut NoWait)
                .map_err(self.io("reading the reply to NBD_OPT_EXPORT_NAME"))?;
        }
        let (size, flags) = decode_export_name_reply(&reply);
        Ok(ExportInfo {
            size,
            transmission_flags: transmission_flags(flags),
            block_size: None,
            opened_with_go: false,
        })
    }

    fn check_block_size(&self, b: BlockSize) -> Result<BlockSize, NbdError> {
        let ok = b.minimum.is_power_of_two()
            && b.minimum <= 65536
            && b.preferred.is_power_of_two()
            && b.preferred >= b.minimum
            && b.maximum >= b.minimum;
        if ok { Ok(b) } else { Err(self.fail(format!("invalid NBD_INFO_BLOCK_SIZE {b:?}"))) }
    }
}

/// Transmission flags mean nothing unless `FLAG_HAS_FLAGS` is set.
fn transmission_flags(flags: u16) -> u16 {
    if flags & FLAG_HAS_FLAGS != 0 { flags } else { 0 }
}
