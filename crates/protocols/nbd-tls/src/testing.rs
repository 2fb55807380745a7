//! For tests: a certificates directory made with the `openssl` command-line tool — a CA,
//! a server certificate for `localhost` and `127.0.0.1`, a client certificate — in the
//! layout [`certs`](crate::certs) reads (and qemu-nbd and nbdkit read).

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether the `openssl` tool can be run.
pub fn have_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn openssl(dir: &Path, args: &[&str]) -> io::Result<()> {
    let out = Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(io::Error::other(format!("openssl {}: {}: {stderr}", args.join(" "), out.status)))
}

/// Writes `ca-cert.pem` (and `ca-key.pem`), `server-cert.pem`, `server-key.pem`,
/// `client-cert.pem` and `client-key.pem` into `dir` (P-256 keys, valid for two days).
pub fn make_pki(dir: &Path) -> io::Result<()> {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca-cert.pem",
        "-days",
        "2",
        "-subj",
        "/CN=irpstack test CA",
    ]);
    ca.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca)?;
    let leaf = |who: &str, extensions: &str| -> io::Result<()> {
        let (key, csr, cert, ext) =
            (format!("{who}-key.pem"), format!("{who}.csr"), format!("{who}-cert.pem"), format!("{who}.ext"));
        std::fs::write(dir.join(&ext), extensions)?;
        let subject = format!("/CN={who}");
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
        openssl(dir, &req)?;
        let sign = ["x509", "-req", "-in", &csr, "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem"];
        let mut sign = sign.to_vec();
        sign.extend(["-CAcreateserial", "-out", &cert, "-days", "2", "-extfile", &ext]);
        openssl(dir, &sign)
    };
    let usage = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n";
    leaf(
        "server",
        &format!("{usage}extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"),
    )?;
    leaf("client", &format!("{usage}extendedKeyUsage=clientAuth\n"))
}
