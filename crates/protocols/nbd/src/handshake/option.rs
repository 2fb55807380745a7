//! Client options: the 16-byte header, the option data, and their encoders.

use crate::ProtocolError;
use crate::consts::{
    IHAVEOPT, MAX_OPTION_DATA, OPT_ABORT, OPT_EXPORT_NAME, OPT_GO, OPT_INFO, OPT_LIST, OPT_LIST_META_CONTEXT,
    OPT_SET_META_CONTEXT, OPT_STARTTLS, OPT_STRUCTURED_REPLY, OPTION_HEADER_LEN, option_name,
};
use crate::handshake::expect_magic;
use crate::wire::{Put, Reader, check_str, decode_str, len_u32};

/// The header of a client option: `IHAVEOPT`, option code, data length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionHeader {
    /// The option code (`NBD_OPT_...`), possibly unknown.
    pub option: u32,
    /// The length of the option data that follows.
    pub length: u32,
}

/// Decodes an option header from the first [`OPTION_HEADER_LEN`] bytes of `bytes`: checks
/// `IHAVEOPT` and refuses data longer than [`MAX_OPTION_DATA`]
/// ([`ProtocolError::OptionTooLarge`]). Every error here means: close the connection.
pub fn decode_option_header(bytes: &[u8]) -> Result<OptionHeader, ProtocolError> {
    let mut r = Reader::new(bytes);
    let header: [u8; OPTION_HEADER_LEN] = r.array()?;
    let mut r = Reader::new(&header);
    expect_magic(r.u64()?, IHAVEOPT)?;
    let option = r.u32()?;
    let length = r.u32()?;
    if length > MAX_OPTION_DATA {
        return Err(ProtocolError::OptionTooLarge { length, max: MAX_OPTION_DATA });
    }
    Ok(OptionHeader { option, length })
}

/// Encodes a client option: header and data. Data longer than [`MAX_OPTION_DATA`] is
/// refused, since a server using this crate would close the connection on it.
pub fn encode_option(option: u32, data: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let length = len_u32("option data", data.len())?;
    if length > MAX_OPTION_DATA {
        return Err(ProtocolError::OptionTooLarge { length, max: MAX_OPTION_DATA });
    }
    let mut out = Vec::with_capacity(OPTION_HEADER_LEN + data.len());
    out.put_u64(IHAVEOPT);
    out.put_u32(option);
    out.put_u32(length);
    out.extend_from_slice(data);
    Ok(out)
}

/// A decoded client option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOption {
    /// `NBD_OPT_EXPORT_NAME`: enter transmission with this export ("" is the default).
    ExportName(String),
    /// `NBD_OPT_ABORT`: the server replies `NBD_REP_ACK` and closes. Data sent with it is
    /// ignored, as the spec tells servers to do.
    Abort,
    /// `NBD_OPT_LIST`: one `NBD_REP_SERVER` per export, then `NBD_REP_ACK`.
    List,
    /// `NBD_OPT_STARTTLS`: a server without TLS replies `NBD_REP_ERR_UNSUP` or `_POLICY`.
    StartTls,
    /// `NBD_OPT_INFO`: describe an export.
    Info {
        /// The export name ("" is the default export).
        name: String,
        /// The `NBD_INFO_...` items the client asks for.
        requests: Vec<u16>,
    },
    /// `NBD_OPT_GO`: describe an export and, on `NBD_REP_ACK`, enter transmission.
    Go {
        /// The export name ("" is the default export).
        name: String,
        /// The `NBD_INFO_...` items the client asks for.
        requests: Vec<u16>,
    },
    /// `NBD_OPT_STRUCTURED_REPLY`: use structured replies in transmission.
    StructuredReply,
    /// `NBD_OPT_LIST_META_CONTEXT`: list metadata contexts matching the queries.
    ListMetaContext {
        /// The export name.
        name: String,
        /// The queries (`namespace:leaf`).
        queries: Vec<String>,
    },
    /// `NBD_OPT_SET_META_CONTEXT`: select metadata contexts for `NBD_CMD_BLOCK_STATUS`.
    SetMetaContext {
        /// The export name.
        name: String,
        /// The queries (`namespace:leaf`).
        queries: Vec<String>,
    },
    /// An option this crate does not know: the server replies `NBD_REP_ERR_UNSUP`.
    Unknown {
        /// The option code.
        code: u32,
    },
}

/// Parses option data, given the option code from the [`OptionHeader`].
///
/// Malformed data is [`ProtocolError::InvalidOption`] or [`ProtocolError::InvalidString`],
/// both answered with `NBD_REP_ERR_INVALID` (see [`ProtocolError::option_reply_error`]):
/// data on `LIST`, `STARTTLS` or `STRUCTURED_REPLY`; an `INFO`/`GO` whose name length or
/// number of information requests does not match the data length; names that are not
/// UTF-8, contain NUL or exceed 4096 bytes. After `NBD_OPT_EXPORT_NAME` the server cannot
/// reply and must close the connection instead. Duplicate information requests (which
/// clients MUST NOT send) are kept as sent; the server may simply answer each once.
pub fn parse_option(option: u32, data: &[u8]) -> Result<ClientOption, ProtocolError> {
    let length = len_u32("option data", data.len())?;
    if length > MAX_OPTION_DATA {
        return Err(ProtocolError::OptionTooLarge { length, max: MAX_OPTION_DATA });
    }
    parse_data(option, data).map_err(|e| match e {
        ProtocolError::TooShort { needed, got } => ProtocolError::InvalidOption(format!(
            "{}: data of {got} bytes, needed {needed}",
            option_name(option).unwrap_or("option")
        )),
        e => e,
    })
}

