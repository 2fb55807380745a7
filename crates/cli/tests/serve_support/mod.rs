//! Running `irpstack serve` as a child process, and the NBD tools that talk to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `irpstack serve`, killed (SIGKILL) and reaped when dropped.
pub struct Served {
    child: Option<Child>,
    /// The first `listening on` URI.
    pub uri: String,
    /// The Unix socket, if it listens on one.
    pub socket: Option<PathBuf>,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

/// Starts `irpstack serve ARGS` in `cwd` and waits (up to 30 s) for its `listening on` line.
pub fn serve(cwd: &Path, args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_irpstack"))
        .arg("serve")
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("irpstack runs");
    let (tx, stdout) = channel();
    let out = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut err = child.stderr.take().expect("piped");
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut served = Served { child: Some(child), uri: String::new(), socket: None, stdout, stderr };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match served.stdout.recv_timeout(left) {
            Ok(line) => {
                if let Some(uri) = line.strip_prefix("listening on ") {
                    served.uri = uri.to_owned();
                    served.socket = uri.strip_prefix("nbd+unix:///?socket=").map(PathBuf::from);
                    return served;
                }
            }
            Err(_) => panic!("irpstack serve did not start; stderr:\n{}", served.stderr()),
        }
    }
}

impl Served {
    /// The lines printed after `listening on`, up to and with the one starting with `last`
    /// (waiting up to 10 s).
    pub fn lines_until(&self, last: &str) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(10)) {
            let done = line.starts_with(last);
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// [`Served::signal_and_wait`], then what the server wrote to stderr (all of it: the
    /// pipe was read to its end).
    pub fn signal_and_collect(self, signal: &str) -> (ExitStatus, String) {
        let stderr = Arc::clone(&self.stderr);
        let status = self.signal_and_wait(signal);
        // The reader thread ends at the pipe's end, just after the exit.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&stderr) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let text = stderr.lock().unwrap().clone();
        (status, text)
    }

    /// Sends `signal` (`KILL`, `TERM`) and waits for the exit (up to 30 s).
    pub fn signal_and_wait(mut self, signal: &str) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status();
        assert!(sent.expect("kill runs").success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not exit after SIG{signal}; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether `tool` runs; reports the test as skipped ([`irp::testing::skip`]) when it does not.
pub fn have(tool: &str) -> bool {
    let found =
        Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        irp::testing::skip(format_args!("{tool} not installed"));
    }
    found
}

/// Runs `tool ARGS` and returns its output; panics with its output when it fails.
pub fn run(tool: &str, args: &[&str]) -> Output {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `qemu-io -f raw -c C1 -c C2 ... URI`; panics unless every command succeeded.
pub fn qemu_io(uri: &str, commands: &[&str]) -> String {
    let mut args = vec!["-f", "raw"];
    for c in commands {
        args.extend(["-c", c]);
    }
    args.push(uri);
    let output = run("qemu-io", &args);
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(!text.contains("failed") && !text.contains("error"), "qemu-io {commands:?}:\n{text}");
    text
}

/// `len` bytes from a seeded xorshift generator (the same seed gives the same bytes).
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}
