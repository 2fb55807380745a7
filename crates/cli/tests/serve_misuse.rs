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

/// A client that fills its socket with read requests and never reads the replies.
fn never_reads(socket: &Path) -> raw_client::RawClient {
    use nbd::consts::CMD_READ;
    use nbd::transmission::RequestHeader;
    let mut client = raw_client::RawClient::open(socket, "", false).unwrap();
    for cookie in 0..64 {
        let header = RequestHeader { flags: 0, command: CMD_READ, cookie, offset: 0, length: 1 << 20 };
        if client.send(header, &[]).is_err() {
            break;
        }
    }
    client
}

/// SIGTERM with a client that never reads its replies: the server stops on time (not
/// after the 60 s reply timeout), and the image holds every acknowledged write — those
/// flushed, and those the cache wrote back at the stop.
#[test]
fn sigterm_stops_on_time_whatever_clients_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "cache(size=32M) / file(path=y.img,size=64M)", "nbd.sock");
    let socket = server.socket.clone().unwrap();
    let mut writer = raw_client::RawClient::open(&socket, "", false).unwrap();
    assert_eq!(writer.write(0, &[0xa1; 1 << 20], false).unwrap(), 0);
    assert_eq!(writer.flush().unwrap(), 0);
    assert_eq!(writer.write(8 << 20, &[0xb2; 64 << 10], false).unwrap(), 0, "acknowledged, not flushed");
    let _stuck = [never_reads(&socket), never_reads(&socket)];
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    let status = server.signal_and_wait("TERM");
    let took = started.elapsed();
    assert!(status.success(), "{status}");
    // The stop's grace is 2 s; the old stop waited out the 60 s reply timeout.
    assert!(took < std::time::Duration::from_secs(20), "the stop took {took:?}");
    let image = std::fs::read(dir.path().join("data/y.img")).unwrap();
    assert!(image[..1 << 20].iter().all(|&b| b == 0xa1), "the flushed write is on disk");
    assert!(image[8 << 20..(8 << 20) + (64 << 10)].iter().all(|&b| b == 0xb2), "the cache was written back");
}

/// A second signal during the stop exits at once and says what it abandons.
#[test]
fn a_second_signal_says_what_it_abandons() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "cache(size=32M) / memory(size=64M)", "nbd.sock");
    let socket = server.socket.clone().unwrap();
    let _stuck = never_reads(&socket);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = server.pid().to_string();
    let term = || assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    term();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (status, stderr) = server.signal_and_collect("TERM");
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(stderr.contains("second signal") && stderr.contains("abandoning"), "{stderr}");
}
