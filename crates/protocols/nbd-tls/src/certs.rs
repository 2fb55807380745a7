//! X.509 credentials from a certificates directory (the qemu-nbd / nbdkit layout).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The CA that signs the peer's certificate.
pub const CA_CERT: &str = "ca-cert.pem";
/// The server's certificate (chain).
pub const SERVER_CERT: &str = "server-cert.pem";
/// The server's private key.
pub const SERVER_KEY: &str = "server-key.pem";
/// The client's certificate (chain), optional.
pub const CLIENT_CERT: &str = "client-cert.pem";
/// The client's private key, with [`CLIENT_CERT`].
pub const CLIENT_KEY: &str = "client-key.pem";

/// Why credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable or not PEM.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The certificate and the key do not go together, or rustls refused them.
    #[error("{}: {reason}", path.display())]
    Credentials {
        /// The directory.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// rustls' `ring` provider: deprecated for want of post-quantum key exchange, but the
/// `aws-lc-rs` one needs cmake and a long C build; classical X.509 and ECDHE are what
/// qemu-nbd and nbdkit peers use.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File { path: path.to_owned(), reason: reason.to_string() }
}

/// Checks that `path` can be read (a clearer message than the PEM parser's).
fn readable(path: &Path) -> Result<(), TlsError> {
    std::fs::File::open(path).map(drop).map_err(|e| file_error(path, e))
}

/// Every certificate in a PEM file (at least one).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    readable(path)?;
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    readable(path)?;
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error(path, format!("no usable private key: {e}")))
}

fn roots(dir: &Path) -> Result<RootCertStore, TlsError> {
    let path = dir.join(CA_CERT);
    let mut roots = RootCertStore::empty();
    for cert in load_certs(&path)? {
        roots.add(cert).map_err(|e| file_error(&path, e))?;
    }
    Ok(roots)
}

/// A certificate chain and its key, checked to belong together.
fn certified(
    dir: &Path,
    cert: &str,
    key: &str,
    provider: &CryptoProvider,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let certs = load_certs(&dir.join(cert))?;
    let key_der = load_key(&dir.join(key))?;
    let credentials = |reason: String| TlsError::Credentials { path: dir.to_owned(), reason };
    CertifiedKey::from_der(certs.clone(), key_der.clone_key(), provider)
        .map_err(|e| credentials(format!("{cert} and {key} do not go together: {e}")))?;
    Ok((certs, key_der))
}

/// The server's configuration from `dir`: `server-cert.pem`, `server-key.pem`, and with
/// `verify_peer` `ca-cert.pem`, which must have signed the certificate every client shows.
pub fn server_config(dir: &Path, verify_peer: bool) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let credentials = |reason: String| TlsError::Credentials { path: dir.to_owned(), reason };
    let (certs, key) = certified(dir, SERVER_CERT, SERVER_KEY, &provider)?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| credentials(e.to_string()))?;
    let builder = if verify_peer {
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(dir)?), provider)
            .build()
            .map_err(|e| credentials(format!("{CA_CERT}: {e}")))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| credentials(e.to_string()))?;
    Ok(Arc::new(config))
}

/// The client's configuration from `dir`: `ca-cert.pem` verifies the server;
/// `client-cert.pem` and `client-key.pem`, if there, are shown to a server that asks.
pub fn client_config(dir: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let credentials = |reason: String| TlsError::Credentials { path: dir.to_owned(), reason };
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| credentials(e.to_string()))?
        .with_root_certificates(roots(dir)?);
    let config = if dir.join(CLIENT_CERT).exists() {
        let (certs, key) = certified(dir, CLIENT_CERT, CLIENT_KEY, &provider)?;
        builder.with_client_auth_cert(certs, key).map_err(|e| credentials(e.to_string()))?
    } else {
        builder.with_no_client_auth()
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn pki() -> Option<tempfile::TempDir> {
        if !crate::testing::have_openssl() {
            irp::testing::skip("openssl not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        crate::testing::make_pki(dir.path()).unwrap();
        Some(dir)
    }

    #[test]
    fn a_good_directory_loads_for_both_sides() {
        let Some(dir) = pki() else { return };
        server_config(dir.path(), false).unwrap();
        server_config(dir.path(), true).unwrap();
        client_config(dir.path()).unwrap();
    }

    #[test]
    fn errors_name_the_file() {
        let Some(dir) = pki() else { return };
        let d = dir.path();
        std::fs::remove_file(d.join(SERVER_KEY)).unwrap();
        let e = server_config(d, false).unwrap_err().to_string();
        assert!(e.contains("server-key.pem") && e.contains("No such file"), "{e}");

        // Another key than the certificate's.
        std::fs::copy(d.join(CLIENT_KEY), d.join(SERVER_KEY)).unwrap();
        let e = server_config(d, false).unwrap_err().to_string();
        assert!(e.contains("server-cert.pem and server-key.pem do not go together"), "{e}");

        std::fs::write(d.join(SERVER_CERT), "not PEM at all\n").unwrap();
        let e = server_config(d, false).unwrap_err().to_string();
        assert!(e.contains("server-cert.pem") && e.contains("no CERTIFICATE"), "{e}");

        std::fs::write(d.join(CLIENT_KEY), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap();
        let e = client_config(d).unwrap_err().to_string();
        assert!(e.contains("client-key.pem"), "{e}");

        std::fs::remove_file(d.join(CA_CERT)).unwrap();
        let e = client_config(d).unwrap_err().to_string();
        assert!(e.contains("ca-cert.pem") && e.contains("No such file"), "{e}");
    }

    #[test]
    fn verify_peer_needs_the_ca() {
        let Some(dir) = pki() else { return };
        std::fs::remove_file(dir.path().join(CA_CERT)).unwrap();
        server_config(dir.path(), false).unwrap();
        let e = server_config(dir.path(), true).unwrap_err().to_string();
        assert!(e.contains("ca-cert.pem") && e.contains("No such file"), "{e}");
    }
}
