//! The NBD client disk over TLS (`nbds+unix://`) against qemu-nbd (a `tls-creds-x509`
//! object) and nbdkit (`--tls=require --tls-certificates`), with client certificates
//! checked; refused without TLS, and with a CA that did not sign the server's certificate.

mod nbd_support;

use std::path::Path;

use disks::nbd::{NbdDisk, NbdError, NbdOptions, NbdUri};
use irp::{MajorFunction, Status};
use nbd_support::{Server, installed, open, pattern, qemu_nbd, smoke};

fn pki() -> Option<tempfile::TempDir> {
    if !nbd_tls::testing::have_openssl() {
        irp::testing::skip("openssl not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    nbd_tls::testing::make_pki(dir.path()).unwrap();
    Some(dir)
}

fn tls_uri(server: &Server, certificates: &Path) -> NbdUri {
    server.uri().with_tls(Some(certificates.to_owned()))
}

/// What every TLS server must do with the disk: the smoke test, a reconnection (which
/// redoes TLS), and refusals of a plain client and of one that trusts another CA.
fn check(server: &Server, pki: &Path) {
    let (_io, device, h) = open(tls_uri(server, pki));
    smoke(&device, &h);
    h.write(60 << 20, &pattern(4096, 9)).unwrap();
    let shutdown = irp::Irp::for_device(&device, MajorFunction::Shutdown);
    assert_eq!(device.call_and_wait(shutdown).status(), Status::SUCCESS, "flush and disconnect");
    assert_eq!(h.read(60 << 20, 4096).unwrap().bytes(), &pattern(4096, 9)[..], "reconnected over TLS");

    let plain = NbdDisk::connect("plain", &NbdOptions::new(server.uri())).unwrap_err();
    assert!(matches!(plain, NbdError::Handshake { .. }), "{plain}");

    let other = pki_or_panic();
    let e = NbdDisk::connect("other", &NbdOptions::new(tls_uri(server, other.path()))).unwrap_err();
    assert!(e.to_string().contains("TLS handshake"), "{e}");
}

fn pki_or_panic() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    nbd_tls::testing::make_pki(dir.path()).unwrap();
    dir
}

#[test]
fn qemu_nbd_over_tls() {
    let Some(pki) = pki() else { return };
    let dir = tempfile::tempdir().unwrap();
    let object = format!(
        "--object=tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=on",
        pki.path().display()
    );
    let Some(server) = qemu_nbd(dir.path(), &[&object, "--tls-creds=tls0"]) else { return };
    check(&server, pki.path());
}

#[test]
fn nbdkit_over_tls() {
    if !installed("nbdkit") {
        return;
    }
    let Some(pki) = pki() else { return };
    let dir = tempfile::tempdir().unwrap();
    let certificates = format!("--tls-certificates={}", pki.path().display());
    let args = ["--tls=require", &certificates, "--tls-verify-peer", "memory", "64M"];
    let server = Server::nbdkit(&dir.path().join("S"), &args);
    check(&server, pki.path());

    // The certificates directory as the option rather than in the URI.
    let mut options = NbdOptions::new(server.uri().with_tls(None));
    options.tls_certificates = Some(pki.path().to_owned());
    NbdDisk::connect("option", &options).unwrap();
    let missing = NbdDisk::connect("none", &NbdOptions::new(server.uri().with_tls(None))).unwrap_err();
    assert!(missing.to_string().contains("needs a certificates directory"), "{missing}");
}
