//! TLS against real clients: libnbd's `nbdinfo` over `nbds+unix://...&tls-certificates=`,
//! and `qemu-io` with a `tls-creds-x509` object writing and reading back, with and
//! without client certificates; both refused without TLS when it is required.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Running, export};
use nbd_server::{Limits, TlsConfig, TlsMode};

fn installed(program: &str, version_arg: &str) -> bool {
    let ok = Command::new(program)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        irp::testing::skip(format_args!("{program} not installed"));
    }
    ok
}

fn pki() -> Option<tempfile::TempDir> {
    if !nbd_tls::testing::have_openssl() {
        irp::testing::skip("openssl not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    nbd_tls::testing::make_pki(dir.path()).unwrap();
    Some(dir)
}

/// Runs `program args`; killed (by PID) if it takes longer than 60 s.
fn run(program: &str, args: &[&str]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} took more than 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn server(dir: &Path, verify_peer: bool) -> Running {
    let tls = TlsConfig { mode: TlsMode::Require, certificates: Some(dir.to_owned()), verify_peer };
    Running::with_tls(vec![export("", "memory(size=64M)")], Limits::default(), tls)
}

/// A directory with the CA only: a client without a certificate.
fn ca_only(dir: &Path) -> tempfile::TempDir {
    let anonymous = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("ca-cert.pem"), anonymous.path().join("ca-cert.pem")).unwrap();
    anonymous
}

#[test]
fn nbdinfo_connects_over_tls_and_is_refused_without_it() {
    if !installed("nbdinfo", "--version") {
        return;
    }
    let Some(dir) = pki() else { return };
    for verify_peer in [false, true] {
        let server = server(dir.path(), verify_peer);
        let socket = server.socket().display().to_string();
        let uri = format!("nbds+unix:///?socket={socket}&tls-certificates={}", dir.path().display());
        let out = run("nbdinfo", &[&uri]);
        let said = text(&out);
        assert!(out.status.success(), "{said}");
        assert!(said.contains("with TLS") && said.contains("export-size: 67108864"), "{said}");

        let plain = run("nbdinfo", &[&format!("nbd+unix:///?socket={socket}")]);
        assert!(!plain.status.success(), "nbdinfo without TLS got in: {}", text(&plain));

        let anonymous = ca_only(dir.path());
        let uri = format!("nbds+unix:///?socket={socket}&tls-certificates={}", anonymous.path().display());
        let out = run("nbdinfo", &[&uri]);
        assert_eq!(out.status.success(), !verify_peer, "no client certificate: {}", text(&out));
    }
}

fn qemu_io(dir: &Path, socket: &Path, commands: &[&str]) -> Output {
    let object = format!("tls-creds-x509,id=tls0,dir={},endpoint=client", dir.display());
    // A Unix socket has no host name to check the certificate against: name it.
    let image = format!(
        "driver=nbd,server.type=unix,server.path={},tls-creds=tls0,tls-hostname=localhost",
        socket.display()
    );
    let mut args = vec!["--object", &object, "--image-opts", &image];
    for c in commands {
        args.extend(["-c", c]);
    }
    run("qemu-io", &args)
}

#[test]
fn qemu_io_writes_and_reads_back_over_tls() {
    if !installed("qemu-io", "--version") {
        return;
    }
    let Some(dir) = pki() else { return };
    for verify_peer in [false, true] {
        let server = server(dir.path(), verify_peer);
        let socket = server.socket();
        let out = qemu_io(
            dir.path(),
            socket,
            &["write -P 0xa5 1M 3M", "flush", "read -P 0xa5 1M 3M", "write -z 2M 64k", "read -P 0 2M 64k"],
        );
        let said = text(&out);
        assert!(out.status.success() && !said.contains("Pattern verification failed"), "{said}");
        assert_eq!(said.matches("read ").count(), 2, "{said}");
        // A second connection reads what the first wrote.
        let out = qemu_io(dir.path(), socket, &["read -P 0xa5 1M 1M", "read -P 0xa5 3M 1M"]);
        let said = text(&out);
        assert!(out.status.success() && !said.contains("Pattern verification failed"), "{said}");

        let out = run(
            "qemu-io",
            &["-f", "raw", "-c", "read 0 4k", &format!("nbd+unix:///?socket={}", socket.display())],
        );
        let said = text(&out);
        assert!(!said.contains("read 4096/4096"), "qemu-io without TLS read: {said}");

        let anonymous = ca_only(dir.path());
        let out = qemu_io(anonymous.path(), socket, &["read 0 4k"]);
        let said = text(&out);
        assert_eq!(said.contains("read 4096/4096"), !verify_peer, "no client certificate: {said}");
    }
}
