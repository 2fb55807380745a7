//! `irpstack serve` under misuse (issue 13): two servers or two exports over one image,
//! clients that never read their replies, huge spec values. Servers listen on Unix
//! sockets in temporary directories; every child process is killed by PID when its
//! handle drops.

#[path = "../../frontends/nbd-server/tests/raw_client/mod.rs"]
mod raw_client;
mod serve_support;

use std::path::Path;
use std::process::Command;

use serve_support::{Served, serve};

fn serve_args(dir: &Path, stack: &str, socket: &str) -> Vec<String> {
    let data = dir.join("data");
    vec![
        "--stack".into(),
        stack.into(),
        "--socket".into(),
        dir.join(socket).display().to_string(),
        "--data-dir".into(),
        data.display().to_string(),
    ]
}

fn start(dir: &Path, stack: &str, socket: &str) -> Served {
    let args = serve_args(dir, stack, socket);
    serve(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Runs `irpstack serve ARGS`, which must fail at start; returns its stderr.
fn fails_to_start(dir: &Path, args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .arg("serve")
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "irpstack serve {args:?} should fail:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The first reproducer: a `--config` with exports `a` and `b`, each a
/// write-back cache over the same image. The second stack is refused at start.
#[test]
fn two_exports_over_one_image_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("exports.toml");
    std::fs::write(
        &config,
        "[[export]]\nname = \"a\"\nstack = \"cache(size=16M) / file(path=y.img,size=64M)\"\n\
         [[export]]\nname = \"b\"\nstack = \"cache(size=16M) / file(path=y.img,size=64M)\"\n",
    )
    .unwrap();
    let socket = dir.path().join("nbd.sock").display().to_string();
    let data = dir.path().join("data").display().to_string();
    let args: Vec<String> = ["--config", config.to_str().unwrap(), "--socket", &socket, "--data-dir", &data]
        .map(String::from)
        .into();
    let stderr = fails_to_start(dir.path(), &args);
    assert!(stderr.contains("export \"b\""), "names the export: {stderr}");
    assert!(stderr.contains("y.img") && stderr.contains("in use"), "names the image: {stderr}");
    assert!(stderr.contains("this process"), "says who holds it: {stderr}");
}

/// The second reproducer: two `irpstack serve` processes on one image. The
/// second is refused while the first runs, and starts once the first has stopped.
#[test]
fn a_second_server_on_the_same_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stack = "cache(size=16M) / file(path=y.img,size=64M)";
    let first = start(dir.path(), stack, "a.sock");
    let stderr = fails_to_start(dir.path(), &serve_args(dir.path(), stack, "b.sock"));
    assert!(stderr.contains("y.img") && stderr.contains("in use"), "{stderr}");
    assert!(stderr.contains(&format!("process {}", first.pid())), "names the holder: {stderr}");
    let read_only = format!("{} / file(path=y.img,read-only=true)", "cache(size=16M)");
    fails_to_start(dir.path(), &serve_args(dir.path(), &read_only, "b.sock"));
    assert!(first.signal_and_wait("TERM").success());
    let second = start(dir.path(), stack, "b.sock");
    assert!(second.signal_and_wait("TERM").success());
}
