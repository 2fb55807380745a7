//! Every driver's factory with arbitrary parameter values (issue 13, item 2): whatever a
//! spec says — huge sizes and durations, zero, garbage, values of the wrong kind — building
//! the stack succeeds or fails with an error, and nothing panics, neither in the building
//! thread nor in a driver thread the build started.
//!
//! Values are drawn per parameter kind from the interesting ones (bounds, one past them,
//! overflow) and from arbitrary text. Paths are relative to a temporary directory; NBD
//! URIs point at a missing Unix socket or a closed loopback port, so nothing leaves the
//! machine.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use stack::{BuildContext, DriverRegistry, LayerKind, LayerSpec, ParamKind, Params, StackSpec};

/// Panics seen anywhere in this test binary since it started.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

const SIZES: &[&str] = &[
    "0",
    "1",
    "511",
    "512",
    "513",
    "4K",
    "64K",
    "1M",
    "1.5K",
    "16M",
    "32M",
    "8E",
    "16E",
    "18446744073709551615",
    "99999999999999999999999",
    "-1",
    "1e3",
    "",
    "abc",
    "1KB",
    "0x10",
];
const DURATIONS: &[&str] = &[
    "0",
    "1ns",
    "1ms",
    "9ms",
    "10ms",
    "1s",
    "1h",
    "25h",
    "400d",
    "10000000000000000000s",
    "99999999999999999999999h",
    "1.5ms",
    "5",
    "-1s",
    "",
    "1.5ns",
    "2m",
];
const INTEGERS: &[&str] =
    &["0", "1", "2", "3", "256", "257", "4096", "4097", "32768", "18446744073709551615", "0x10", "-1", "x"];
const BOOLS: &[&str] = &["true", "false", "on", "maybe", "1", ""];
// An absolute path outside the test's directory that nothing can be created in: not a
// device such as /dev/null, which `stats(file=...)` would replace with a regular file (it
// writes its report to a temporary file renamed over the path) when the tests run as root.
const PATHS: &[&str] = &["a.img", "b.img", "sub/c.img", "", "trigger", "stats.json", "/proc/irpstack-none/x"];
const TEXTS: &[&str] = &[
    "nbd+unix:///?socket=missing.sock",
    "nbd://127.0.0.1:1/",
    "nbds://127.0.0.1/x",
    "garbage",
    "",
    "write",
    "flush",
    "read+write+flush",
    "all",
    "bogus",
    "EIO",
    "ENOSPC",
    "EWHAT",
    "0.5",
    "2",
    "10%",
    "1e400",
    "NaN",
];

fn values_for(kind: ParamKind) -> Vec<String> {
    let list: &[&str] = match kind {
        ParamKind::Size => SIZES,
        ParamKind::Duration => DURATIONS,
        ParamKind::U64 => INTEGERS,
        ParamKind::Bool => BOOLS,
        ParamKind::Path => PATHS,
        ParamKind::Str => TEXTS,
        ParamKind::Enum(choices) => {
            let mut v: Vec<String> = choices.iter().map(|c| (*c).to_owned()).collect();
            v.push("bogus".to_owned());
            return v;
        }
    };
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// One layer of `driver` with some of its parameters set to values of their kind (or,
/// now and then, arbitrary text).
fn layer(registry: &DriverRegistry, driver: &'static str) -> impl Strategy<Value = LayerSpec> + use<> {
    let docs = registry.get(driver).expect("registered").params;
    let per_param: Vec<BoxedStrategy<Option<String>>> = docs
        .iter()
        .map(|doc| {
            let known = prop::sample::select(values_for(doc.kind));
            let any_text = "[ -~]{0,12}";
            prop_oneof![
                3 => Just(None),
                4 => known.prop_map(Some),
                1 => any_text.prop_map(Some),
            ]
            .boxed()
        })
        .collect();
    let keys: Vec<&'static str> = docs.iter().map(|d| d.key).collect();
    per_param.prop_map(move |values| {
        let mut params = Params::new();
        for (key, value) in keys.iter().zip(values) {
            if let Some(value) = value {
                params.insert(key, value).expect("valid key");
            }
        }
        LayerSpec::new(driver, params)
    })
}

fn case() -> impl Strategy<Value = StackSpec> {
    let registry = DriverRegistry::builtin();
    let drivers: Vec<&'static str> = registry.names().collect();
    prop::sample::select(drivers).prop_flat_map(move |driver| {
        let kind = registry.get(driver).expect("registered").kind;
        layer(&registry, driver).prop_map(move |top| match kind {
            LayerKind::Bottom => StackSpec::new(vec![top]),
            LayerKind::Filter => {
                let below = "memory(size=1M)".parse::<StackSpec>().expect("valid");
                StackSpec::new(vec![top, below.layers[0].clone()])
            }
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn no_parameter_value_makes_a_factory_panic(spec in case()) {
        count_panics();
        let before = PANICS.load(Ordering::SeqCst);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        let ctx = BuildContext::new().with_base_dir(dir.path()).with_default_size(1 << 20);
        let registry = DriverRegistry::builtin();
        // The spec's text form parses back to it, and builds the same way.
        let text = spec.to_string();
        let reparsed: StackSpec = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        match registry.build(&reparsed, &ctx) {
            Ok(top) => {
                // A built stack answers a request: a read of its first sector, and a flush.
                let io = irp::IoManager::new();
                io.register("d", &top).unwrap();
                if let Ok(h) = io.open("d", irp::Access::READ) {
                    let _ = h.read(0, top.sector_size() as usize);
                    let _ = h.flush_buffers();
                }
                drop(io);
                drop(top);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        let panics = PANICS.load(Ordering::SeqCst) - before;
        prop_assert_eq!(panics, 0, "{} panicked", text);
    }
}

/// The case: a timeout of 10^19 seconds is refused at parse time, naming the bound.
#[test]
fn huge_durations_are_refused_with_their_bounds() {
    let registry = DriverRegistry::builtin();
    let ctx = BuildContext::new();
    for (spec, needle) in [
        ("nbd(uri=nbd://127.0.0.1:1/,timeout=10000000000000000000s)", "at most 365 days"),
        ("nbd(uri=nbd://127.0.0.1:1/,timeout=2h)", "1ms to 3600s"),
        ("nbd(uri=nbd://127.0.0.1:1/,request_timeout=2d)", "unknown duration unit"),
        ("nbd(uri=nbd://127.0.0.1:1/,request_timeout=25h)", "or 0"),
        ("cache(interval=0) / memory(size=1M)", "1ms to 3600s"),
        ("cache(size=8E) / memory(size=1M)", "must be from 512 to"),
        ("cache(share=0) / memory(size=1M)", "must be from 1 to"),
        ("fault(delay=2h) / memory(size=1M)", "at most 1h"),
        ("stats(interval=30h) / memory(size=1M)", "1ms to 24h"),
        ("crash(size=8E)", "must be from 1 to"),
    ] {
        let err = registry.build_str(spec, &ctx).map(drop).unwrap_err().to_string();
        assert!(err.contains(needle), "{spec}: {err}");
    }
}
