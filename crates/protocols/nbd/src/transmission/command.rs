//! Validating a request header against the export: [`Command::classify`].

use crate::consts::{
    CMD_BLOCK_STATUS, CMD_CACHE, CMD_DISC, CMD_FLAG_DF, CMD_FLAG_FAST_ZERO, CMD_FLAG_FUA, CMD_FLAG_NO_HOLE,
    CMD_FLAG_REQ_ONE, CMD_FLUSH, CMD_READ, CMD_TRIM, CMD_WRITE, CMD_WRITE_ZEROES, DEFAULT_MAX_PAYLOAD,
    DISCARD_PAYLOAD_LIMIT, FLAG_READ_ONLY, FLAG_SEND_DF, FLAG_SEND_FAST_ZERO, FLAG_SEND_FLUSH, FLAG_SEND_FUA,
    FLAG_SEND_TRIM, FLAG_SEND_WRITE_ZEROES,
};
use crate::error::{PayloadAction, RequestError, RequestErrorKind};
use crate::transmission::RequestHeader;

/// What the server told the client about the export: the limits requests are checked
/// against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportLimits {
    /// Export size in bytes.
    pub size: u64,
    /// The transmission flags sent to the client (`FLAG_...`): they decide which commands
    /// and command flags are accepted, and `FLAG_READ_ONLY` refuses writes.
    pub transmission_flags: u16,
    /// Maximum length of a read or write ([`DEFAULT_MAX_PAYLOAD`] unless advertised
    /// otherwise with `NBD_INFO_BLOCK_SIZE`).
    pub max_payload: u32,
    /// Minimum block size: offsets and lengths must be multiples of it (1 unless
    /// advertised otherwise; 0 is treated as 1).
    pub min_block: u32,
}

impl ExportLimits {
    /// Limits for an export of `size` bytes with the given transmission flags, the
    /// default maximum payload (32 MiB) and no alignment constraint.
    pub fn new(size: u64, transmission_flags: u16) -> Self {
        ExportLimits { size, transmission_flags, max_payload: DEFAULT_MAX_PAYLOAD, min_block: 1 }
    }

    fn has(&self, flag: u16) -> bool {
        self.transmission_flags & flag != 0
    }
}

/// A validated request.
///
/// Commands without a range (`Disc`, `Flush`) ignore offset and length. `NBD_CMD_FLAG_FUA`
/// is accepted on every command when `FLAG_SEND_FUA` was advertised, as the spec
/// requires, but only kept where it means something (writes, trims, write-zeroes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Read `length` bytes at `offset`.
    Read {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        length: u32,
        /// `NBD_CMD_FLAG_DF`: send at most one content chunk (structured replies only).
        df: bool,
    },
    /// Write the `length` bytes of payload that follow the header at `offset`.
    Write {
        /// Start of the range.
        offset: u64,
        /// Length of the range and of the payload.
        length: u32,
        /// `NBD_CMD_FLAG_FUA`: reply only once the data is durable.
        fua: bool,
    },
    /// `NBD_CMD_DISC`: finish outstanding requests and close; there is no reply. Always
    /// accepted, whatever its flags, offset and length.
    Disc,
    /// `NBD_CMD_FLUSH`: reply once every acknowledged write is durable.
    Flush,
    /// `NBD_CMD_TRIM`: the range may be discarded.
    Trim {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        length: u32,
        /// `NBD_CMD_FLAG_FUA`.
        fua: bool,
    },
    /// `NBD_CMD_CACHE`: prefetch hint. Accepted without `FLAG_SEND_CACHE`, since clients
    /// are known to send it anyway.
    Cache {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        length: u32,
    },
    /// `NBD_CMD_WRITE_ZEROES`: the range must read back as zeroes.
    WriteZeroes {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        length: u32,
        /// `NBD_CMD_FLAG_FUA`.
        fua: bool,
        /// `NBD_CMD_FLAG_NO_HOLE`: allocate, do not punch a hole.
        no_hole: bool,
        /// `NBD_CMD_FLAG_FAST_ZERO`: fail with `ENOTSUP` unless faster than a write.
        fast_zero: bool,
    },
    /// `NBD_CMD_BLOCK_STATUS`. The server must still refuse it with `EINVAL` unless the
    /// client selected a metadata context during the handshake: this layer cannot know.
    BlockStatus {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        length: u32,
        /// `NBD_CMD_FLAG_REQ_ONE`: one extent per context is enough.
        req_one: bool,
    },
}

