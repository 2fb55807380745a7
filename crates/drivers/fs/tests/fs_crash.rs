//! Crash safety. A workload runs on the crash disk (`disks::crash`, the recorder the crash
//! checker `crashcheck::fs` uses too), which records every write and flush; crash states keep every write before the last flush before a cut and, of the writes after it,
//! any subset, some of them torn (only some of their 512-byte sectors written). Each state
//! must mount (journal replay, orphans finished), hold every file a completed fsync covered
//! with its exact size and contents, read back whole without errors, unmount, and, for a
//! sample, pass e2fsck -fn without a word.

mod write_support;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use disks::crash::{CrashDisk, DiskEvent as Rec};
use fs::filesystem::RenameMode;
use fs::lower_device::LowerDevice;
use fs::{BlockDevice, Filesystem, MemoryDevice, ROOT};
use proptest::prelude::*;
use write_support::*;

/// The file system's device: the crash disk, recording, under `LowerDevice`.
struct Recording {
    disk: Arc<CrashDisk>,
    dev: Arc<dyn BlockDevice>,
    /// What the disk recorded, taken from it as the test goes.
    log: Mutex<Vec<Rec>>,
}

impl Recording {
    fn new(image: Vec<u8>) -> Arc<Recording> {
        let disk = CrashDisk::with_image(image, 512).expect("crash disk");
        disk.start_recording(Arc::new(AtomicU64::new(1)));
        let device = CrashDisk::create("crash", Arc::clone(&disk)).expect("crash disk device");
        let dev = Arc::new(LowerDevice::new(&device).expect("its size"));
        Arc::new(Recording { disk, dev, log: Mutex::new(Vec::new()) })
    }

    /// Everything recorded so far.
    fn log(&self) -> Vec<Rec> {
        let mut log = self.log.lock().unwrap();
        log.extend(self.disk.take_events());
        log.clone()
    }

    fn len(&self) -> usize {
        self.log().len()
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A file written (and maybe truncated), then fsynced (or fdatasynced); never touched again.
    Durable {
        writes: Vec<(u32, u16, u8)>,
        truncate: Option<u32>,
        datasync: bool,
        in_subdir: bool,
    },
    NoiseCreate(u8),
    NoiseWrite(u8, u32, u16),
    NoiseUnlink(u8),
    NoiseRename(u8, u8),
    NoiseTruncate(u8, u32),
    Mkdir(u8),
    Commit,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (proptest::collection::vec((0u32..200_000, 1u16..30_000, any::<u8>()), 1..4),
              proptest::option::of(0u32..150_000), any::<bool>(), any::<bool>())
            .prop_map(|(writes, truncate, datasync, in_subdir)| Step::Durable { writes, truncate, datasync, in_subdir }),
        2 => (0u8..8).prop_map(Step::NoiseCreate),
        3 => (0u8..8, 0u32..300_000, 1u16..40_000).prop_map(|(n, o, l)| Step::NoiseWrite(n, o, l)),
        1 => (0u8..8).prop_map(Step::NoiseUnlink),
        1 => (0u8..8, 0u8..8).prop_map(|(a, b)| Step::NoiseRename(a, b)),
        1 => (0u8..8, 0u32..200_000).prop_map(|(n, s)| Step::NoiseTruncate(n, s)),
        1 => (0u8..4).prop_map(Step::Mkdir),
        1 => Just(Step::Commit),
    ]
}

/// A file a completed fsync covered: where it is, what it holds, and the log position
/// after which it must survive.
#[derive(Debug, Clone)]
struct Durable {
    dir: Vec<u8>,
    name: Vec<u8>,
    data: Vec<u8>,
    after: usize,
}

