//! Throughput sanity, not a timed test (ignored by default; run with
//! `cargo test --release -p fs --test fs_perf -- --ignored --nocapture`): 100,000 files
//! created in one directory, looked up, listed, removed.

mod write_support;

use std::sync::Arc;
use std::time::Instant;

use fs::mkfs::{MkfsOptions, mkfs};
use fs::{MemoryDevice, ROOT};
use write_support::*;

const N: usize = 100_000;

#[test]
#[ignore = "throughput sanity; run in release with --ignored"]
fn a_hundred_thousand_files_in_one_directory() {
    let dev = Arc::new(MemoryDevice::new(1 << 30));
    let mut o = MkfsOptions::from_seed(1);
    o.inode_ratio = 4096;
    mkfs(&*dev, &o).unwrap();
    let fs = mount(&dev);
    let d = fs.mkdir(ROOT, b"big", 0o755, 0, 0).unwrap().ino;
    let t = Instant::now();
    for i in 0..N {
        fs.create(d, format!("file-{i:06}").as_bytes(), 0o644, 0, 0).unwrap();
    }
    let create = t.elapsed();
    let t = Instant::now();
    fs.commit().unwrap();
    let commit = t.elapsed();
    let t = Instant::now();
    for i in (0..N).rev() {
        fs.lookup(d, format!("file-{i:06}").as_bytes()).unwrap();
    }
    let lookup = t.elapsed();
    let t = Instant::now();
    let n = list(&fs, d).len();
    let listing = t.elapsed();
    assert_eq!(n, N);
    fs.unmount().unwrap();
    let t = Instant::now();
    let fs = mount(&dev);
    fs.lookup(d, b"file-050000").unwrap();
    let cold = t.elapsed();
    let t = Instant::now();
    for i in 0..N {
        fs.unlink(d, format!("file-{i:06}").as_bytes()).unwrap();
    }
    let unlink = t.elapsed();
    fs.unmount().unwrap();
    eprintln!(
        "{N} files in one directory: create {create:.2?} ({:.0}/s), commit {commit:.2?}, lookup {lookup:.2?}, \
         readdir {listing:.2?}, remount + first lookup (index build) {cold:.2?}, unlink {unlink:.2?} ({:.0}/s)",
        N as f64 / create.as_secs_f64(),
        N as f64 / unlink.as_secs_f64()
    );
    assert_fsck(&dev, "after 100,000 creates and unlinks");
}
