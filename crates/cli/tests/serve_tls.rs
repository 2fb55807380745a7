//! `irpstack serve` with TLS: the flags and the `--config` keys, the URIs it prints, a
//! real TLS client (nbdinfo) let in and a plain one refused, and clear errors for bad
//! settings. Unix sockets only.

mod serve_support;

use std::process::Command;

use serve_support::{have, serve};

fn pki() -> Option<tempfile::TempDir> {
    if !nbd_tls::testing::have_openssl() {
        irp::testing::skip("openssl not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    nbd_tls::testing::make_pki(dir.path()).unwrap();
    Some(dir)
}

#[test]
fn a_config_file_requires_tls_and_nbdinfo_gets_in_over_it() {
    let Some(pki) = pki() else { return };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nbd.sock");
    let config = dir.path().join("serve.toml");
    let text = format!(
        "socket = {:?}\ntls = \"require\"\ntls_certificates = {:?}\n[[export]]\nname = \"a\"\nstack = \"memory(size=8M)\"\n",
        socket.display().to_string(),
        pki.path().display().to_string(),
    );
    std::fs::write(&config, text).unwrap();
    let server = serve(dir.path(), &["--config", config.to_str().unwrap()]);
    assert_eq!(server.uri, format!("nbds+unix:///?socket={}", socket.display()));
    if !have("nbdinfo") {
        return;
    }
    let uri = format!("nbds+unix:///a?socket={}&tls-certificates={}", socket.display(), pki.path().display());
    let out = Command::new("nbdinfo").arg(&uri).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("with TLS") && said.contains("8388608"), "{said}");
    let plain =
        Command::new("nbdinfo").arg(format!("nbd+unix:///a?socket={}", socket.display())).output().unwrap();
    assert!(!plain.status.success(), "a client without TLS got in");
    assert!(server.signal_and_wait("TERM").success());
}

#[test]
fn bad_tls_settings_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_irpstack");
    let socket = dir.path().join("s.sock");
    let socket = socket.to_str().unwrap();
    let fails = |args: &[&str]| {
        let out = Command::new(bin)
            .args(["serve", "--stack", "memory(size=1M)", "--socket", socket])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    let e = fails(&["--tls", "require"]);
    assert!(e.contains("no certificates directory") && e.contains("--tls-certificates"), "{e}");
    let e = fails(&["--tls", "maybe"]);
    assert!(e.contains("expected off, on or require"), "{e}");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = fails(&["--tls", "on", "--tls-certificates", empty.to_str().unwrap()]);
    assert!(e.contains(&empty.join("server-cert.pem").display().to_string()), "{e}");
    let help = Command::new(bin).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--tls-verify-peer") && help.contains("server-key.pem"), "{help}");
}
