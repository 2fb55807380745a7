//! A server running in a thread of the test, on a Unix socket in a temporary directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use std::sync::Arc;

use irp::IoManager;
use nbd_server::{ExportConfig, Limits, Listen, Server, ServerConfig, ServerHandle, TlsConfig};

pub struct Running {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    handle: ServerHandle,
    thread: Option<JoinHandle<Result<(), String>>>,
}

/// An export of `spec` (relative paths land in the test's directory).
pub fn export(name: &str, spec: &str) -> ExportConfig {
    ExportConfig::new(name, spec.parse().expect("valid spec"))
}

impl Running {
    pub fn start(exports: Vec<ExportConfig>) -> Running {
        Running::with_limits(exports, Limits::default())
    }

    pub fn with_limits(exports: Vec<ExportConfig>, limits: Limits) -> Running {
        Running::with_tls(exports, limits, TlsConfig::default())
    }

    /// With TLS settings (their certificates directory made beforehand).
    pub fn with_tls(exports: Vec<ExportConfig>, limits: Limits, tls: TlsConfig) -> Running {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("nbd.sock");
        let mut config = ServerConfig::new().listen(Listen::Unix(socket.clone()));
        config.exports = exports;
        config.limits = limits;
        config.tls = tls;
        config.build = config.build.with_base_dir(dir.path());
        let manager = Arc::new(IoManager::new());
        let server = Server::bind(config, Arc::clone(&manager)).expect("server starts");
        assert_eq!(server.socket_path(), Some(socket.as_path()));
        let handle = server.handle();
        // As `irpstack serve` does: the stacks shut down once the server stopped.
        let thread = std::thread::spawn(move || {
            server.run().map_err(|e| e.to_string())?;
            manager.shutdown().map_err(|e| format!("shutdown: {e}"))
        });
        Running { dir, socket, handle, thread: Some(thread) }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Stops the server and returns what `run` returned; the directory stays until drop.
    pub fn stop(&mut self) -> Result<(), String> {
        self.handle.stop();
        self.thread.take().expect("running").join().expect("server thread")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.stop();
            let _ = thread.join();
        }
    }
}