/// Runs the workload; returns the log and the durable files.
fn workload(rec: &Arc<Recording>, steps: &[Step], small_limits: bool, eager: bool) -> Vec<Durable> {
    // Small limits: the cache evicts, transactions commit and checkpoints run all the time.
    let mut o = if small_limits {
        fs::MountOptions { cache_blocks: 16, pinned_blocks: 24, max_transaction_blocks: 8, ..opts() }
    } else {
        opts()
    };
    if eager {
        o.commit_interval = std::time::Duration::ZERO; // the periodic commit before every operation
    }
    let fs = Filesystem::mount(Arc::clone(&rec.dev), o).unwrap();
    let sub = fs.mkdir(ROOT, b"sub", 0o755, 0, 0).unwrap().ino;
    let mut durable = Vec::new();
    let noise = |n: u8| format!("noise{n}").into_bytes();
    for (k, s) in steps.iter().enumerate() {
        match s {
            Step::Durable { writes, truncate, datasync, in_subdir } => {
                let (dir, dname) = if *in_subdir { (sub, b"sub".to_vec()) } else { (ROOT, Vec::new()) };
                let name = format!("durable{k}").into_bytes();
                let f = fs.create(dir, &name, 0o644, 0, 0).unwrap().ino;
                let mut data = Vec::new();
                for &(off, len, seed) in writes {
                    let d = pattern(u64::from(seed) + 7 * k as u64, usize::from(len));
                    fs.write(f, u64::from(off), &d).unwrap();
                    let end = off as usize + d.len();
                    if data.len() < end {
                        data.resize(end, 0);
                    }
                    data[off as usize..end].copy_from_slice(&d);
                }
                if let Some(t) = truncate {
                    fs.truncate(f, u64::from(*t)).unwrap();
                    data.resize(*t as usize, 0);
                }
                fs.fsync(f, *datasync).unwrap();
                durable.push(Durable { dir: dname, name, data, after: rec.len() });
            }
            Step::NoiseCreate(n) => {
                let _ = fs.create(ROOT, &noise(*n), 0o644, 0, 0);
            }
            Step::NoiseWrite(n, off, len) => {
                if let Ok(a) = fs.lookup(ROOT, &noise(*n)) {
                    let _ = fs.write(a.ino, u64::from(*off), &pattern(u64::from(*len), usize::from(*len)));
                }
            }
            Step::NoiseUnlink(n) => {
                let _ = fs.unlink(ROOT, &noise(*n));
            }
            Step::NoiseRename(a, b) => {
                let _ = fs.rename(ROOT, &noise(*a), ROOT, &noise(*b), RenameMode::Replace);
            }
            Step::NoiseTruncate(n, size) => {
                if let Ok(a) = fs.lookup(ROOT, &noise(*n)) {
                    let _ = fs.truncate(a.ino, u64::from(*size));
                }
            }
            Step::Mkdir(n) => {
                let _ = fs.mkdir(sub, format!("d{n}").as_bytes(), 0o755, 0, 0);
            }
            Step::Commit => fs.commit().unwrap(),
        }
    }
    if steps.len().is_multiple_of(2) {
        fs.unmount().unwrap();
    } else {
        drop(fs); // the log ends without an unmount
    }
    durable
}

/// The image after a crash at log position `cut`; `pick` chooses, for each write after the
/// last flush, to drop it (0), keep it (1) or tear it (2: a sector subset from `bits`).
fn crash_image(base: &[u8], log: &[Rec], cut: usize, mut pick: impl FnMut() -> (u8, u64)) -> Vec<u8> {
    let last_flush = log[..cut].iter().rposition(|r| matches!(r, Rec::Flush { .. })).map_or(0, |i| i + 1);
    let mut img = base.to_vec();
    for (i, r) in log[..cut].iter().enumerate() {
        let Rec::Write { offset, data, .. } = r else { continue };
        let at = *offset as usize;
        if i < last_flush {
            img[at..at + data.len()].copy_from_slice(data);
            continue;
        }
        match pick() {
            (0, _) => {}
            (1, _) => img[at..at + data.len()].copy_from_slice(data),
            (_, bits) => {
                for (s, sector) in data.chunks(512).enumerate() {
                    if bits >> (s % 64) & 1 == 1 {
                        img[at + s * 512..at + s * 512 + sector.len()].copy_from_slice(sector);
                    }
                }
            }
        }
    }
    img
}

/// Mounts a crash state and checks the promises; with `fsck`, also e2fsck after unmount.
fn check_state(img: Vec<u8>, durable: &[Durable], cut: usize, fsck: bool) {
    let dev = Arc::new(MemoryDevice::from_image(img));
    let fs = Filesystem::mount(Arc::clone(&dev) as Arc<dyn BlockDevice>, opts())
        .unwrap_or_else(|e| panic!("cut {cut}: mount failed: {e}"));
    for d in durable.iter().filter(|d| d.after <= cut) {
        let dir = if d.dir.is_empty() { ROOT } else { fs.lookup(ROOT, &d.dir).unwrap().ino };
        let a = fs
            .lookup(dir, &d.name)
            .unwrap_or_else(|e| panic!("cut {cut}: fsynced {} lost: {e}", String::from_utf8_lossy(&d.name)));
        assert_eq!(a.size, d.data.len() as u64, "cut {cut}: size of {}", String::from_utf8_lossy(&d.name));
        assert!(
            read_all(&fs, a.ino) == d.data,
            "cut {cut}: contents of {}",
            String::from_utf8_lossy(&d.name)
        );
    }
    // Whatever else is there reads without error.
    let mut stack = vec![ROOT];
    while let Some(dir) = stack.pop() {
        for (name, ino) in list(&fs, dir) {
            let a = fs
                .getattr(ino)
                .unwrap_or_else(|e| panic!("cut {cut}: {}: {e}", String::from_utf8_lossy(&name)));
            match a.kind {
                fs::filesystem::FileKind::Directory => stack.push(ino),
                fs::filesystem::FileKind::Regular => {
                    read_all(&fs, ino);
                }
                _ => {}
            }
        }
    }
    fs.unmount().unwrap_or_else(|e| panic!("cut {cut}: unmount: {e}"));
    if fsck {
        assert_fsck(&dev, &format!("crash state at log position {cut}"));
    }
}

