//! Typed parameter values: sizes, durations, booleans, integers, enums.

use std::time::Duration;

use irp::units::{parse_bool, parse_duration, parse_size, parse_u64};
use stack::{SpecErrorKind, StackSpec};

use crate::assert_contains;

#[test]
fn size_table() {
    let ok: &[(&str, u64)] = &[
        ("0", 0),
        ("4096", 4096),
        ("512B", 512),
        ("1k", 1024),
        ("64K", 65536),
        ("1KiB", 1024),
        ("256M", 256 << 20),
        ("256 MiB", 256 << 20),
        ("1G", 1 << 30),
        ("1GiB", 1 << 30),
        ("1gib", 1 << 30),
        ("2T", 2 << 40),
        ("1TiB", 1 << 40),
        ("1P", 1 << 50),
        ("1.5G", 1_610_612_736),
        ("1.5K", 1536),
        ("0.5M", 512 << 10),
        (".25K", 256),
        (" 8M ", 8 << 20),
        ("15E", 15 << 60),
        ("18446744073709551615", u64::MAX),
    ];
    for &(text, want) in ok {
        assert_eq!(parse_size(text), Ok(want), "{text:?}");
    }
    let bad: &[(&str, &str)] = &[
        ("", "expected a size"),
        ("-1M", "cannot be negative"),
        ("+1M", "without a sign"),
        ("1.3K", "not a whole number of bytes"),
        ("0.1", "not a whole number of bytes"),
        ("1MB", "ambiguous unit `MB`: sizes count in powers of 1024, write `M` or `MiB`"),
        ("1gb", "write `G` or `GiB`"),
        ("12Q", "unknown size unit `Q`"),
        ("1.2.3M", "not a number"),
        ("M", "expected a number"),
        ("16E", "too large"),
        ("18446744073709551616", "too large"),
        ("99999999999999999999999999999999999999999", "too many digits"),
        ("1e6", "unknown size unit `e6`"),
    ];
    for &(text, want) in bad {
        let err = parse_size(text).unwrap_err().to_string();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn duration_table() {
    let ok: &[(&str, Duration)] = &[
        ("0", Duration::ZERO),
        ("500ms", Duration::from_millis(500)),
        ("2s", Duration::from_secs(2)),
        ("1m", Duration::from_secs(60)),
        ("2min", Duration::from_secs(120)),
        ("1h", Duration::from_secs(3600)),
        ("1.5s", Duration::from_millis(1500)),
        ("250us", Duration::from_micros(250)),
        ("250µs", Duration::from_micros(250)),
        ("7ns", Duration::from_nanos(7)),
    ];
    for &(text, want) in ok {
        assert_eq!(parse_duration(text), Ok(want), "{text:?}");
    }
    for (text, want) in [
        ("500", "missing unit"),
        ("-1s", "cannot be negative"),
        ("1.5ns", "not a whole number of nanoseconds"),
        ("3 weeks", "unknown duration unit `weeks`"),
        ("99999999999999999999999h", "too large"),
    ] {
        let err = parse_duration(text).unwrap_err().to_string();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn booleans_and_integers() {
    for t in ["true", "yes", "on", "1", "TRUE", "On"] {
        assert_eq!(parse_bool(t), Ok(true), "{t}");
    }
    for t in ["false", "no", "off", "0"] {
        assert_eq!(parse_bool(t), Ok(false), "{t}");
    }
    assert!(parse_bool("maybe").unwrap_err().to_string().contains("true/false"));
    assert_eq!(parse_u64("42"), Ok(42));
    assert_eq!(parse_u64("0x1f"), Ok(31));
    assert!(parse_u64("-3").unwrap_err().to_string().contains("cannot be negative"));
    assert!(parse_u64("4K").unwrap_err().to_string().contains("whole number"));
    assert!(parse_u64("18446744073709551616").unwrap_err().to_string().contains("too large"));
}

#[test]
fn getters_name_the_layer_the_key_and_the_value() {
    let text = "cache(size=12Q,mode=writebak,dirty=maybe,flush=500,count=x,path=p) / memory";
    let mut spec: StackSpec = text.parse().unwrap();
    let p = &mut spec.layers[0].params;
    let e = p.get_size("size").unwrap_err();
    assert_eq!(e.span(), Some((11, 14)));
    assert_contains(&e.to_string(), &[r#"invalid value "12Q" for `size` of layer `cache`"#, "at 11..14"]);
    let e = p.get_enum("mode", &["writeback", "writethrough", "unsafe"]).unwrap_err().to_string();
    assert_contains(
        &e,
        &[
            "`mode` of layer `cache`",
            "expected one of writeback, writethrough, unsafe",
            "did you mean `writeback`?",
        ],
    );
    assert_contains(&p.get_bool("dirty").unwrap_err().to_string(), &[r#""maybe" for `dirty`"#]);
    assert_contains(
        &p.get_duration("flush").unwrap_err().to_string(),
        &[r#""500" for `flush`"#, "missing unit"],
    );
    assert_contains(&p.get_u64("count").unwrap_err().to_string(), &[r#""x" for `count`"#]);
    assert_eq!(p.get_str("path"), Some("p"));
    assert_eq!(p.get_size("absent").unwrap(), None);
    let e = p.require_str("file").unwrap_err();
    assert!(matches!(e.kind(), SpecErrorKind::MissingParam { .. }));
    assert_contains(&e.to_string(), &["layer `cache` needs parameter `file`"]);
    p.finish().unwrap();
}

#[test]
fn getters_return_typed_values() {
    let text = "cache(size=1.5G,mode=writethrough,dirty=on,flush=2s,count=0x10,extra=1)";
    let mut spec: StackSpec = text.parse().unwrap();
    let p = &mut spec.layers[0].params;
    assert_eq!(p.get_size("size").unwrap(), Some(1_610_612_736));
    assert_eq!(p.get_enum("mode", &["writeback", "writethrough"]).unwrap(), Some("writethrough"));
    assert_eq!(p.get_bool("dirty").unwrap(), Some(true));
    assert_eq!(p.get_duration("flush").unwrap(), Some(Duration::from_secs(2)));
    assert_eq!(p.get_u64("count").unwrap(), Some(16));
    let e = p.finish().unwrap_err();
    assert_contains(
        &e.to_string(),
        &[
            "unknown parameter `extra` for layer `cache`",
            "accepted parameters: size, mode, dirty, flush, count",
        ],
    );
}
