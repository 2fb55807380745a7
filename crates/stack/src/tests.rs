//! Unit tests of the spec internals: edit distance, suggestions, diagnostics layout.

use super::error::{distance, suggest};
use super::*;

#[test]
fn edit_distance_counts_swaps_as_one() {
    assert_eq!(distance("cache", "cache"), 0);
    assert_eq!(distance("cahce", "cache"), 1);
    assert_eq!(distance("cach", "cache"), 1);
    assert_eq!(distance("", "abc"), 3);
    assert_eq!(distance("kitten", "sitting"), 3);
}

#[test]
fn suggestions_only_for_likely_typos() {
    let names = ["cache", "fault", "file", "memory", "stats"];
    assert_eq!(suggest("cahce", names), Some("cache"));
    assert_eq!(suggest("memroy", names), Some("memory"));
    assert_eq!(suggest("Stats", names), Some("stats"));
    assert_eq!(suggest("mem", names), Some("memory"));
    assert_eq!(suggest("zzzzzz", names), None);
    assert_eq!(suggest("cache", names), None);
}

#[test]
fn diagnostic_has_caret_under_the_span() {
    let err = "memory / cahce(size=1G)".parse::<StackSpec>().map(|_| ()).and_then(|()| {
        DriverRegistry::builtin().build_str("memory / cahce(size=1G)", &BuildContext::new()).map(|_| ())
    });
    let text = err.unwrap_err().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "error: unknown driver \"cahce\" at 9..14", "{text}");
    assert_eq!(lines[1], "   | memory / cahce(size=1G)");
    assert_eq!(lines[2], "   |          ^^^^^");
    assert!(
        lines[3].contains(
            "known drivers: cache, crash, fault, file, fs, memory, nbd, null, passthrough, pmem, stats"
        ),
        "{text}"
    );
}

#[test]
fn diagnostic_on_a_later_line_names_line_and_column() {
    let toml = "[[layer]]\ndriver = \"memory\"\nsize = 1.5\n";
    let text = StackSpec::from_toml(toml).unwrap_err().to_string();
    assert!(text.contains("--> line 3, column 8"), "{text}");
    assert!(text.contains("   | size = 1.5\n   |        ^^^"), "{text}");
}

#[test]
fn spans_point_at_the_text() {
    let text = " cache ( size = 1G , mode = \"a,b\" ) / stats ";
    let spec: StackSpec = text.parse().unwrap();
    let cache = &spec.layers[0];
    assert_eq!(&text[cache.span.0..cache.span.1], "cache ( size = 1G , mode = \"a,b\" )");
    assert_eq!(&text[cache.driver_span().0..cache.driver_span().1], "cache");
    let (a, b) = cache.params.key_span("mode").unwrap();
    assert_eq!(&text[a..b], "mode");
    assert_eq!(&text[spec.layers[1].span.0..spec.layers[1].span.1], "stats");
}

#[test]
fn errors_render_without_text_or_span() {
    let mut params = Params::new();
    params.set_layer("cache");
    params.insert("size", "12Q").unwrap();
    let text = params.get_size("size").unwrap_err().to_string();
    assert_eq!(
        text,
        "error: invalid value \"12Q\" for `size` of layer `cache`: unknown size unit `Q` \
         (use K, M, G, T, P, E, KiB, ..., or none for bytes)"
    );
}

#[test]
fn params_track_what_was_asked() {
    let mut params = Params::new();
    params.set_layer("cache");
    params.insert("size", "1G").unwrap();
    params.insert("mdoe", "writeback").unwrap();
    assert_eq!(params.get_size("size").unwrap(), Some(1 << 30));
    assert_eq!(params.get_enum("mode", &["writeback", "writethrough"]).unwrap(), None);
    let err = params.finish().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("unknown parameter `mdoe` for layer `cache`"), "{text}");
    assert!(text.contains("accepted parameters: size, mode"), "{text}");
    assert!(text.contains("did you mean `mode`?"), "{text}");
    params.reset();
    assert!(params.finish().is_err());
    params.get_str("size");
    params.get_str("mdoe");
    params.finish().unwrap();
}

#[test]
fn every_error_of_a_spec_is_reported_at_once() {
    let text = "cache(size=lots,mode=fast,colour=red) / file(path=x.img,size=1KB)";
    let spec: StackSpec = text.parse().unwrap();
    let err = DriverRegistry::builtin().check(&spec).unwrap_err();
    assert_eq!(err.also().len(), 3, "{err}");
    let shown = err.to_string();
    for part in ["`colour`", "\"lots\"", "\"fast\"", "\"1KB\""] {
        assert!(shown.contains(part), "{part} missing from:\n{shown}");
    }
    let carets = shown.lines().filter(|l| l.trim_start_matches([' ', '|']).starts_with('^')).count();
    assert_eq!(carets, 4, "every error has its caret:\n{shown}");
}

#[test]
fn nothing_is_created_before_the_whole_spec_validates() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = BuildContext::new().with_base_dir(dir.path());
    let err =
        DriverRegistry::builtin().build_str("cache(size=lots) / file(path=x.img,size=1M)", &ctx).unwrap_err();
    assert!(err.to_string().contains("\"lots\""), "{err}");
    assert!(!dir.path().join("x.img").exists(), "the image was created for a spec that does not build");
}
