//! Protocol constants, named as in the NBD specification minus the `NBD_` prefix
//! (`NBD_OPT_GO` is [`OPT_GO`]); every constant carries its spec name as a doc alias.
//!
//! Flags are bit masks, numbered in network byte order as the spec does.

macro_rules! consts {
    // A group of values with a lookup from value to spec name.
    ($(#[$fdoc:meta])* fn $fname:ident($ty:ty) { $( $(#[$doc:meta])* $name:ident = $value:expr, $spec:literal; )* }) => {
        consts!($ty { $( $(#[$doc])* $name = $value, $spec; )* });
        $(#[$fdoc])*
        pub fn $fname(value: $ty) -> Option<&'static str> {
            match value {
                $( $name => Some($spec), )*
                _ => None,
            }
        }
    };
    // A group of values (or flag bits) without a lookup.
    ($ty:ty { $( $(#[$doc:meta])* $name:ident = $value:expr, $spec:literal; )* }) => {
        $( $(#[$doc])* #[doc(alias = $spec)] pub const $name: $ty = $value; )*
    };
}

// ---- Magic numbers ----------------------------------------------------------------------------

consts!(u64 {
    /// First 8 bytes of the server greeting: ASCII `NBDMAGIC` (also known as `INIT_PASSWD`).
    NBDMAGIC = 0x4e42_444d_4147_4943, "INIT_PASSWD";
    /// Second 8 bytes of the newstyle greeting and the start of every client option: ASCII `IHAVEOPT`.
    IHAVEOPT = 0x4948_4156_454f_5054, "NBD_OPTS_MAGIC";
    /// Start of every option reply in fixed newstyle negotiation.
    OPTION_REPLY_MAGIC = 0x0003_e889_0455_65a9, "NBD_REP_MAGIC";
});

consts!(u32 {
    /// Start of every transmission-phase request.
    REQUEST_MAGIC = 0x2560_9513, "NBD_REQUEST_MAGIC";
    /// Start of every simple reply.
    SIMPLE_REPLY_MAGIC = 0x6744_6698, "NBD_SIMPLE_REPLY_MAGIC";
    /// Start of every structured reply chunk.
    STRUCTURED_REPLY_MAGIC = 0x668e_33ef, "NBD_STRUCTURED_REPLY_MAGIC";
});

// ---- Handshake flags (16 bits, server) and client flags (32 bits) -----------------------------

consts!(u16 {
    /// The server speaks fixed newstyle negotiation.
    FLAG_FIXED_NEWSTYLE = 1 << 0, "NBD_FLAG_FIXED_NEWSTYLE";
    /// The server can omit the 124 zero bytes after `NBD_OPT_EXPORT_NAME`.
    FLAG_NO_ZEROES = 1 << 1, "NBD_FLAG_NO_ZEROES";
});

consts!(u32 {
    /// The client speaks fixed newstyle negotiation.
    FLAG_C_FIXED_NEWSTYLE = 1 << 0, "NBD_FLAG_C_FIXED_NEWSTYLE";
    /// The client asks the server to omit the 124 zero bytes after `NBD_OPT_EXPORT_NAME`.
    FLAG_C_NO_ZEROES = 1 << 1, "NBD_FLAG_C_NO_ZEROES";
});

// ---- Transmission flags (16 bits) -------------------------------------------------------------

consts!(u16 {
    /// Always set.
    FLAG_HAS_FLAGS = 1 << 0, "NBD_FLAG_HAS_FLAGS";
    /// The export is read-only: writes, trims and write-zeroes fail with [`EPERM`].
    FLAG_READ_ONLY = 1 << 1, "NBD_FLAG_READ_ONLY";
    /// The server supports `NBD_CMD_FLUSH`.
    FLAG_SEND_FLUSH = 1 << 2, "NBD_FLAG_SEND_FLUSH";
    /// The server supports `NBD_CMD_FLAG_FUA`.
    FLAG_SEND_FUA = 1 << 3, "NBD_FLAG_SEND_FUA";
    /// The export behaves like a rotational medium (a scheduling hint).
    FLAG_ROTATIONAL = 1 << 4, "NBD_FLAG_ROTATIONAL";
    /// The server supports `NBD_CMD_TRIM`.
    FLAG_SEND_TRIM = 1 << 5, "NBD_FLAG_SEND_TRIM";
    /// The server supports `NBD_CMD_WRITE_ZEROES` and `NBD_CMD_FLAG_NO_HOLE`.
    FLAG_SEND_WRITE_ZEROES = 1 << 6, "NBD_FLAG_SEND_WRITE_ZEROES";
    /// The server supports `NBD_CMD_FLAG_DF` on reads (structured replies only).
    FLAG_SEND_DF = 1 << 7, "NBD_FLAG_SEND_DF";
    /// Flush and FUA effects are visible on every connection when they are acknowledged.
    FLAG_CAN_MULTI_CONN = 1 << 8, "NBD_FLAG_CAN_MULTI_CONN";
    /// The server supports `NBD_CMD_RESIZE` (experimental).
    FLAG_SEND_RESIZE = 1 << 9, "NBD_FLAG_SEND_RESIZE";
    /// The server understands `NBD_CMD_CACHE`.
    FLAG_SEND_CACHE = 1 << 10, "NBD_FLAG_SEND_CACHE";
    /// The server supports `NBD_CMD_FLAG_FAST_ZERO` on write-zeroes.
    FLAG_SEND_FAST_ZERO = 1 << 11, "NBD_FLAG_SEND_FAST_ZERO";
});

// ---- Options and option replies ---------------------------------------------------------------

consts! {
    /// The spec name (`NBD_OPT_...`) of an option code.
    fn option_name(u32) {
        /// Choose an export and enter transmission (cannot report errors).
        OPT_EXPORT_NAME = 1, "NBD_OPT_EXPORT_NAME";
        /// End the negotiation (soft disconnect).
        OPT_ABORT = 2, "NBD_OPT_ABORT";
        /// List the exports.
        OPT_LIST = 3, "NBD_OPT_LIST";
        /// Upgrade the connection to TLS.
        OPT_STARTTLS = 5, "NBD_OPT_STARTTLS";
        /// Ask about an export without entering transmission.
        OPT_INFO = 6, "NBD_OPT_INFO";
        /// Ask about an export and enter transmission.
        OPT_GO = 7, "NBD_OPT_GO";
        /// Use structured replies in transmission.
        OPT_STRUCTURED_REPLY = 8, "NBD_OPT_STRUCTURED_REPLY";
        /// List metadata contexts.
        OPT_LIST_META_CONTEXT = 9, "NBD_OPT_LIST_META_CONTEXT";
        /// Select metadata contexts for `NBD_CMD_BLOCK_STATUS`.
        OPT_SET_META_CONTEXT = 10, "NBD_OPT_SET_META_CONTEXT";
    }
}

consts! {
    /// The spec name (`NBD_REP_...`) of an option reply type.
    fn option_reply_name(u32) {
        /// The option succeeded, or a list of replies has ended.
        REP_ACK = 1, "NBD_REP_ACK";
        /// One export in the reply to `NBD_OPT_LIST`.
        REP_SERVER = 2, "NBD_REP_SERVER";
        /// One piece of information in the reply to `NBD_OPT_INFO` / `NBD_OPT_GO`.
        REP_INFO = 3, "NBD_REP_INFO";
        /// One metadata context.
        REP_META_CONTEXT = 4, "NBD_REP_META_CONTEXT";
        /// The option is unknown to the server.
        REP_ERR_UNSUP = (1 << 31) + 1, "NBD_REP_ERR_UNSUP";
        /// Server policy forbids the option.
        REP_ERR_POLICY = (1 << 31) + 2, "NBD_REP_ERR_POLICY";
        /// The option is syntactically or semantically invalid.
        REP_ERR_INVALID = (1 << 31) + 3, "NBD_REP_ERR_INVALID";
        /// The option is not supported on this platform.
        REP_ERR_PLATFORM = (1 << 31) + 4, "NBD_REP_ERR_PLATFORM";
        /// TLS must be negotiated first.
        REP_ERR_TLS_REQD = (1 << 31) + 5, "NBD_REP_ERR_TLS_REQD";
        /// The requested export is not available.
        REP_ERR_UNKNOWN = (1 << 31) + 6, "NBD_REP_ERR_UNKNOWN";
        /// The server is shutting down.
        REP_ERR_SHUTDOWN = (1 << 31) + 7, "NBD_REP_ERR_SHUTDOWN";
        /// The client must request `NBD_INFO_BLOCK_SIZE` before `NBD_OPT_GO`.
        REP_ERR_BLOCK_SIZE_REQD = (1 << 31) + 8, "NBD_REP_ERR_BLOCK_SIZE_REQD";
        /// The request or the reply is too large.
        REP_ERR_TOO_BIG = (1 << 31) + 9, "NBD_REP_ERR_TOO_BIG";
    }
}

/// Bit 31 marks an option reply type as an error.
pub const REP_FLAG_ERROR: u32 = 1 << 31;

consts!(u16 {
    /// Export size and transmission flags (mandatory before `NBD_REP_ACK`).
    INFO_EXPORT = 0, "NBD_INFO_EXPORT";
    /// The canonical export name.
    INFO_NAME = 1, "NBD_INFO_NAME";
    /// A human-readable export description.
    INFO_DESCRIPTION = 2, "NBD_INFO_DESCRIPTION";
    /// Minimum, preferred and maximum block sizes.
    INFO_BLOCK_SIZE = 3, "NBD_INFO_BLOCK_SIZE";
});

// ---- Commands and command flags ---------------------------------------------------------------

consts! {
    /// The spec name (`NBD_CMD_...`) of a command.
    fn command_name(u16) {
        /// Read `length` bytes at `offset`.
        CMD_READ = 0, "NBD_CMD_READ";
        /// Write the `length` bytes that follow the request.
        CMD_WRITE = 1, "NBD_CMD_WRITE";
        /// Disconnect (no reply).
        CMD_DISC = 2, "NBD_CMD_DISC";
        /// Make every acknowledged write durable.
        CMD_FLUSH = 3, "NBD_CMD_FLUSH";
        /// Discard a range (a hint).
        CMD_TRIM = 4, "NBD_CMD_TRIM";
        /// Prefetch a range (a hint).
        CMD_CACHE = 5, "NBD_CMD_CACHE";
        /// Write zeroes to a range without a payload.
        CMD_WRITE_ZEROES = 6, "NBD_CMD_WRITE_ZEROES";
        /// Query the allocation status of a range.
        CMD_BLOCK_STATUS = 7, "NBD_CMD_BLOCK_STATUS";
        /// Resize the export (experimental).
        CMD_RESIZE = 8, "NBD_CMD_RESIZE";
    }
}

consts!(u16 {
    /// Force unit access: do not reply until the data is durable.
    CMD_FLAG_FUA = 1 << 0, "NBD_CMD_FLAG_FUA";
    /// Write-zeroes must not punch a hole.
    CMD_FLAG_NO_HOLE = 1 << 1, "NBD_CMD_FLAG_NO_HOLE";
    /// Do not fragment the structured reply to a read.
    CMD_FLAG_DF = 1 << 2, "NBD_CMD_FLAG_DF";
    /// Block status: one extent per context is enough.
    CMD_FLAG_REQ_ONE = 1 << 3, "NBD_CMD_FLAG_REQ_ONE";
    /// Write-zeroes: fail with [`ENOTSUP`] unless it is faster than a write.
    CMD_FLAG_FAST_ZERO = 1 << 4, "NBD_CMD_FLAG_FAST_ZERO";
});

// ---- Structured replies -----------------------------------------------------------------------

/// The last chunk of a structured reply.
#[doc(alias = "NBD_REPLY_FLAG_DONE")]
pub const REPLY_FLAG_DONE: u16 = 1 << 0;

/// Bit 15 marks a structured reply type as an error chunk.
pub const REPLY_TYPE_FLAG_ERROR: u16 = 1 << 15;

consts! {
    /// The spec name (`NBD_REPLY_TYPE_...`) of a structured reply chunk type.
    fn reply_type_name(u16) {
        /// No payload; ends a reply.
        REPLY_TYPE_NONE = 0, "NBD_REPLY_TYPE_NONE";
        /// 8-byte offset followed by data.
        REPLY_TYPE_OFFSET_DATA = 1, "NBD_REPLY_TYPE_OFFSET_DATA";
        /// 8-byte offset and 4-byte size of a range that reads as zeroes.
        REPLY_TYPE_OFFSET_HOLE = 2, "NBD_REPLY_TYPE_OFFSET_HOLE";
        /// Context id followed by (length, status) extents.
        REPLY_TYPE_BLOCK_STATUS = 5, "NBD_REPLY_TYPE_BLOCK_STATUS";
        /// Error, message length, message.
        REPLY_TYPE_ERROR = (1 << 15) + 1, "NBD_REPLY_TYPE_ERROR";
        /// Error, message length, message, offset.
        REPLY_TYPE_ERROR_OFFSET = (1 << 15) + 2, "NBD_REPLY_TYPE_ERROR_OFFSET";
    }
}

// ---- Metadata contexts --------------------------------------------------------------------------

/// The one metadata context the spec defines: whether extents are allocated at all, and
/// whether they read as zeroes.
pub const BASE_ALLOCATION: &str = "base:allocation";

consts!(u32 {
    /// `base:allocation`: the extent is a hole (not allocated in the backing storage).
    STATE_HOLE = 1 << 0, "NBD_STATE_HOLE";
    /// `base:allocation`: the extent reads as zeroes.
    STATE_ZERO = 1 << 1, "NBD_STATE_ZERO";
});

/// The most descriptors a block status chunk should carry (the spec's "SHOULD NOT send
/// more than 2^20"); [`encode_block_status_chunk`](crate::transmission::encode_block_status_chunk)
/// refuses more.
pub const MAX_BLOCK_STATUS_EXTENTS: usize = 1 << 20;

// ---- Error values -----------------------------------------------------------------------------

consts! {
    /// The spec name (`NBD_E...`) of an error value.
    fn error_name(u32) {
        /// Operation not permitted (write to a read-only export).
        EPERM = 1, "NBD_EPERM";
        /// Input/output error.
        EIO = 5, "NBD_EIO";
        /// Cannot allocate memory (servers should avoid it).
        ENOMEM = 12, "NBD_ENOMEM";
        /// Invalid argument (bad flags, unknown command, read past the end, ...).
        EINVAL = 22, "NBD_EINVAL";
        /// No space left on device (write past the end).
        ENOSPC = 28, "NBD_ENOSPC";
        /// Value too large.
        EOVERFLOW = 75, "NBD_EOVERFLOW";
        /// Operation not supported (only for `NBD_CMD_FLAG_FAST_ZERO`).
        ENOTSUP = 95, "NBD_ENOTSUP";
        /// The server is shutting down.
        ESHUTDOWN = 108, "NBD_ESHUTDOWN";
    }
}

// ---- Limits (ours, within what the spec allows) ------------------------------------------------

/// The longest string (export name, message) the spec allows, in bytes.
pub const MAX_STRING_LEN: usize = 4096;

/// The largest option data (or option reply data) this crate accepts. The longest
/// legitimate option is a metadata-context request with a few queries of up to
/// [`MAX_STRING_LEN`] bytes each; anything larger is treated as a denial of service
/// and ends the connection ([`ProtocolError::OptionTooLarge`](crate::ProtocolError::OptionTooLarge)).
pub const MAX_OPTION_DATA: u32 = 64 * 1024;

/// The default maximum payload of a read or write request: 2^25 bytes (32 MiB), the
/// value the spec tells servers to support when nothing else was advertised.
pub const DEFAULT_MAX_PAYLOAD: u32 = 1 << 25;

/// Payloads up to this size SHOULD NOT be treated as a denial of service even when they
/// exceed the advertised maximum (spec, "Size constraints"). A refused write at most this
/// large (or at most the advertised maximum, if larger) has its payload read and discarded.
pub const DISCARD_PAYLOAD_LIMIT: u32 = 1 << 25;

/// The size of the fixed newstyle server greeting: `NBDMAGIC`, `IHAVEOPT`, 16-bit flags.
pub const SERVER_GREETING_LEN: usize = 18;
/// The size of a client option header: `IHAVEOPT`, option, length.
pub const OPTION_HEADER_LEN: usize = 16;
/// The size of an option reply header: magic, option, reply type, length.
pub const OPTION_REPLY_HEADER_LEN: usize = 20;
/// The size of a request header.
pub const REQUEST_HEADER_LEN: usize = 28;
/// The size of a simple reply header.
pub const SIMPLE_REPLY_LEN: usize = 16;
/// The size of a structured reply chunk header.
pub const STRUCTURED_REPLY_HEADER_LEN: usize = 20;
/// The size of the reply to `NBD_OPT_EXPORT_NAME` without its 124 trailing zero bytes.
pub const EXPORT_NAME_REPLY_LEN: usize = 10;
/// The zero padding after the reply to `NBD_OPT_EXPORT_NAME` unless `NO_ZEROES` was negotiated.
pub const EXPORT_NAME_REPLY_ZEROES: usize = 124;
