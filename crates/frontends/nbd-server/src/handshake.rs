//! The fixed newstyle handshake, server side: greeting, client flags, option haggling,
//! until the client enters transmission (`NBD_OPT_GO`, `NBD_OPT_EXPORT_NAME`) or leaves.

use std::io::{self, Read, Write};
use std::sync::Arc;

use irp::{Handle, IoError};
use nbd::ProtocolError;
use nbd::consts::{
    BASE_ALLOCATION, FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES, INFO_BLOCK_SIZE, INFO_DESCRIPTION, INFO_NAME,
    OPT_EXPORT_NAME, OPT_GO, OPTION_HEADER_LEN, REP_ERR_BLOCK_SIZE_REQD, REP_ERR_INVALID, REP_ERR_SHUTDOWN,
    REP_ERR_UNKNOWN, REP_ERR_UNSUP, option_name,
};
use nbd::handshake::{
    ClientOption, InfoReply, MetaQueryMode, OptionReply, decode_client_flags, decode_option_header,
    encode_export_name_reply, encode_info_block_size, encode_info_export, encode_info_name,
    encode_option_ack, encode_option_error, encode_rep_meta_context, encode_rep_server,
    encode_server_greeting, parse_option, select_meta_contexts,
};

use crate::context::Context;
use crate::export::Export;

/// What the handshake ended with.
pub(crate) enum Outcome {
    /// The client chose an export and enters transmission.
    Transmission(Session),
    /// The client left (`NBD_OPT_ABORT`).
    Aborted,
}

/// The metadata contexts this server has: `base:allocation` only.
const CONTEXTS: [&str; 1] = [BASE_ALLOCATION];

/// The id `base:allocation` gets when `NBD_OPT_SET_META_CONTEXT` selects it.
pub(crate) const BASE_ALLOCATION_ID: u32 = 1;

/// A connection in transmission: the export, this connection's handle on its stack,
/// whether structured replies were negotiated, and the id of `base:allocation` if the
/// client selected it for this export (`NBD_CMD_BLOCK_STATUS` is refused otherwise).
pub(crate) struct Session {
    pub(crate) export: Arc<Export>,
    pub(crate) handle: Handle,
    pub(crate) structured: bool,
    pub(crate) block_status: Option<u32>,
}

/// Why the server ends a connection during the handshake.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("more than {0} options in one handshake")]
    TooManyOptions(usize),
    #[error("NBD_OPT_EXPORT_NAME for unknown export {0:?}")]
    UnknownExport(String),
    #[error("cannot open export {name:?}: {source}")]
    Open { name: String, source: IoError },
}

enum Step {
    Continue,
    Done(Outcome),
}

struct Haggle<'a> {
    ctx: &'a Context,
    peer: &'a str,
    structured: bool,
    no_zeroes: bool,
    /// The export the last `NBD_OPT_SET_META_CONTEXT` selected `base:allocation` for.
    meta_export: Option<Arc<Export>>,
    out: Vec<u8>,
}

/// Runs the handshake on `stream` until transmission or the end of the connection;
/// `entering` runs just before the reply that enters transmission is sent (so that the
/// connection counts as established by the time the client knows it is).
pub(crate) fn negotiate<S: Read + Write>(
    stream: &mut S,
    ctx: &Context,
    peer: &str,
    entering: impl Fn(),
) -> Result<Outcome, HandshakeError> {
    let advertised = FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES;
    stream.write_all(&encode_server_greeting(advertised))?;
    let mut flags = [0; 4];
    stream.read_exact(&mut flags)?;
    let client = decode_client_flags(&flags, advertised)?;
    let mut haggle = Haggle {
        ctx,
        peer,
        structured: false,
        no_zeroes: client.no_zeroes,
        meta_export: None,
        out: Vec::new(),
    };
    let mut data = Vec::new();
    for _ in 0..ctx.limits.max_options {
        let mut header = [0; OPTION_HEADER_LEN];
        stream.read_exact(&mut header)?;
        // Errors here (bad magic, data over 64 KiB) mean: close.
        let header = decode_option_header(&header)?;
        data.resize(header.length as usize, 0);
        stream.read_exact(&mut data)?;
        let step = haggle.answer(header.option, &data);
        if matches!(step, Ok(Step::Done(Outcome::Transmission(_)))) {
            entering();
        }
        stream.write_all(&haggle.out)?;
        haggle.out.clear();
        if let Step::Done(outcome) = step? {
            return Ok(outcome);
        }
    }
    Err(HandshakeError::TooManyOptions(ctx.limits.max_options))
}