fn run(steps: &[Step], seed: u64, small_limits: bool, cut_count: usize, eager: bool) {
    let dev = fresh_device(16 << 20, seed);
    let base = dev.image();
    let rec = Recording::new(base.clone());
    let durable = workload(&rec, steps, small_limits, eager);
    let log = rec.log();
    if eager {
        // The journal is inode 8's blocks; count the log blocks written.
        let vol = fs::volume::Volume::open(MemoryDevice::from_image(base.clone())).unwrap();
        let j = vol.read_inode(8).unwrap();
        let fs::volume::Mapping::Mapped { physical, len, .. } = vol.map_block(8, &j, 0).unwrap() else {
            panic!()
        };
        let (lo, hi) = (physical * 4096, (physical + len) * 4096);
        let logged: u64 = log
            .iter()
            .map(|r| match r {
                Rec::Write { offset, data, .. } if *offset >= lo && *offset < hi => data.len() as u64 / 4096,
                _ => 0,
            })
            .sum();
        assert!(logged > len, "{logged} log blocks written to a {len}-block journal: no wrap-around");
    }
    if std::env::var("CRASH_DEBUG").is_ok() {
        for (i, r) in log.iter().enumerate() {
            match r {
                Rec::Write { offset, data, .. } => {
                    eprintln!("{i}: write block {} (+{}) {} bytes", offset / 4096, offset % 4096, data.len())
                }
                Rec::Flush { .. } => eprintln!("{i}: flush"),
            }
        }
    }
    let mut x = seed | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Cuts: random ones, just after each fsync, and the end.
    let mut cuts: Vec<usize> = (0..cut_count).map(|_| (rnd() % (log.len() as u64 + 1)) as usize).collect();
    cuts.extend(durable.iter().map(|d| d.after));
    cuts.push(log.len());
    for (i, &cut) in cuts.iter().enumerate() {
        let img = crash_image(&base, &log, cut, || {
            let r = rnd();
            ((r % 3) as u8, rnd())
        });
        check_state(img, &durable, cut, i % 9 == 0);
    }
    eprintln!(
        "{} steps, {} device writes and flushes, {} fsyncs: {} crash states mounted, {} checked by e2fsck",
        steps.len(),
        log.len(),
        durable.len(),
        cuts.len(),
        cuts.len().div_ceil(9)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 50, ..ProptestConfig::default() })]

    #[test]
    fn every_crash_state_mounts_and_keeps_what_fsync_covered(steps in proptest::collection::vec(step(), 1..40),
                                                           seed in any::<u64>(), small_limits in any::<bool>()) {
        run(&steps, seed, small_limits, 24, false);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, max_shrink_iters: 20, ..ProptestConfig::default() })]

    /// Long, committing before every operation: the journal wraps around its log.
    #[test]
    fn long_workloads_wrap_the_journal_and_still_recover(steps in proptest::collection::vec(step(), 250..300),
                                                        seed in any::<u64>()) {
        run(&steps, seed, false, 12, true);
    }
}

#[test]
fn an_unlinked_open_file_is_freed_after_a_crash() {
    let dev = fresh_device(16 << 20, 5);
    let fs = mount(&dev);
    let f = fs.create(ROOT, b"tmp", 0o644, 0, 0).unwrap().ino;
    fs.write(f, 0, &pattern(1, 1 << 20)).unwrap();
    fs.open(f).unwrap();
    fs.unlink(ROOT, b"tmp").unwrap();
    assert_eq!(read_all(&fs, f).len(), 1 << 20, "still readable while open");
    let free_while_open = fs.statfs().free_blocks;
    fs.sync().unwrap();
    drop(fs); // crash with the inode on the orphan list
    let fs = mount(&dev);
    assert!(fs.getattr(f).is_err(), "freed at mount");
    assert!(fs.statfs().free_blocks >= free_while_open + 256);
    fs.unmount().unwrap();
    assert_fsck(&dev, "after the orphan was freed");
}

