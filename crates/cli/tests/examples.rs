//! The files in `examples/` stay valid: each is served by the built binary (its socket
//! moved into a temporary directory) and queried with nbdinfo.

mod serve_support;

use std::path::PathBuf;

use serve_support::{have, run, serve};

fn example(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn exports(uri: &str) -> Vec<(String, u64, bool)> {
    let list = run("nbdinfo", &["--list", "--json", uri]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    list["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["export-name"].as_str().unwrap().to_owned(),
                e["export-size"].as_u64().unwrap(),
                e["is_read_only"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_example_exports_file_serves_its_three_exports() {
    if !have("nbdinfo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("irpstack.sock");
    let text = example("exports.toml").replace("/tmp/irpstack.sock", socket.to_str().unwrap());
    assert!(text.contains(socket.to_str().unwrap()), "the example names its socket");
    let config = dir.path().join("exports.toml");
    std::fs::write(&config, text).unwrap();
    let server = serve(dir.path(), &["--config", config.to_str().unwrap(), "--data-dir", "data"]);
    assert_eq!(
        exports(&server.uri),
        [
            ("disk".to_owned(), 1 << 30, false),
            ("measured".to_owned(), 256 << 20, false),
            ("golden".to_owned(), 64 << 20, true)
        ]
    );
    for image in ["disk.img", "measured.img", "golden.img"] {
        assert!(dir.path().join("data").join(image).exists(), "{image} not created in --data-dir");
    }
}

#[test]
fn the_example_stack_file_serves_its_stack() {
    if !have("nbdinfo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("writeback.toml");
    std::fs::write(&stack, example("writeback.toml")).unwrap();
    let socket = dir.path().join("wb.sock");
    let server = serve(
        dir.path(),
        &["--stack", stack.to_str().unwrap(), "--socket", socket.to_str().unwrap(), "--data-dir", "data"],
    );
    assert_eq!(exports(&server.uri), [(String::new(), 512 << 20, false)]);
}

#[test]
fn the_systemd_unit_runs_serve_with_a_config() {
    let unit = example("irpstack-serve.service");
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart line");
    let words: Vec<&str> = exec.split_whitespace().collect();
    assert!(words[0].ends_with("/irpstack") && words[1] == "serve", "{exec}");
    // Every flag it passes is one serve knows.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in words.iter().filter(|w| w.starts_with("--")) {
        assert!(help.contains(flag), "serve has no {flag}");
    }
}