impl Haggle<'_> {
    /// Answers one option into `self.out`.
    fn answer(&mut self, option: u32, data: &[u8]) -> Result<Step, HandshakeError> {
        let name = option_name(option).unwrap_or("unknown option");
        tracing::debug!(peer = self.peer, option, name, length = data.len(), "option");
        let parsed = match parse_option(option, data) {
            Ok(parsed) => parsed,
            Err(e) => {
                return match e.option_reply_error() {
                    Some(code) if option != OPT_EXPORT_NAME => {
                        tracing::debug!(peer = self.peer, "{name}: {e}");
                        self.error(option, code, &e.to_string());
                        Ok(Step::Continue)
                    }
                    _ => Err(e.into()),
                };
            }
        };
        match parsed {
            ClientOption::ExportName(export) => self.export_name(&export),
            ClientOption::Abort => {
                self.out.extend(encode_option_ack(option));
                Ok(Step::Done(Outcome::Aborted))
            }
            ClientOption::List => {
                for export in self.ctx.exports.iter() {
                    match encode_rep_server(&export.name, export.description.as_deref()) {
                        Ok(reply) => self.out.extend(reply),
                        Err(e) => tracing::warn!(export = %export.name, "cannot list export: {e}"),
                    }
                }
                self.out.extend(encode_option_ack(option));
                Ok(Step::Continue)
            }
            ClientOption::StructuredReply => {
                self.structured = true;
                self.out.extend(encode_option_ack(option));
                Ok(Step::Continue)
            }
            ClientOption::Info { name, requests } | ClientOption::Go { name, requests } => {
                self.info_or_go(option, &name, &requests)
            }
            ClientOption::StartTls => {
                self.error(option, REP_ERR_UNSUP, "TLS is not supported by this server");
                Ok(Step::Continue)
            }
            ClientOption::ListMetaContext { name, queries } => {
                self.meta_context(option, MetaQueryMode::List, &name, &queries);
                Ok(Step::Continue)
            }
            ClientOption::SetMetaContext { name, queries } => {
                self.meta_context(option, MetaQueryMode::Set, &name, &queries);
                Ok(Step::Continue)
            }
            ClientOption::Unknown { code } => {
                self.error(option, REP_ERR_UNSUP, &format!("option {code} is not supported"));
                Ok(Step::Continue)
            }
        }
    }

    fn error(&mut self, option: u32, code: u32, message: &str) {
        self.out.extend(encode_option_error(option, code, Some(message)));
    }

    /// `NBD_OPT_LIST_META_CONTEXT` / `NBD_OPT_SET_META_CONTEXT` for export `name`: one
    /// `NBD_REP_META_CONTEXT` per context the queries match, then `NBD_REP_ACK`. A `SET`
    /// replaces the selection even when it fails. Both need structured replies first.
    fn meta_context(&mut self, option: u32, mode: MetaQueryMode, name: &str, queries: &[String]) {
        if mode == MetaQueryMode::Set {
            self.meta_export = None;
        }
        if !self.structured {
            let message = "metadata contexts need structured replies: send NBD_OPT_STRUCTURED_REPLY first";
            return self.error(option, REP_ERR_INVALID, message);
        }
        let Some(export) = self.ctx.exports.find(name) else {
            let message = format!("no export named {name:?} (exports: {})", self.ctx.exports.names());
            return self.error(option, REP_ERR_UNKNOWN, &message);
        };
        let chosen = match select_meta_contexts(mode, queries, &CONTEXTS) {
            Ok(chosen) => chosen,
            Err(e) => return self.error(option, REP_ERR_INVALID, &e.to_string()),
        };
        // A list carries no ids (the spec asks for 0); a selection the one it uses.
        let id = if mode == MetaQueryMode::Set { BASE_ALLOCATION_ID } else { 0 };
        for context in &chosen {
            match encode_rep_meta_context(option, id, context) {
                Ok(reply) => self.out.extend(reply),
                Err(e) => tracing::warn!(context, "cannot send a metadata context: {e}"),
            }
        }
        if mode == MetaQueryMode::Set && !chosen.is_empty() {
            self.meta_export = Some(Arc::clone(export));
        }
        tracing::debug!(peer = self.peer, export = %export.name, ?mode, ?queries, ?chosen, "metadata contexts");
        self.out.extend(encode_option_ack(option));
    }

    fn open(&self, export: &Arc<Export>) -> Result<Session, IoError> {
        let handle = export.open(&self.ctx.manager)?;
        // The selection holds for the export it named (the default export by either name).
        let selected = self.meta_export.as_ref().is_some_and(|e| Arc::ptr_eq(e, export));
        let block_status = selected.then_some(BASE_ALLOCATION_ID);
        Ok(Session { export: Arc::clone(export), handle, structured: self.structured, block_status })
    }

    /// `NBD_OPT_EXPORT_NAME` cannot be refused with an error reply: an unknown export
    /// closes the connection.
    fn export_name(&mut self, name: &str) -> Result<Step, HandshakeError> {
        let Some(export) = self.ctx.exports.find(name) else {
            return Err(HandshakeError::UnknownExport(name.to_owned()));
        };
        let session =
            self.open(export).map_err(|source| HandshakeError::Open { name: name.to_owned(), source })?;
        let flags = export.transmission_flags();
        self.out.extend(encode_export_name_reply(export.size, flags, self.no_zeroes));
        // Structured replies are negotiated with NBD_OPT_GO's clients only in practice, but
        // the option may precede NBD_OPT_EXPORT_NAME too.
        Ok(Step::Done(Outcome::Transmission(session)))
    }

    fn info_or_go(&mut self, option: u32, name: &str, requests: &[u16]) -> Result<Step, HandshakeError> {
        let Some(export) = self.ctx.exports.find(name) else {
            let message = format!("no export named {name:?} (exports: {})", self.ctx.exports.names());
            self.error(option, REP_ERR_UNKNOWN, &message);
            return Ok(Step::Continue);
        };
        let export = Arc::clone(export);
        self.out.extend(encode_info_export(option, export.size, export.transmission_flags()));
        if requests.contains(&INFO_NAME) {
            match encode_info_name(option, &export.name) {
                Ok(reply) => self.out.extend(reply),
                Err(e) => tracing::warn!(export = %export.name, "cannot send the export name: {e}"),
            }
        }
        if requests.contains(&INFO_DESCRIPTION)
            && let Some(text) = &export.description
        {
            let info = OptionReply::Info(InfoReply::Description(text.clone()));
            match info.encode(option) {
                Ok(reply) => self.out.extend(reply),
                Err(e) => tracing::warn!(export = %export.name, "cannot send the description: {e}"),
            }
        }
        // Sent even when not asked for (the spec allows it): clients that understand it
        // learn the preferred and maximum sizes.
        self.out.extend(encode_info_block_size(option, export.block_size()));
        if option != OPT_GO {
            self.out.extend(encode_option_ack(option));
            return Ok(Step::Continue);
        }
        if export.min_block > 1 && !requests.contains(&INFO_BLOCK_SIZE) {
            let message = format!("this export needs {}-byte aligned requests", export.min_block);
            self.error(option, REP_ERR_BLOCK_SIZE_REQD, &message);
            return Ok(Step::Continue);
        }
        match self.open(&export) {
            Ok(session) => {
                self.out.extend(encode_option_ack(option));
                Ok(Step::Done(Outcome::Transmission(session)))
            }
            Err(IoError::ShutDown) => {
                self.error(option, REP_ERR_SHUTDOWN, "the server is shutting down");
                Ok(Step::Continue)
            }
            Err(e) => {
                tracing::warn!(peer = self.peer, export = %export.name, "cannot open the export: {e}");
                self.error(option, REP_ERR_UNKNOWN, &format!("cannot open the export: {e}"));
                Ok(Step::Continue)
            }
        }
    }
}