/// The superblock's first sector from a newer version, its second (with the checksum) from
/// the older: what a torn write leaves.
fn tear_superblock(dev: &MemoryDevice, change: impl FnOnce(&mut fs::ondisk::superblock::Superblock)) {
    let mut raw = vec![0u8; 1024];
    dev.read_at(1024, &mut raw).unwrap();
    let mut sb = fs::ondisk::superblock::Superblock::decode(&raw).unwrap();
    change(&mut sb);
    sb.update_checksum();
    dev.write_at(1024, &sb.encode()[..512]).unwrap();
}

#[test]
fn a_superblock_torn_by_a_crash_is_taken_back_only_if_it_agrees_with_its_backup() {
    let dev = fresh_device(200 << 20, 6);
    let fs = mount(&dev);
    fs.create(ROOT, b"f", 0o644, 0, 0).unwrap();
    fs.unmount().unwrap();
    let clean = dev.image();
    tear_superblock(&dev, |sb| sb.mnt_count += 1);
    let fs = mount(&dev);
    fs.lookup(ROOT, b"f").unwrap();
    fs.unmount().unwrap();
    assert_fsck(&dev, "after the torn superblock was taken back");

    let dev = Arc::new(MemoryDevice::from_image(clean));
    tear_superblock(&dev, |sb| sb.inodes_per_group -= 16);
    let e = Filesystem::mount(Arc::clone(&dev) as Arc<dyn BlockDevice>, opts()).unwrap_err();
    assert!(e.to_string().contains("superblock"), "{e}");
}

/// Writes a block every 1000 blocks: a file whose blocks span more than one removal step.
fn spread_file(fs: &Filesystem, name: &[u8], seed: u64) -> (u32, Vec<(u64, Vec<u8>)>) {
    let f = fs.create(ROOT, name, 0o644, 0, 0).unwrap().ino;
    let mut blocks = Vec::new();
    for i in 0..120u64 {
        let d = pattern(seed + i, 4096);
        fs.write(f, i * 1000 * 4096, &d).unwrap();
        blocks.push((i * 1000 * 4096, d));
    }
    (f, blocks)
}

#[test]
fn a_truncation_or_an_unlink_cut_short_by_a_crash_is_finished_at_mount() {
    let dev = fresh_device(64 << 20, 61);
    let fs = mount(&dev);
    let (f, fblocks) = spread_file(&fs, b"truncated", 1);
    let (_, gblocks) = spread_file(&fs, b"unlinked", 500);
    let full_size = fs.getattr(f).unwrap().size;
    fs.unmount().unwrap();
    let base = dev.image();
    let rec = Recording::new(base.clone());
    let o = fs::MountOptions { commit_interval: std::time::Duration::ZERO, ..opts() };
    let fs = Filesystem::mount(Arc::clone(&rec.dev), o).unwrap();
    fs.truncate(f, 5000).unwrap();
    fs.unlink(ROOT, b"unlinked").unwrap();
    fs.unmount().unwrap();
    let log = rec.log();
    let flushes: Vec<usize> =
        log.iter().enumerate().filter(|(_, r)| matches!(r, Rec::Flush { .. })).map(|(i, _)| i + 1).collect();
    let mut states = 0;
    for (k, &cut) in flushes.iter().enumerate() {
        let img = crash_image(&base, &log, cut, || (1, 0));
        let dev = Arc::new(MemoryDevice::from_image(img));
        let fs = Filesystem::mount(Arc::clone(&dev) as Arc<dyn BlockDevice>, opts()).unwrap();
        let a = fs.getattr(f).unwrap();
        let data = read_all(&fs, f);
        if a.size == full_size {
            for (off, d) in &fblocks {
                assert!(data[*off as usize..*off as usize + 4096] == d[..], "cut {cut}: untruncated data");
            }
        } else {
            assert_eq!(a.size, 5000, "cut {cut}");
            let mut want = fblocks[0].1.clone();
            want.resize(5000, 0);
            assert_eq!(data, want, "cut {cut}");
            assert_eq!(a.blocks, 8, "cut {cut}: the truncation was finished at mount");
        }
        match fs.lookup(ROOT, b"unlinked") {
            Ok(g) => {
                let gd = read_all(&fs, g.ino);
                for (off, d) in &gblocks {
                    assert!(
                        gd[*off as usize..*off as usize + 4096] == d[..],
                        "cut {cut}: unlinked file's data"
                    );
                }
            }
            Err(e) => assert_eq!(e.errno(), fs::errno::ENOENT),
        }
        fs.unmount().unwrap();
        if k % 3 == 0 || k + 1 == flushes.len() {
            assert_fsck(&dev, &format!("truncation cut at {cut}"));
        }
        states += 1;
    }
    assert!(states > 6, "the truncation and unlink took several commits ({states} flush points)");
}