fn parse_data(option: u32, data: &[u8]) -> Result<ClientOption, ProtocolError> {
    let no_data = |opt: ClientOption| {
        if data.is_empty() {
            Ok(opt)
        } else {
            Err(ProtocolError::InvalidOption(format!(
                "{} takes no data, got {} bytes",
                option_name(option).unwrap_or("option"),
                data.len()
            )))
        }
    };
    match option {
        OPT_EXPORT_NAME => Ok(ClientOption::ExportName(decode_str(data)?)),
        OPT_ABORT => Ok(ClientOption::Abort),
        OPT_LIST => no_data(ClientOption::List),
        OPT_STARTTLS => no_data(ClientOption::StartTls),
        OPT_STRUCTURED_REPLY => no_data(ClientOption::StructuredReply),
        OPT_INFO | OPT_GO => {
            let mut r = Reader::new(data);
            let name = read_name(&mut r)?;
            let count = usize::from(r.u16()?);
            if r.remaining() != count * 2 {
                return Err(ProtocolError::InvalidOption(format!(
                    "{count} information requests need {} bytes, {} left",
                    count * 2,
                    r.remaining()
                )));
            }
            let requests = r.rest().chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            Ok(if option == OPT_INFO {
                ClientOption::Info { name, requests }
            } else {
                ClientOption::Go { name, requests }
            })
        }
        OPT_LIST_META_CONTEXT | OPT_SET_META_CONTEXT => {
            let mut r = Reader::new(data);
            let name = read_name(&mut r)?;
            let count = r.u32()?;
            // Each query takes at least its 4-byte length: bound the count by the data
            // before trusting it.
            if u64::from(count) * 4 > r.remaining() as u64 {
                return Err(ProtocolError::InvalidOption(format!("{count} queries cannot fit the data")));
            }
            let mut queries = Vec::new();
            for _ in 0..count {
                queries.push(read_name(&mut r)?);
            }
            if r.remaining() != 0 {
                return Err(ProtocolError::InvalidOption(format!(
                    "{} bytes after the queries",
                    r.remaining()
                )));
            }
            Ok(if option == OPT_LIST_META_CONTEXT {
                ClientOption::ListMetaContext { name, queries }
            } else {
                ClientOption::SetMetaContext { name, queries }
            })
        }
        code => Ok(ClientOption::Unknown { code }),
    }
}

/// A 32-bit length followed by a string of that length.
fn read_name(r: &mut Reader<'_>) -> Result<String, ProtocolError> {
    let len = r.u32()?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    decode_str(r.bytes(len)?)
}

fn put_name(out: &mut Vec<u8>, name: &str) -> Result<(), ProtocolError> {
    check_str(name)?;
    out.put_u32(len_u32("name", name.len())?);
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

fn export_request_data(name: &str, requests: &[u16]) -> Result<Vec<u8>, ProtocolError> {
    let count = u16::try_from(requests.len())
        .map_err(|_| ProtocolError::TooLong { what: "information request list", length: requests.len() })?;
    let mut data = Vec::with_capacity(6 + name.len() + 2 * requests.len());
    put_name(&mut data, name)?;
    data.put_u16(count);
    for &request in requests {
        data.put_u16(request);
    }
    Ok(data)
}

/// Encodes `NBD_OPT_GO` for an export with a list of `NBD_INFO_...` requests.
pub fn encode_go(name: &str, info_requests: &[u16]) -> Result<Vec<u8>, ProtocolError> {
    encode_option(OPT_GO, &export_request_data(name, info_requests)?)
}

impl ClientOption {
    /// The option code (`NBD_OPT_...`).
    pub fn code(&self) -> u32 {
        match self {
            ClientOption::ExportName(_) => OPT_EXPORT_NAME,
            ClientOption::Abort => OPT_ABORT,
            ClientOption::List => OPT_LIST,
            ClientOption::StartTls => OPT_STARTTLS,
            ClientOption::Info { .. } => OPT_INFO,
            ClientOption::Go { .. } => OPT_GO,
            ClientOption::StructuredReply => OPT_STRUCTURED_REPLY,
            ClientOption::ListMetaContext { .. } => OPT_LIST_META_CONTEXT,
            ClientOption::SetMetaContext { .. } => OPT_SET_META_CONTEXT,
            ClientOption::Unknown { code } => *code,
        }
    }

    /// Encodes the option data (without the header).
    pub fn encode_data(&self) -> Result<Vec<u8>, ProtocolError> {
        match self {
            ClientOption::ExportName(name) => {
                check_str(name)?;
                Ok(name.as_bytes().to_vec())
            }
            ClientOption::Abort
            | ClientOption::List
            | ClientOption::StartTls
            | ClientOption::StructuredReply
            | ClientOption::Unknown { .. } => Ok(Vec::new()),
            ClientOption::Info { name, requests } | ClientOption::Go { name, requests } => {
                export_request_data(name, requests)
            }
            ClientOption::ListMetaContext { name, queries }
            | ClientOption::SetMetaContext { name, queries } => {
                let mut data = Vec::new();
                put_name(&mut data, name)?;
                data.put_u32(len_u32("query list", queries.len())?);
                for query in queries {
                    put_name(&mut data, query)?;
                }
                Ok(data)
            }
        }
    }

    /// Encodes the whole option, header and data, as the client sends it.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        encode_option(self.code(), &self.encode_data()?)
    }
}
