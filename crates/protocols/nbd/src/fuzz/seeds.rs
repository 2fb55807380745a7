//! Hand-made seed inputs for the fuzz targets, built field by field from the spec (not
//! with the crate's encoders). `corpus.rs` checks that `fuzz/corpus/<target>/seed-*`
//! holds exactly these bytes, and writes them when run with `--ignored`.

/// A message built from big-endian fields.
#[derive(Default)]
pub struct B(pub Vec<u8>);

impl B {
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    pub fn then(mut self, other: B) -> Self {
        self.0.extend(other.0);
        self
    }
}

const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
const REP_MAGIC: u64 = 0x0003_e889_0455_65a9;
const REQUEST: u32 = 0x2560_9513;
const SIMPLE: u32 = 0x6744_6698;
const STRUCTURED: u32 = 0x668e_33ef;

/// Client flags (fixed newstyle + no zeroes), then one option.
fn opt(option: u32, data: B) -> B {
    B::default().u32(3).then(raw_opt(option, data))
}

fn raw_opt(option: u32, data: B) -> B {
    B::default().u64(IHAVEOPT).u32(option).u32(data.0.len() as u32).then(data)
}

fn name(n: &[u8]) -> B {
    B::default().u32(n.len() as u32).bytes(n)
}

fn option_seeds() -> Vec<(&'static str, B)> {
    let go = |requests: &[u16]| {
        let mut d = name(b"disk").u16(requests.len() as u16);
        for &r in requests {
            d = d.u16(r);
        }
        d
    };
    vec![
        ("export-name-default", opt(1, B::default())),
        ("export-name-disk", opt(1, B::default().bytes(b"disk"))),
        ("export-name-not-utf8", opt(1, B::default().bytes(&[0xc3, 0x28]))),
        ("export-name-nul", opt(1, B::default().bytes(b"a\0b"))),
        ("abort", opt(2, B::default())),
        ("abort-with-data", opt(2, B::default().bytes(b"bye"))),
        ("list", opt(3, B::default())),
        ("list-with-data", opt(3, B::default().bytes(b"x"))),
        ("starttls", opt(5, B::default())),
        ("info-block-size", opt(6, go(&[3]))),
        ("go-no-requests", opt(7, name(b"").u16(0))),
        ("go-three-requests", opt(7, go(&[0, 1, 3]))),
        ("go-count-mismatch", opt(7, name(b"disk").u16(2).u16(3))),
        ("go-name-too-long", opt(7, B::default().u32(100).bytes(b"disk").u16(0))),
        ("structured-reply", opt(8, B::default())),
        ("structured-reply-with-data", opt(8, B::default().u32(0))),
        ("list-meta-context-all", opt(9, name(b"disk").u32(0))),
        ("set-meta-context", opt(10, name(b"disk").u32(1).then(name(b"base:allocation")))),
        ("meta-context-huge-count", opt(10, name(b"").u32(u32::MAX))),
        ("list-meta-context-base-wildcard", opt(9, name(b"").u32(1).then(name(b"base:")))),
        (
            "set-meta-context-mixed",
            opt(
                10,
                name(b"")
                    .u32(3)
                    .then(name(b"base:"))
                    .then(name(b"qemu:dirty-bitmap:x"))
                    .then(name(b"base:allocation")),
            ),
        ),
        ("set-meta-context-no-colon", opt(10, name(b"disk").u32(1).then(name(b"allocation")))),
        ("set-meta-context-empty-namespace", opt(10, name(b"").u32(1).then(name(b":allocation")))),
        ("unknown-option", opt(0x4242, B::default().bytes(b"??"))),
        ("bad-magic", B::default().u32(3).u64(0x4948_4156_454f_5055).u32(3).u32(0)),
        ("length-too-large", B::default().u32(3).u64(IHAVEOPT).u32(3).u32(u32::MAX)),
        ("truncated-header", B::default().u32(3).u64(IHAVEOPT).u16(0)),
        ("bad-client-flags", B::default().u32(0xffff_ffff).then(raw_opt(3, B::default()))),
        (
            "session-qemu-like",
            opt(8, B::default())
                .then(raw_opt(10, name(b"").u32(1).then(name(b"base:allocation"))))
                .then(raw_opt(7, name(b"").u16(1).u16(3))),
        ),
    ]
}

fn req(flags: u16, command: u16, cookie: u64, offset: u64, length: u32) -> B {
    B::default().u32(REQUEST).u16(flags).u16(command).u64(cookie).u64(offset).u32(length)
}

fn request_seeds() -> Vec<(&'static str, B)> {
    vec![
        ("read-4k", req(0, 0, 1, 0, 4096)),
        ("read-df", req(4, 0, 2, 512, 512)),
        ("write-512", req(0, 1, 3, 512, 16).bytes(&[0xab; 16])),
        ("write-fua", req(1, 1, 4, 0, 4).bytes(b"data")),
        ("write-truncated-payload", req(0, 1, 5, 0, 64).bytes(b"short")),
        ("write-too-large", req(0, 1, 6, 0, u32::MAX)),
        ("flush", req(0, 3, 7, 0, 0)),
        ("flush-with-range", req(0, 3, 8, 4096, 1)),
        ("trim", req(0, 4, 9, 0, 1 << 20)),
        ("write-zeroes-flags", req(0x13, 6, 10, 4096, 8192)),
        ("cache", req(0, 5, 11, 0, 65536)),
        ("block-status-req-one", req(8, 7, 12, 0, 1 << 20)),
        ("block-status-empty", req(0, 7, 24, 4096, 0)),
        ("block-status-whole-u32", req(0, 7, 25, 0, u32::MAX)),
        ("disc", req(0, 2, 13, 0, 0)),
        ("unknown-command", req(0, 9, 14, 0, 0)),
        ("resize", req(0, 8, 15, 1 << 30, 0)),
        ("unknown-flag", req(0x80, 0, 16, 0, 512)),
        ("read-past-end", req(0, 0, 17, u64::MAX - 511, 512)),
        ("offset-overflow", req(0, 1, 18, u64::MAX, 1).bytes(&[0])),
        ("misaligned-read", req(0, 0, 19, 1, 511)),
        ("bad-magic", B::default().u32(0x1256_0953).u16(0).u16(0).u64(0).u64(0).u32(0)),
        ("truncated-header", B::default().u32(REQUEST).u16(0).u16(0).u64(1)),
        (
            "session",
            req(1, 1, 20, 0, 8)
                .bytes(b"12345678")
                .then(req(0, 0, 21, 0, 8))
                .then(req(0, 3, 22, 0, 0))
                .then(req(0, 2, 23, 0, 0)),
        ),
    ]
}

