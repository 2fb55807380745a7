//! The spec grammar: what parses, into what, and the errors for what does not.

use stack::StackSpec;

use crate::{assert_contains, parse_error};

fn params(spec: &StackSpec, layer: usize) -> Vec<(String, String)> {
    spec.layers[layer].params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn paths_keep_their_slashes() {
    let spec: StackSpec = "file(path=/var/lib/x.img)".parse().unwrap();
    assert_eq!(spec.layers.len(), 1);
    assert_eq!(spec.layers[0].driver, "file");
    assert_eq!(spec.layers[0].params.peek("path"), Some("/var/lib/x.img"));
}

#[test]
fn the_design_example_has_three_layers() {
    let text = "cache(size=256M,mode=writeback) / stats / file(path=/var/lib/x.img,direct=true,engine=uring)";
    let spec: StackSpec = text.parse().unwrap();
    let drivers: Vec<_> = spec.layers.iter().map(|l| l.driver.as_str()).collect();
    assert_eq!(drivers, ["cache", "stats", "file"]);
    assert_eq!(params(&spec, 0), pairs(&[("size", "256M"), ("mode", "writeback")]));
    assert!(spec.layers[1].params.is_empty());
    assert_eq!(
        params(&spec, 2),
        pairs(&[("path", "/var/lib/x.img"), ("direct", "true"), ("engine", "uring")])
    );
    assert_eq!(spec.to_string(), text);
    assert_eq!(spec.source(), Some(text));
}

#[test]
fn whitespace_around_tokens_is_ignored() {
    let canonical: StackSpec = "cache(size=256M,mode=writeback)/stats/file(path=x.img)".parse().unwrap();
    for text in [
        "cache(size=256M,mode=writeback) / stats / file(path=x.img)",
        "  cache ( size = 256M , mode = writeback ) /stats/ file( path=x.img )  ",
        "\tcache(\n  size=256M,\n  mode=writeback\n)\n/ stats()\n/ file(path=x.img)\n",
    ] {
        let spec: StackSpec = text.parse().unwrap();
        assert_eq!(spec, canonical, "{text:?}");
    }
    assert_eq!(canonical.to_string(), "cache(size=256M,mode=writeback) / stats / file(path=x.img)");
}

#[test]
fn values_may_hold_colons_equals_and_nested_parentheses() {
    let spec: StackSpec = "nbd(url=nbd://host:10809/export,opts=a=b,when=or(a,b)) / x".parse().unwrap();
    assert_eq!(
        params(&spec, 0),
        pairs(&[("url", "nbd://host:10809/export"), ("opts", "a=b"), ("when", "or(a,b)")])
    );
    assert_eq!(spec.to_string(), "nbd(url=nbd://host:10809/export,opts=a=b,when=\"or(a,b)\") / x");
}

#[test]
fn quoted_values() {
    let spec: StackSpec =
        r#"file(path="a, b).img", note="say \"hi\" \\ ok", empty="", slash="/")"#.parse().unwrap();
    assert_eq!(
        params(&spec, 0),
        pairs(&[("path", "a, b).img"), ("note", r#"say "hi" \ ok"#), ("empty", ""), ("slash", "/")])
    );
    assert_eq!(spec.to_string(), r#"file(path="a, b).img",note="say \"hi\" \\ ok",empty="",slash=/)"#);
}

#[test]
fn empty_specs_and_layers() {
    for text in ["", "   ", "\n"] {
        assert_contains(&parse_error(text), &["empty stack spec"]);
    }
    assert_contains(&parse_error("a//b"), &["empty layer", "at 2..3", "a//b\n   |   ^"]);
    assert_contains(&parse_error("a / / b"), &["empty layer", "at 4..5"]);
    assert_contains(&parse_error("/a"), &["empty layer", "at 0..1"]);
    assert_contains(&parse_error("cache / "), &["empty layer", "after the last `/`", "at 6..7"]);
}

#[test]
fn unbalanced_parentheses() {
    assert_contains(&parse_error("cache(size=1G"), &["unclosed `(` in layer `cache`", "at 5..6"]);
    assert_contains(&parse_error("cache(size=1G / file"), &["unclosed `(` in layer `cache`"]);
    assert_contains(&parse_error("cache(when=or(a,b"), &["unclosed `(` in the value of `when`", "at 13..14"]);
    assert_contains(&parse_error("cache)"), &["unmatched `)`", "at 5..6"]);
    assert_contains(&parse_error("cache(size=1G)) / file"), &["unmatched `)`", "at 14..15"]);
    assert_contains(&parse_error("(size=1G)"), &["expected a driver name before `(`"]);
}

#[test]
fn trailing_junk() {
    assert_contains(
        &parse_error("cache(size=1G) junk"),
        &["unexpected `junk` after layer `cache`", "expected `/` or the end of the spec", "at 15..19"],
    );
    assert_contains(&parse_error("cache size=1G"), &["unexpected `size=1G`", "`cache(size=1G)`"]);
    assert_contains(
        &parse_error(r#"file(path="x" y)"#),
        &["expected `,` or `)` after the value of `path`, found `y`"],
    );
}

#[test]
fn bad_parameters() {
    assert_contains(
        &parse_error("cache(size=1G,mode=a,size=2G)"),
        &["duplicate parameter `size` in layer `cache`", "at 21..25"],
    );
    assert_contains(&parse_error("cache(size)"), &["expected `=` after `size`, found `)`", "`size=value`"]);
    assert_contains(&parse_error("cache(size=)"), &["missing value for `size`", r#"`size=""`"#]);
    assert_contains(&parse_error("cache(size=1G,)"), &["expected a parameter name, found `)`"]);
    assert_contains(&parse_error("cache(,)"), &["expected a parameter name, found `,`"]);
    assert_contains(&parse_error("cache(=1)"), &["expected a parameter name, found `=`"]);
    assert_contains(
        &parse_error("cache(Size=1)"),
        &["invalid parameter name `Size`", "did you mean `size`?"],
    );
    assert_contains(&parse_error(r#"file(path=a"b")"#), &["unexpected `\"` inside the value of `path`"]);
}

#[test]
fn bad_names_and_strings() {
    assert_contains(&parse_error("Cache"), &["invalid driver name `Cache`", "did you mean `cache`?"]);
    assert_contains(&parse_error("ca$he"), &["unexpected `$he` after layer `ca`"]);
    assert_contains(&parse_error("v1.2"), &["invalid driver name `v1.2`"]);
    assert_contains(&parse_error("=x"), &["expected a driver name, found `=`"]);
    assert_contains(&parse_error(r#"file(path="abc)"#), &["unterminated quoted value", "at 10..11"]);
    assert_contains(&parse_error(r#"file(path="a\nb")"#), &[r"unknown escape `\n`", "at 12..14"]);
}

#[test]
fn multibyte_text_gets_carets_by_character() {
    let text = parse_error("é / ü");
    assert_contains(&text, &["invalid driver name `é`", "at 0..2", "   | é / ü\n   | ^"]);
    let spec: StackSpec = "file(path=/tmp/é ü.img)".parse().unwrap();
    assert_eq!(spec.layers[0].params.peek("path"), Some("/tmp/é ü.img"));
    assert_eq!(spec.to_string(), "file(path=\"/tmp/é ü.img\")");
}
