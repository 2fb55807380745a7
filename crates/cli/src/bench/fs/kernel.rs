//! The kernel's side of `bench fs`: `mkfs.ext4` on a sparse image, a loop device, a mount in
//! the bench directory, the same rows through std::fs and fsync; then unmount and detach,
//! whatever happened (the guard runs on every path out).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};

use super::{Plan, ROWS, Rates};
use crate::bench::io::XorShift;

fn sh(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(program).args(args).output().with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The mount and the loop device, undone when dropped.
struct Mounted {
    loop_dev: String,
    mountpoint: PathBuf,
    mounted: bool,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.mounted {
            let _ = sh("umount", &[self.mountpoint.to_str().unwrap_or_default()]);
        }
        let _ = sh("losetup", &["-d", &self.loop_dev]);
    }
}

pub fn run(dir: &Path, size: u64, plan: &Plan) -> anyhow::Result<Rates> {
    let image = dir.join("kernel.img");
    File::create(&image)?.set_len(size)?;
    sh("mkfs.ext4", &["-F", "-q", image.to_str().context("path")?])?;
    let loop_dev = sh("losetup", &["--find", "--show", image.to_str().context("path")?])?;
    let mut m = Mounted { loop_dev, mountpoint: dir.join("kernel-mnt"), mounted: false };
    std::fs::create_dir_all(&m.mountpoint)?;
    sh("mount", &[&m.loop_dev, m.mountpoint.to_str().context("path")?])?;
    m.mounted = true;
    rows(&m.mountpoint, plan)
}

fn per_s(n: u64, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64()
}

fn rows(root: &Path, plan: &Plan) -> anyhow::Result<Rates> {
    let mut rates = [0.0; ROWS.len()];
    let d = root.join("d");
    std::fs::create_dir(&d)?;
    let name = |i: u64| d.join(format!("f{i:07}"));
    let start = Instant::now();
    for i in 0..plan.files {
        OpenOptions::new().write(true).create_new(true).open(name(i))?;
    }
    rates[0] = per_s(plan.files, start);
    let start = Instant::now();
    for i in 0..plan.files {
        File::open(name(i))?;
    }
    rates[1] = per_s(plan.files, start);
    let start = Instant::now();
    for i in 0..plan.files {
        std::fs::metadata(name(i))?;
    }
    rates[2] = per_s(plan.files, start);
    let start = Instant::now();
    for i in 0..plan.files {
        std::fs::remove_file(name(i))?;
    }
    rates[3] = per_s(plan.files, start);

    let file_size = plan.write_file;
    let f = OpenOptions::new().read(true).write(true).create_new(true).open(root.join("rw"))?;
    let chunk = vec![0x5Au8; 1 << 20];
    for off in (0..file_size).step_by(1 << 20) {
        f.write_all_at(&chunk, off)?;
    }
    f.sync_all()?;
    let block = vec![0xA5u8; 4096];
    // The same offsets as our side.
    let mut rng = XorShift::new(0);
    let start = Instant::now();
    let mut writes = 0u64;
    while start.elapsed() < plan.write_time {
        f.write_all_at(&block, (rng.next() % (file_size / 4096)) * 4096)?;
        writes += 1;
        if writes.is_multiple_of(16) {
            f.sync_all()?;
        }
    }
    rates[4] = per_s(writes, start);

    let durable = root.join("durable");
    std::fs::create_dir(&durable)?;
    let dir = File::open(&durable)?;
    let start = Instant::now();
    for i in 0..plan.durable {
        let f = OpenOptions::new().write(true).create_new(true).open(durable.join(format!("f{i:07}")))?;
        f.write_all_at(&block, 0)?;
        f.sync_all()?;
        dir.sync_all()?;
    }
    rates[5] = per_s(plan.durable, start);
    if rates.iter().any(|r| !r.is_finite()) {
        return Err(anyhow!("a row ran too fast to time"));
    }
    Ok(rates)
}