impl Command {
    /// Validates a request header against the export, in this order:
    ///
    /// 1. unknown command (also the experimental `NBD_CMD_RESIZE`) → `EINVAL`;
    /// 2. write, trim or write-zeroes on a read-only export → `EPERM` (the spec's
    ///    "SHOULD return `EPERM` if it receives a write or trim request on a read-only
    ///    export", though a read-only export advertises neither trim nor write-zeroes);
    /// 3. flush, trim or write-zeroes not advertised → `EINVAL`;
    /// 4. command flags not valid for the command or not advertised → `EINVAL`;
    /// 5. flush with nonzero offset or length → `EINVAL`;
    /// 6. read or write longer than `max_payload` → `EINVAL`;
    /// 7. `offset + length` past the end (or overflowing) → `ENOSPC` for write and
    ///    write-zeroes, `EINVAL` for the others;
    /// 8. offset or length not a multiple of `min_block` → `EINVAL`.
    ///
    /// On success the caller reads [`Command::payload_len`] bytes of payload. On error it
    /// handles [`RequestError::payload`] first, then replies with [`RequestError::errno`].
    pub fn classify(header: &RequestHeader, limits: &ExportLimits) -> Result<Command, RequestError> {
        let fail =
            |kind| Err(RequestError { cookie: header.cookie, kind, payload: payload_action(header, limits) });
        let RequestHeader { flags, command, offset, length, .. } = *header;

        let fua = if limits.has(FLAG_SEND_FUA) { CMD_FLAG_FUA } else { 0 };
        let (allowed, advertised) = match command {
            CMD_DISC => return Ok(Command::Disc),
            CMD_READ => (fua | if limits.has(FLAG_SEND_DF) { CMD_FLAG_DF } else { 0 }, true),
            CMD_WRITE | CMD_CACHE => (fua, true),
            CMD_FLUSH => (fua, limits.has(FLAG_SEND_FLUSH)),
            CMD_TRIM => (fua, limits.has(FLAG_SEND_TRIM)),
            CMD_WRITE_ZEROES => {
                let fast = if limits.has(FLAG_SEND_FAST_ZERO) { CMD_FLAG_FAST_ZERO } else { 0 };
                (fua | CMD_FLAG_NO_HOLE | fast, limits.has(FLAG_SEND_WRITE_ZEROES))
            }
            CMD_BLOCK_STATUS => (fua | CMD_FLAG_REQ_ONE, true),
            _ => return fail(RequestErrorKind::UnknownCommand(command)),
        };
        if matches!(command, CMD_WRITE | CMD_TRIM | CMD_WRITE_ZEROES) && limits.has(FLAG_READ_ONLY) {
            return fail(RequestErrorKind::ReadOnly(command));
        }
        if !advertised {
            return fail(RequestErrorKind::NotAdvertised(command));
        }
        if flags & !allowed != 0 {
            return fail(RequestErrorKind::BadFlags { command, flags: flags & !allowed });
        }
        if command == CMD_FLUSH {
            if offset != 0 || length != 0 {
                return fail(RequestErrorKind::FlushRange { offset, length });
            }
            return Ok(Command::Flush);
        }
        if matches!(command, CMD_READ | CMD_WRITE) && length > limits.max_payload {
            return fail(RequestErrorKind::TooLarge { command, length, max: limits.max_payload });
        }
        if offset.checked_add(length.into()).is_none_or(|end| end > limits.size) {
            return fail(RequestErrorKind::OutOfRange { command, offset, length, size: limits.size });
        }
        let min_block = limits.min_block.max(1);
        if !offset.is_multiple_of(u64::from(min_block)) || !length.is_multiple_of(min_block) {
            return fail(RequestErrorKind::Misaligned { command, offset, length, min_block });
        }

        let has = |flag: u16| flags & flag != 0;
        Ok(match command {
            CMD_READ => Command::Read { offset, length, df: has(CMD_FLAG_DF) },
            CMD_WRITE => Command::Write { offset, length, fua: has(CMD_FLAG_FUA) },
            CMD_TRIM => Command::Trim { offset, length, fua: has(CMD_FLAG_FUA) },
            CMD_CACHE => Command::Cache { offset, length },
            CMD_WRITE_ZEROES => Command::WriteZeroes {
                offset,
                length,
                fua: has(CMD_FLAG_FUA),
                no_hole: has(CMD_FLAG_NO_HOLE),
                fast_zero: has(CMD_FLAG_FAST_ZERO),
            },
            _ => Command::BlockStatus { offset, length, req_one: has(CMD_FLAG_REQ_ONE) },
        })
    }

    /// Payload bytes following the header: `length` for writes, 0 otherwise.
    pub fn payload_len(&self) -> u32 {
        match *self {
            Command::Write { length, .. } => length,
            _ => 0,
        }
    }

    /// The request header that sends this command (client side).
    pub fn header(&self, cookie: u64) -> RequestHeader {
        let bit = |set: bool, flag: u16| if set { flag } else { 0 };
        let (command, flags, offset, length) = match *self {
            Command::Read { offset, length, df } => (CMD_READ, bit(df, CMD_FLAG_DF), offset, length),
            Command::Write { offset, length, fua } => (CMD_WRITE, bit(fua, CMD_FLAG_FUA), offset, length),
            Command::Disc => (CMD_DISC, 0, 0, 0),
            Command::Flush => (CMD_FLUSH, 0, 0, 0),
            Command::Trim { offset, length, fua } => (CMD_TRIM, bit(fua, CMD_FLAG_FUA), offset, length),
            Command::Cache { offset, length } => (CMD_CACHE, 0, offset, length),
            Command::WriteZeroes { offset, length, fua, no_hole, fast_zero } => {
                let flags = bit(fua, CMD_FLAG_FUA)
                    | bit(no_hole, CMD_FLAG_NO_HOLE)
                    | bit(fast_zero, CMD_FLAG_FAST_ZERO);
                (CMD_WRITE_ZEROES, flags, offset, length)
            }
            Command::BlockStatus { offset, length, req_one } => {
                (CMD_BLOCK_STATUS, bit(req_one, CMD_FLAG_REQ_ONE), offset, length)
            }
        };
        RequestHeader { flags, command, cookie, offset, length }
    }
}

impl RequestHeader {
    /// Shorthand for [`Command::classify`].
    pub fn classify(&self, limits: &ExportLimits) -> Result<Command, RequestError> {
        Command::classify(self, limits)
    }
}

/// What a server refusing `header` does with its payload: nothing unless it is a write;
/// a write's payload is discarded unless it is larger than both the advertised maximum
/// and [`DISCARD_PAYLOAD_LIMIT`], in which case the connection is closed.
fn payload_action(header: &RequestHeader, limits: &ExportLimits) -> PayloadAction {
    match header.payload_len() {
        0 => PayloadAction::None,
        n if n <= limits.max_payload.max(DISCARD_PAYLOAD_LIMIT) => PayloadAction::Discard(n),
        _ => PayloadAction::Disconnect,
    }
}
