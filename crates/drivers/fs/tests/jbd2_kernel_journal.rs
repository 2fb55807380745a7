//! The kernel writes a journal; we replay it and compare with e2fsck's replay of a copy.
//!
//! The image is copied while mounted, right after `sync -f`: jbd2 has committed the
//! transactions but checkpoints lazily, so the copy has a dirty journal (needs_recovery).

mod jbd2_support;

use std::path::Path;

use fs::MemoryDevice;
use fs::jbd2::{self, JournalArea};
use jbd2_support::*;

/// Builds `dir/dirty.img`: a kernel journal with committed, un-checkpointed transactions
/// (including revoke records: a directory is created, synced and deleted).
fn kernel_dirty_image(dir: &Path, block_size: u32) -> Result<std::path::PathBuf, String> {
    let img = dir.join("live.img");
    mkfs(&img, 64, Some(block_size));
    let lo = LoopDev::attach(&img)?;
    let mnt = dir.join("mnt");
    let m = Mounted::mount(&lo.0, &mnt)?;
    let w = |p: &str, data: &[u8]| std::fs::write(mnt.join(p), data).unwrap();
    std::fs::create_dir(mnt.join("d")).unwrap();
    for i in 0..200 {
        w(&format!("d/f{i}"), format!("file {i}\n").as_bytes());
    }
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    w("big", &big);
    run_ok("sync", &["-f", mnt.join("big").to_str().unwrap()]);
    std::fs::remove_dir_all(mnt.join("d")).unwrap();
    w("after", b"written after the delete\n");
    std::fs::create_dir(mnt.join("keep")).unwrap();
    w("keep/one", b"one\n");
    run_ok("sync", &["-f", mnt.join("after").to_str().unwrap()]);
    let dirty = dir.join("dirty.img");
    std::fs::copy(&img, &dirty).unwrap();
    drop(m);
    drop(lo);
    Ok(dirty)
}

fn commit_blocks_in_logdump(img: &Path) -> usize {
    let out = run_ok("debugfs", &["-R", "logdump", img.to_str().unwrap()]);
    out.lines().filter(|l| l.contains("(commit block)")).count()
}

/// Byte ranges of the image outside the journal (the journal itself differs in its
/// superblock's sequence bookkeeping, which is not part of the replayed state).
fn outside_journal(image: &[u8], area: &JournalArea) -> Vec<(u64, u64)> {
    let bs = area.block_size() as u64;
    let mut journal: Vec<u64> = (0..area.len()).map(|j| area.offset(j).unwrap() / bs).collect();
    journal.sort_unstable();
    let blocks = image.len() as u64 / bs;
    let mut out = Vec::new();
    let mut start = 0;
    for &j in journal.iter().chain(std::iter::once(&blocks)) {
        if j > start {
            out.push((start * bs, j * bs));
        }
        start = j + 1;
    }
    out
}

fn replay_and_compare(block_size: u32) {
    let dir = tempfile::tempdir().unwrap();
    skip_unless!(need_tools(&["mkfs.ext4", "e2fsck", "debugfs", "dumpe2fs"]));
    skip_unless!(can_loop_mount(dir.path()));
    let dirty = match kernel_dirty_image(dir.path(), block_size) {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIP: {why}");
            return;
        }
    };
    let start: u32 = dumpe2fs_field(&dirty, "Journal start").unwrap().parse().unwrap();
    assert_ne!(start, 0, "the copy should have a dirty journal");
    let commits = commit_blocks_in_logdump(&dirty);
    assert!(commits >= 2, "logdump shows {commits} commits");

    let area = journal_area(&dirty);
    let image = std::fs::read(&dirty).unwrap();
    let dev = MemoryDevice::from_image(image.clone());

    // Our scan finds the transactions logdump shows.
    let sb = jbd2::read_superblock(&dev, &area).unwrap();
    assert!(sb.features.csum_v3() && sb.features.is_64bit(), "{sb:?}");
    let log = jbd2::scan(&dev, &area, &sb).unwrap();
    assert_eq!(log.transactions.len(), commits, "{log:?}");
    // The delete usually logs revoke records, but only while the transactions that
    // logged the freed blocks are still in the journal: the kernel may have checkpointed
    // them first (timing). The replay below is compared with e2fsck's either way.
    let revokes: usize = log.transactions.iter().map(|t| t.revokes.len()).sum();
    if revokes == 0 {
        eprintln!("note: the kernel logged no revoke records this time (checkpointed first)");
    }

    // Ours.
    let report = jbd2::recover(&dev, &area).unwrap();
    assert_eq!(report.transactions as usize, commits);
    assert!(report.blocks_written > 0 && report.bad_blocks.is_empty(), "{report:?}");
    eprintln!("replayed: {report:?}");
    let mut ours = dev.image();
    set_needs_recovery(&mut ours, false);
    let ours_path = dir.path().join("ours.img");
    std::fs::write(&ours_path, &ours).unwrap();

    // e2fsck's, replay only.
    let theirs_path = dir.path().join("e2fsck.img");
    std::fs::write(&theirs_path, &image).unwrap();
    let (code, text) = e2fsck(&["-E", "journal_only", "-y"], &theirs_path);
    assert!(code <= 1, "e2fsck journal replay: {code} {text}");
    let theirs = std::fs::read(&theirs_path).unwrap();

    // Same bytes outside the journal (the ext4 superblock included: same flag cleared).
    // e2fsck also stamps the ext4 superblock's s_wtime (0x30, hi byte 0x274) and
    // s_kbytes_written (0x178), hence its checksum (0x3FC): compare without those.
    let mask = |img: &[u8]| {
        let mut v = img.to_vec();
        for (off, len) in [(0x30, 4), (0x274, 1), (0x178, 8), (0x3FC, 4)] {
            v[1024 + off..1024 + off + len].fill(0);
        }
        v
    };
    let (ours_masked, theirs) = (mask(&ours), mask(&theirs));
    let ours_cmp = &ours_masked;
    let mut differ = Vec::new();
    for (a, b) in outside_journal(&ours, &area) {
        differ.extend((a as usize..b as usize).filter(|&i| ours_cmp[i] != theirs[i]));
    }
    assert!(
        differ.is_empty(),
        "images differ at {} bytes: {:?}",
        differ.len(),
        &differ[..differ.len().min(40)]
    );
    // The journal superblocks agree on what matters: empty, same next sequence.
    let their_sb = jbd2::read_superblock(&MemoryDevice::from_image(theirs.clone()), &area).unwrap();
    assert_eq!(their_sb.start, 0);
    let our_sb = jbd2::read_superblock(&MemoryDevice::from_image(ours.clone()), &area).unwrap();
    assert_eq!(our_sb.start, 0);
    assert_eq!(our_sb.sequence, their_sb.sequence, "next transaction id after replay");

    // And the file system is consistent after our replay, with the files the kernel wrote.
    let (code, text) = e2fsck(&["-fn"], &ours_path);
    assert_eq!(code, 0, "e2fsck -fn after our replay: {text}");
    assert_eq!(debugfs_cat(&ours_path, "/after"), b"written after the delete\n");
    assert_eq!(debugfs_cat(&ours_path, "/keep/one"), b"one\n");
    assert_eq!(debugfs_cat(&ours_path, "/big").len(), 3 << 20);
}

#[test]
fn kernel_journal_1k_blocks_replays_like_e2fsck() {
    replay_and_compare(1024);
}

#[test]
fn kernel_journal_4k_blocks_replays_like_e2fsck() {
    replay_and_compare(4096);
}
