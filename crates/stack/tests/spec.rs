//! Stack specs: syntax, values, TOML, building stacks from a registry, and property
//! tests (canonical display round-trips; arbitrary input never panics the parser).

#[path = "spec/build.rs"]
mod build;
#[path = "spec/syntax.rs"]
mod syntax;
#[path = "spec/toml.rs"]
mod toml_files;
#[path = "spec/values.rs"]
mod values;

use proptest::prelude::*;
use stack::{LayerSpec, Params, SpecError, StackSpec};

/// Parses `text`, which must fail, and returns the rendered error.
pub fn parse_error(text: &str) -> String {
    match text.parse::<StackSpec>() {
        Ok(spec) => panic!("{text:?} parsed as {spec}"),
        Err(e) => e.to_string(),
    }
}

/// Asserts that `haystack` contains every needle.
#[track_caller]
pub fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(haystack.contains(needle), "{needle:?} not in:\n{haystack}");
    }
}

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9_-]{1,8}"
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-zA-Z0-9./:=_ -]{0,12}", "[(),\"\\\\ a=/]{0,8}", Just(String::new()),]
}

fn layer() -> impl Strategy<Value = LayerSpec> {
    (name(), prop::collection::vec((name(), value()), 0..5)).prop_map(|(driver, pairs)| {
        let mut params = Params::new();
        for (key, value) in pairs {
            if !params.contains(&key) {
                params.insert(&key, value).unwrap();
            }
        }
        LayerSpec::new(driver, params)
    })
}

fn spec() -> impl Strategy<Value = StackSpec> {
    prop::collection::vec(layer(), 1..5).prop_map(StackSpec::new)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn display_parses_back_to_the_same_spec(spec in spec()) {
        let text = spec.to_string();
        let back: StackSpec = text.parse().map_err(|e: SpecError| TestCaseError::fail(format!("{text}\n{e}")))?;
        prop_assert_eq!(&back, &spec, "{}", text);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        if let Err(e) = text.parse::<StackSpec>() {
            let _ = e.to_string();
        }
    }

    #[test]
    fn spec_like_text_never_panics_and_round_trips(text in "[a-c(),=/\" \\\\.é\n]{0,40}") {
        match text.parse::<StackSpec>() {
            Ok(spec) => {
                let again: StackSpec = spec.to_string().parse().unwrap();
                prop_assert_eq!(again, spec);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    #[test]
    fn arbitrary_toml_never_panics(text in "[a-z\\[\\]=\"\n .0-9]{0,60}") {
        if let Err(e) = StackSpec::from_toml(&text) {
            let _ = e.to_string();
        }
    }

    #[test]
    fn value_parsers_never_panic(text in any::<String>()) {
        use irp::units::*;
        let _ = (parse_size(&text), parse_duration(&text), parse_bool(&text), parse_u64(&text));
    }
}
