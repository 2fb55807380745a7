//! Throughput sanity, not a timed test (ignored by default; run with
//! `cargo test --release -p fs --test fs_perf -- --ignored --nocapture`): 100,000 files
//! created in one directory, looked up, listed, removed.

mod write_support;

use std::sync::Arc;
use std::time::Instant;

use fs::mkfs::{MkfsOptions, mkfs};
use fs::{BlockDevice, Filesystem, MemoryDevice, ROOT};
use write_support::*;

const N: usize = 100_000;

/// Creates, looks up, lists and removes [`N`] files in one directory of a fresh 1 GiB
/// volume on `dev`; prints the times.
fn hundred_thousand(dev: Arc<dyn BlockDevice>, what: &str) {
    let mut o = MkfsOptions::from_seed(1);
    o.inode_ratio = 4096;
    mkfs(&*dev, &o).unwrap();
    let fs = Filesystem::mount(Arc::clone(&dev), opts()).unwrap();
    let d = fs.mkdir(ROOT, b"big", 0o755, 0, 0).unwrap().ino;
    let t = Instant::now();
    for i in 0..N {
        fs.create(d, format!("file-{i:06}").as_bytes(), 0o644, 0, 0).unwrap();
    }
    let create = t.elapsed();
    let t = Instant::now();
    fs.sync().unwrap();
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
    let fs = Filesystem::mount(Arc::clone(&dev), opts()).unwrap();
    fs.lookup(d, b"file-050000").unwrap();
    let cold = t.elapsed();
    let t = Instant::now();
    for i in 0..N {
        fs.unlink(d, format!("file-{i:06}").as_bytes()).unwrap();
    }
    let unlink = t.elapsed();
    fs.unmount().unwrap();
    eprintln!(
        "{what}: {N} files in one directory: create {create:.2?} ({:.0}/s), sync {commit:.2?}, lookup {lookup:.2?}, \
         readdir {listing:.2?}, remount + first lookup (index build) {cold:.2?}, unlink {unlink:.2?} ({:.0}/s)",
        N as f64 / create.as_secs_f64(),
        N as f64 / unlink.as_secs_f64()
    );
}

#[test]
#[ignore = "throughput sanity; run in release with --ignored"]
fn a_hundred_thousand_files_in_one_directory() {
    let dev = Arc::new(MemoryDevice::new(1 << 30));
    hundred_thousand(Arc::clone(&dev) as Arc<dyn BlockDevice>, "memory device");
    assert_fsck(&dev, "after 100,000 creates and unlinks");
}

#[test]
#[ignore = "throughput sanity; run in release with --ignored"]
fn a_hundred_thousand_files_in_one_directory_on_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img");
    std::fs::File::create(&path).unwrap().set_len(1 << 30).unwrap();
    hundred_thousand(Arc::new(fs::FileDevice::open(&path).unwrap()), "image file (fdatasync as flush)");
    assert_fsck_file(&path, "after 100,000 creates and unlinks on a file");
}

#[test]
#[ignore = "throughput sanity; run in release with --ignored"]
fn sequential_and_random_data() {
    let dev = Arc::new(MemoryDevice::new(1 << 30));
    mkfs(&*dev, &MkfsOptions::from_seed(2)).unwrap();
    let fs = mount(&dev);
    let f = fs.create(ROOT, b"data", 0o644, 0, 0).unwrap().ino;
    let chunk = pattern(1, 1 << 20);
    let t = Instant::now();
    for i in 0..512u64 {
        fs.write(f, i << 20, &chunk).unwrap();
    }
    fs.fsync(f, false).unwrap();
    let seq = t.elapsed();
    let t = Instant::now();
    let mut x = 12345u64;
    for i in 0..20_000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let off = (x >> 16) % (512 << 20) / 4096 * 4096;
        fs.write(f, off, &chunk[..4096]).unwrap();
        if i % 100 == 99 {
            fs.fsync(f, true).unwrap();
        }
    }
    let random = t.elapsed();
    let t = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..512u64 {
        fs.read(f, i << 20, &mut buf).unwrap();
    }
    let read = t.elapsed();
    let t = Instant::now();
    fs.unlink(ROOT, b"data").unwrap();
    fs.sync().unwrap();
    let unlink = t.elapsed();
    fs.unmount().unwrap();
    eprintln!(
        "512 MiB in 1 MiB writes + fsync {seq:.2?} ({:.0} MiB/s); 20,000 random 4 KiB overwrites, fdatasync every 100, {random:.2?}; \
         512 MiB read {read:.2?} ({:.0} MiB/s); unlink + sync {unlink:.2?}",
        512.0 / seq.as_secs_f64(),
        512.0 / read.as_secs_f64()
    );
    assert_fsck(&dev, "after the data test");
}