fn rep(option: u32, reply_type: u32, data: B) -> B {
    B::default().u64(REP_MAGIC).u32(option).u32(reply_type).u32(data.0.len() as u32).then(data)
}

fn chunk(flags: u16, reply_type: u16, cookie: u64, payload: B) -> B {
    B::default()
        .u32(STRUCTURED)
        .u16(flags)
        .u16(reply_type)
        .u64(cookie)
        .u32(payload.0.len() as u32)
        .then(payload)
}

fn simple(error: u32, cookie: u64) -> B {
    B::default().u32(SIMPLE).u32(error).u64(cookie)
}

fn reply_seeds() -> Vec<(&'static str, B)> {
    let err = 0x8000_0000;
    vec![
        ("option-ack", rep(8, 1, B::default())),
        (
            "list-two-exports",
            rep(3, 2, name(b"a")).then(rep(3, 2, name(b"disk").bytes(b"a description"))).then(rep(
                3,
                1,
                B::default(),
            )),
        ),
        (
            "go-success",
            rep(7, 3, B::default().u16(0).u64(1 << 30).u16(0x0d))
                .then(rep(7, 3, B::default().u16(3).u32(1).u32(4096).u32(1 << 25)))
                .then(rep(7, 3, B::default().u16(1).bytes(b"disk")))
                .then(rep(7, 3, B::default().u16(2).bytes(b"desc")))
                .then(rep(7, 3, B::default().u16(77).bytes(b"?")))
                .then(rep(7, 1, B::default())),
        ),
        ("err-unsup-message", rep(5, err + 1, B::default().bytes(b"no TLS here"))),
        ("err-unknown-export", rep(7, err + 6, B::default())),
        ("info-export-wrong-length", rep(7, 3, B::default().u16(0).u64(1))),
        ("meta-context", rep(10, 4, B::default().u32(1).bytes(b"base:allocation"))),
        ("ack-with-data", rep(2, 1, B::default().bytes(b"x"))),
        ("option-reply-huge", B::default().u64(REP_MAGIC).u32(3).u32(2).u32(u32::MAX)),
        ("simple-ok", simple(0, 1)),
        ("simple-eio", simple(5, 2)),
        ("chunk-none", chunk(1, 0, 3, B::default())),
        ("chunk-none-not-done", chunk(0, 0, 3, B::default())),
        ("chunk-offset-data", chunk(0, 1, 4, B::default().u64(512).bytes(b"data"))),
        ("chunk-offset-hole", chunk(1, 2, 5, B::default().u64(0).u32(4096))),
        ("chunk-hole-zero-size", chunk(1, 2, 5, B::default().u64(0).u32(0))),
        ("chunk-block-status", chunk(1, 5, 6, B::default().u32(1).u32(4096).u32(3).u32(512).u32(0))),
        ("chunk-block-status-no-extent", chunk(1, 5, 6, B::default().u32(1))),
        ("chunk-block-status-zero-length", chunk(1, 5, 6, B::default().u32(1).u32(0).u32(3))),
        ("chunk-block-status-odd-length", chunk(1, 5, 6, B::default().u32(1).u32(512).u32(0).u16(0))),
        ("chunk-error", chunk(1, 0x8001, 7, B::default().u32(22).u16(3).bytes(b"bad"))),
        ("chunk-error-offset", chunk(0, 0x8002, 8, B::default().u32(5).u16(0).u64(4096))),
        ("chunk-unknown-error", chunk(1, 0x8005, 9, B::default().u32(5).u16(1).bytes(b"!").u32(0))),
        ("chunk-unknown-type", chunk(1, 3, 10, B::default().u32(0))),
        ("chunk-message-too-long", chunk(1, 0x8001, 11, B::default().u32(5).u16(100))),
        ("greeting", B::default().u64(0x4e42_444d_4147_4943).u64(IHAVEOPT).u16(3)),
        ("export-name-reply", B::default().u64(1 << 20).u16(1).bytes(&[0; 124])),
        (
            "interleaved",
            simple(0, 1)
                .then(chunk(0, 1, 2, B::default().u64(0).bytes(b"x")))
                .then(simple(28, 3))
                .then(chunk(1, 0, 2, B::default())),
        ),
        ("bad-magic", B::default().u32(0x9674_4668).u32(0).u64(0)),
    ]
}

/// Every seed: (fuzz target, file name, bytes).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut all = Vec::new();
    for (target, seeds) in
        [("nbd_option", option_seeds()), ("nbd_request", request_seeds()), ("nbd_reply", reply_seeds())]
    {
        for (name, bytes) in seeds {
            all.push((target, format!("seed-{name}"), bytes.0));
        }
    }
    all
}
