//! We write the journal; e2fsck, the kernel and our own recovery replay it, and must agree.
//!
//! Transactions go into the journal inode of a real mkfs.ext4 image: enough of them that
//! the log fills (forcing checkpoints) and wraps around its end, with escaped blocks (images
//! that begin with the jbd2 magic) and revokes. The image is then "crashed" (the journal
//! left dirty, needs_recovery set) and handed to each replayer.

mod jbd2_support;

use std::path::Path;
use std::sync::Arc;

use fs::MemoryDevice;
use fs::jbd2::{self, Journal, JournalArea};
use jbd2_support::*;

/// The largest run of free blocks, from dumpe2fs's per-group "Free blocks:" lists.
fn free_run(img: &Path) -> (u64, u64) {
    let out = run_ok("dumpe2fs", &[img.to_str().unwrap()]);
    let mut best = (0, 0);
    for line in out.lines().filter_map(|l| l.trim().strip_prefix("Free blocks: ")) {
        for r in line.split(", ") {
            if let Some((a, b)) = r.split_once('-') {
                let (a, b): (u64, u64) = (a.trim().parse().unwrap(), b.trim().parse().unwrap());
                if b - a + 1 > best.1 {
                    best = (a, b - a + 1);
                }
            }
        }
    }
    best
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn block_image(bs: usize, tid: u32, home: u64) -> Vec<u8> {
    let mut v: Vec<u8> = (0..bs).map(|i| (i as u64 ^ home ^ (u64::from(tid) * 31)) as u8).collect();
    v[..8].copy_from_slice(&home.to_be_bytes());
    v[8..12].copy_from_slice(&tid.to_be_bytes());
    if (home + u64::from(tid)).is_multiple_of(7) {
        v[..4].copy_from_slice(&0xC03B_3998u32.to_be_bytes()); // must be escaped in the log
    }
    v
}

struct Written {
    /// Home block -> image it must have after replay (None: revoked, left as it was).
    expect: std::collections::BTreeMap<u64, Option<Vec<u8>>>,
    homes: (u64, u64),
}

/// Writes the transactions into `dev`'s journal and returns what replay must produce.
fn write_transactions(dev: Arc<MemoryDevice>, area: JournalArea, free: (u64, u64)) -> Written {
    let bs = area.block_size();
    let mut j = Journal::open(dev.clone(), area).unwrap();
    let pool = 600.min(free.1 - 8);
    let homes = (free.0, pool);
    let mut rng = Lcg(42);
    let mut expect = std::collections::BTreeMap::new();
    let mut checkpoints = 0;
    for _ in 0..40 {
        let tid = j.next_sequence();
        let mut t = j.begin();
        for _ in 0..150 {
            let h = free.0 + rng.next(pool);
            t.add_block(h, block_image(bs, tid, h)).unwrap();
            expect.insert(h, Some(block_image(bs, tid, h)));
        }
        let info = j.commit(t).unwrap();
        checkpoints += usize::from(info.checkpointed_first);
    }
    assert!(checkpoints >= 1, "the log never filled");
    // Revoke: a block logged only in the live log, then revoked; it must stay as it was.
    let (r1, r2) = (free.0 + pool + 1, free.0 + pool + 2);
    let tid = j.next_sequence();
    let mut t = j.begin();
    t.add_block(r1, block_image(bs, tid, r1)).unwrap();
    t.add_block(r2, block_image(bs, tid, r2)).unwrap();
    j.commit(t).unwrap();
    let mut t = j.begin();
    t.revoke(r1);
    assert!(!j.commit(t).unwrap().checkpointed_first);
    expect.insert(r1, None);
    expect.insert(r2, Some(block_image(bs, tid, r2)));
    drop(j); // the crash: nothing more is written
    Written { expect, homes: (homes.0, homes.1 + 3) }
}

fn read_block(img: &[u8], bs: usize, b: u64) -> &[u8] {
    &img[b as usize * bs..(b as usize + 1) * bs]
}

fn check_homes(name: &str, img: &[u8], bs: usize, w: &Written, original: &[u8]) {
    for (&h, want) in &w.expect {
        let got = read_block(img, bs, h);
        match want {
            Some(want) => assert!(got == &want[..], "{name}: block {h} not replayed"),
            None => assert!(got == read_block(original, bs, h), "{name}: revoked block {h} was replayed"),
        }
    }
}

fn our_journal_replays_everywhere(block_size: u32, kernel_features: bool) {
    let dir = tempfile::tempdir().unwrap();
    skip_unless!(need_tools(&["mkfs.ext4", "e2fsck", "debugfs", "dumpe2fs"]));
    let img = dir.path().join("fresh.img");
    mkfs(&img, 64, Some(block_size));
    let loop_ok = can_loop_mount(dir.path());
    if kernel_features {
        // Let the kernel turn on 64BIT | CSUM_V3 in the journal, as it does at mount.
        skip_unless!(loop_ok.clone());
        // It writes the journal superblock only if a transaction was committed.
        let lo = LoopDev::attach(&img).unwrap();
        let m = Mounted::mount(&lo.0, &dir.path().join("m0")).unwrap();
        std::fs::write(m.0.join("hello"), b"hello\n").unwrap();
        drop(m);
    }
    let area = journal_area(&img);
    let bs = area.block_size();
    let free = free_run(&img);
    let original = std::fs::read(&img).unwrap();
    let dev = Arc::new(MemoryDevice::from_image(original.clone()));
    let sb = jbd2::read_superblock(&*dev, &area).unwrap();
    assert_eq!(sb.features.csum_v3(), kernel_features, "{sb:?}");
    let w = write_transactions(dev.clone(), area.clone(), free);
    let mut crashed = dev.image();
    set_needs_recovery(&mut crashed, true);

    // The log as written really wraps around the end of the journal.
    let live = jbd2::read_superblock(&MemoryDevice::from_image(crashed.clone()), &area).unwrap();
    let log = jbd2::scan(&MemoryDevice::from_image(crashed.clone()), &area, &live).unwrap();
    assert!(log.transactions.iter().any(|t| t.commit_block < t.first_block), "no transaction wraps");
    let logdump = run_ok("debugfs", &["-R", "logdump", write(&dir, "dump.img", &crashed).to_str().unwrap()]);
    assert_eq!(logdump.lines().filter(|l| l.contains("(commit block)")).count(), log.transactions.len());

    // e2fsck's replay.
    let e_path = write(&dir, "e2fsck.img", &crashed);
    let (code, text) = e2fsck(&["-fy"], &e_path);
    assert!(code <= 1, "e2fsck -fy: {code} {text}");
    let (code, text) = e2fsck(&["-fn"], &e_path);
    assert_eq!(code, 0, "e2fsck -fn after e2fsck's replay: {text}");
    let e_img = std::fs::read(&e_path).unwrap();
    check_homes("e2fsck", &e_img, bs, &w, &original);

    // Ours.
    let o_dev = MemoryDevice::from_image(crashed.clone());
    let report = jbd2::recover(&o_dev, &area).unwrap();
    assert_eq!(report.transactions as usize, log.transactions.len());
    let mut o_img = o_dev.image();
    set_needs_recovery(&mut o_img, false);
    let o_path = write(&dir, "ours.img", &o_img);
    let (code, text) = e2fsck(&["-fn"], &o_path);
    assert_eq!(code, 0, "e2fsck -fn after our replay: {text}");
    check_homes("ours", &o_img, bs, &w, &original);

    // The kernel's, at mount.
    match loop_ok {
        Err(why) => eprintln!("SKIP (kernel part): {why}"),
        Ok(()) => {
            let k_path = write(&dir, "kernel.img", &crashed);
            {
                let lo = LoopDev::attach(&k_path).unwrap();
                let m = Mounted::mount(&lo.0, &dir.path().join("mk")).unwrap();
                drop(m);
            }
            let (code, text) = e2fsck(&["-fn"], &k_path);
            assert_eq!(code, 0, "e2fsck -fn after the kernel's replay: {text}");
            let k_img = std::fs::read(&k_path).unwrap();
            check_homes("kernel", &k_img, bs, &w, &original);
            for h in w.homes.0..w.homes.0 + w.homes.1 {
                assert!(
                    read_block(&k_img, bs, h) == read_block(&o_img, bs, h),
                    "kernel and ours differ at {h}"
                );
            }
        }
    }
    for h in w.homes.0..w.homes.0 + w.homes.1 {
        assert!(read_block(&e_img, bs, h) == read_block(&o_img, bs, h), "e2fsck and ours differ at {h}");
    }
}

fn write(dir: &tempfile::TempDir, name: &str, img: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, img).unwrap();
    p
}

#[test]
fn fresh_mkfs_journal_1k_replays_in_e2fsck_kernel_and_ours() {
    our_journal_replays_everywhere(1024, false);
}

#[test]
fn kernel_featured_csum_v3_journal_1k_replays_in_e2fsck_kernel_and_ours() {
    our_journal_replays_everywhere(1024, true);
}

#[test]
fn kernel_featured_csum_v3_journal_4k_replays_in_e2fsck_kernel_and_ours() {
    our_journal_replays_everywhere(4096, true);
}
