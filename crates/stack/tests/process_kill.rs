//! A child process holding a write-back cache over a file is SIGKILLed in the middle
//! of its workload; everything its flushes acknowledged is in the file afterwards.
//!
//! The test binary runs itself as the child (`child_workload`, active only when
//! `IRPSTACK_KILL_CHILD` names the image). The child writes block after block through
//! `cache / file`, flushes every few writes, and after each successful flush prints
//! `acked N`: blocks `0..N` were written before that flush was sent.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use irp::{Access, IoManager};
use stack::{BuildContext, DriverRegistry};

const BLOCK: usize = 4096;
const BLOCKS: u64 = 4096;
const CHILD_ENV: &str = "IRPSTACK_KILL_CHILD";

fn pattern(block: u64) -> Vec<u8> {
    let mut data = vec![(block % 251) as u8 + 1; BLOCK];
    data[..8].copy_from_slice(&block.to_le_bytes());
    data
}

#[test]
fn child_workload() {
    let Ok(image) = std::env::var(CHILD_ENV) else { return };
    let engine = std::env::var("IRPSTACK_KILL_ENGINE").unwrap_or_else(|_| "pool".into());
    let spec = format!(
        "cache(size=1M,interval=1h) / file(path={image},size={},direct=true,engine={engine})",
        BLOCKS * BLOCK as u64
    );
    let top = DriverRegistry::builtin().build_str(&spec, &BuildContext::new()).unwrap();
    let io = IoManager::new();
    io.register("d", &top).unwrap();
    let h = io.open("d", Access::READ_WRITE).unwrap();
    for block in 0..BLOCKS {
        h.write(block * BLOCK as u64, &pattern(block)).unwrap();
        if block % 7 == 6 {
            h.flush_buffers().unwrap();
            println!("acked {}", block + 1);
        }
    }
    // Never finish on its own: the parent kills it.
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn kill_mid_workload(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("disk.img");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_workload", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &image)
        .env("IRPSTACK_KILL_ENGINE", engine)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let mut acked = 0;
    // Kill it somewhere in the middle: after a few hundred acknowledged blocks.
    while acked < 300 {
        assert!(started.elapsed() < Duration::from_secs(60), "the child made no progress");
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(n) = line.strip_prefix("acked ") {
                    acked = n.trim().parse().unwrap();
                }
            }
            _ => panic!("the child ended before it was killed (acked {acked})"),
        }
    }
    child.kill().unwrap(); // SIGKILL: no shutdown, no destructors, the cache's memory is gone
    child.wait().unwrap();
    // Lines printed between our last read and the kill count too.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("acked ") {
            acked = acked.max(n.trim().parse().unwrap());
        }
    }
    let file = std::fs::read(&image).unwrap();
    for block in 0..acked {
        let at = block as usize * BLOCK;
        assert!(
            file[at..at + BLOCK] == pattern(block)[..],
            "{engine}: acknowledged block {block} of {acked} is not in the file (first bytes {:?})",
            &file[at..at + 8]
        );
    }
}

#[test]
fn sigkill_keeps_every_acknowledged_flush_pool_engine() {
    kill_mid_workload("pool");
}

#[test]
fn sigkill_keeps_every_acknowledged_flush_uring_engine() {
    kill_mid_workload("uring");
}
