//! Stack specs from TOML documents and files.

use std::io::Write as _;

use stack::{SpecErrorKind, StackSpec};

use crate::assert_contains;

fn toml_error(text: &str) -> String {
    StackSpec::from_toml(text).unwrap_err().to_string()
}

#[test]
fn stack_string_form() {
    let spec = StackSpec::from_toml("stack = \"cache(size=1G) / file(path=x.img)\"\n").unwrap();
    assert_eq!(spec, "cache(size=1G) / file(path=x.img)".parse().unwrap());
}

#[test]
fn layer_tables_form() {
    let text = r#"
# top first
[[layer]]
driver = "cache"
size = "256M"
mode = "writeback"

[[layer]]
driver = "stats"

[[layer]]
driver = "file"
path = "/var/lib/x.img"
direct = true
queue_depth = 0x20
"#;
    let spec = StackSpec::from_toml(text).unwrap();
    assert_eq!(
        spec.to_string(),
        "cache(size=256M,mode=writeback) / stats / file(path=/var/lib/x.img,direct=true,queue_depth=32)"
    );
    assert_eq!(spec.layers[2].params.peek("direct"), Some("true"));
    let (a, b) = spec.layers[2].driver_span();
    assert_eq!(&text[a..b], "\"file\"");
}

#[test]
fn shape_errors() {
    assert_contains(
        &toml_error("[[layer]]\nsize = \"1M\"\n"),
        &["layer 0 has no `driver`", "driver = \"memory\""],
    );
    assert_contains(&toml_error("[[layer]]\ndriver = 5\n"), &["`driver` must be a string, found integer"]);
    assert_contains(
        &toml_error("[[layer]]\ndriver = \"memory\"\nsize = 1.5\n"),
        &["wrong type for `size` in layer `memory`", "found float", "line 3, column 8"],
    );
    assert_contains(
        &toml_error("[[layer]]\ndriver = \"m\"\nx = [1]\n"),
        &["wrong type for `x`", "found array"],
    );
    assert_contains(
        &toml_error("stak = \"memory\"\n"),
        &["unknown top-level key `stak`", "expected `stack` or `layer`", "did you mean `stack`?"],
    );
    assert_contains(&toml_error("stack = 5\n"), &["`stack` must be a string, found integer"]);
    assert_contains(&toml_error("layer = 5\n"), &["`layer` must be an array of tables"]);
    assert_contains(&toml_error("layer = []\n"), &["empty stack spec"]);
    assert_contains(&toml_error("\n"), &["expected `stack = \"...\"` or `[[layer]]` tables"]);
    assert_contains(&toml_error("stack = \"x\"\n[[layer]]\ndriver = \"y\"\n"), &["not both"]);
    assert_contains(&toml_error("stack = [\n"), &["invalid TOML"]);
    assert_contains(&toml_error("[[layer]]\ndriver = \"Mem\"\n"), &["invalid driver name `Mem`"]);
    assert_contains(&toml_error("[[layer]]\ndriver = \"m\"\nSize = 1\n"), &["invalid parameter name `Size`"]);
}

#[test]
fn errors_inside_the_stack_string_point_into_it() {
    let text = toml_error("stack = \"cache(size=1G) junk\"\n");
    assert_contains(
        &text,
        &["unexpected `junk` after layer `cache`", "   | cache(size=1G) junk\n   |                ^^^^"],
    );
}

#[test]
fn files() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "[[layer]]\ndriver = \"passthrough\"\n[[layer]]\ndriver = \"memory\"\nsize = 1048576\n")
        .unwrap();
    let spec = StackSpec::from_toml_file(file.path()).unwrap();
    assert_eq!(spec.to_string(), "passthrough / memory(size=1048576)");

    let mut bad = tempfile::NamedTempFile::new().unwrap();
    write!(bad, "[[layer]]\ndriver = \"memory\"\nsize = 1.5\n").unwrap();
    let text = StackSpec::from_toml_file(bad.path()).unwrap_err().to_string();
    assert_contains(&text, &[&format!("--> {}: line 3, column 8", bad.path().display())]);

    let missing = file.path().with_extension("missing");
    let e = StackSpec::from_toml_file(&missing).unwrap_err();
    assert!(matches!(e.kind(), SpecErrorKind::Io { .. }));
    assert_contains(&e.to_string(), &["cannot read", &missing.display().to_string()]);
}
