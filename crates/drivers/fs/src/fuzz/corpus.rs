//! The corpus of `fuzz/corpus/<target>/` replayed through the same entry points, so every
//! input a fuzzer kept (and the seeds) runs in `cargo test` on stable. The seeds are written
//! by `cargo test -p fs --lib -- --ignored write_seed_corpus`: real structures (the kernel
//! image's fixtures in `testdata/`, blocks of the fuzzing base image) behind their
//! selector byte, and patches that damage the base image's metadata.

use std::fs;
use std::path::{Path, PathBuf};

use super::image::base_image;
use super::ondisk::DECODERS;
use crate::ondisk::fixtures::{GDT0, INODE2, INODE11, INODE12, INODE13, ROOTDIR, SUPERBLOCK, XATTR_BLOCK};

type Target = (&'static str, fn(&[u8]));

const TARGETS: &[Target] =
    &[("fs_ondisk", super::ondisk), ("fs_journal", super::journal), ("fs_image", super::image)];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../fuzz/corpus")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus directory {} missing: {e} (run write_seed_corpus)", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn corpus_replays_without_panic() {
    for (name, run) in TARGETS {
        let dir = corpus_dir().join(name);
        let files = files(&dir);
        assert!(!files.is_empty(), "corpus directory {} is empty", dir.display());
        for path in files {
            let data = fs::read(&path).unwrap();
            run(&data);
        }
    }
}

/// Every seed is accepted by its decoder (so the round trips really run on them), and each
/// decoder but the htree's has seeds.
#[test]
fn ondisk_seeds_decode() {
    let mut covered = std::collections::BTreeSet::new();
    for (pick, bytes) in ondisk_seeds() {
        assert!(
            super::ondisk::accepts(pick, &bytes),
            "seed for decoder {pick} ({} bytes) refused",
            bytes.len()
        );
        covered.insert(pick);
    }
    let expected: std::collections::BTreeSet<u8> = (0..DECODERS).filter(|&d| d != 7).collect();
    assert_eq!(covered, expected);
}

/// The journal seeds hold real descriptors, commits and revokes, under both feature sets.
#[test]
fn journal_seeds_decode() {
    use crate::jbd2::commit::CommitBlock;
    use crate::jbd2::descriptor::Descriptor;
    use crate::jbd2::revoke::RevokeBlock;
    let mut kinds = [0usize; 3];
    for data in journal_seeds() {
        let bits = data[0];
        let seed = u32::from_le_bytes(data[1..5].try_into().unwrap());
        let block = &data[5..];
        let f = crate::jbd2::Features {
            incompat: u32::from(bits)
                & (crate::jbd2::features::INCOMPAT_64BIT | crate::jbd2::features::INCOMPAT_CSUM_V3),
            ..crate::jbd2::Features::default()
        };
        kinds[0] += usize::from(Descriptor::decode(block, &f, seed, 0).is_ok());
        kinds[1] += usize::from(CommitBlock::decode(block, &f, seed, 0).is_ok());
        kinds[2] += usize::from(RevokeBlock::decode(block, &f, seed, 0).is_ok());
    }
    assert!(kinds.iter().all(|&k| k >= 2), "descriptors, commits, revokes among the seeds: {kinds:?}");
}

/// `(selector, bytes)` for the ext4 decoders: the kernel image's structures and blocks of
/// the base image (its inode table and directory blocks).
fn ondisk_seeds() -> Vec<(u8, Vec<u8>)> {
    let img = base_image();
    let block = |n: usize| img[n * 4096..(n + 1) * 4096].to_vec();
    let mut seeds = vec![
        (0, SUPERBLOCK.to_vec()),
        (0, img[1024..2048].to_vec()),
        (2, GDT0.to_vec()),
        (2, img[4096..4096 + 64].to_vec()),
        (1, GDT0[..32].to_vec()),
        (3, INODE2.to_vec()),
        (3, INODE11.to_vec()),
        (3, INODE12.to_vec()),
        (3, INODE13.to_vec()),
        (4, INODE2[40..100].to_vec()),
        (4, INODE12[40..100].to_vec()),
        (5, ROOTDIR.to_vec()),
        (6, ROOTDIR.to_vec()),
        (8, INODE12[160..].to_vec()),
        (DECODERS - 1, XATTR_BLOCK.to_vec()),
    ];
    // Directory-looking blocks of the base image (the many-block directory "dir").
    for n in 0..img.len() / 4096 {
        let b = block(n);
        if crate::ondisk::dirent::has_tail(&b) && seeds.len() < 24 {
            seeds.push((6, b));
        }
    }
    seeds
}

/// Journal blocks of the base image's journal after a few transactions were committed, so
/// the jbd2 decoders see real descriptors, commits and revokes.
fn journal_seeds() -> Vec<Vec<u8>> {
    use crate::jbd2::{Features, Journal, JournalArea, JournalSuperblock};
    let mut seeds = Vec::new();
    for bits in [0u8, 0x12] {
        let f = Features {
            incompat: u32::from(bits)
                & (crate::jbd2::features::INCOMPAT_64BIT | crate::jbd2::features::INCOMPAT_CSUM_V3),
            ..Features::default()
        };
        let dev = std::sync::Arc::new(crate::device::MemoryDevice::new(256 * 4096));
        let area = JournalArea::contiguous(4096, 16, 64);
        let mut j = Journal::format(dev.clone(), area.clone(), [9; 16], f).unwrap();
        for i in 0..3u64 {
            let mut t = j.begin();
            t.add_block(100 + i, vec![i as u8; 4096]).unwrap();
            t.revoke(200 + i);
            j.commit(t).unwrap();
        }
        let img = dev.image();
        let sb_at = area.offset(0).unwrap() as usize;
        let sb = JournalSuperblock::decode(&img[sb_at..sb_at + 1024]).unwrap();
        for jblock in 0..12u64 {
            let at = area.offset(jblock).unwrap() as usize;
            let mut data = vec![bits];
            data.extend_from_slice(&sb.seed().to_le_bytes());
            data.extend_from_slice(&img[at..at + 4096]);
            seeds.push(data);
        }
    }
    seeds
}

/// Patches that damage the base image: the superblock, the first group descriptor, the
/// inode table's first block, and each block of the root directory and "dir".
fn image_seeds() -> Vec<Vec<u8>> {
    let p = |block: u16, offset: u16, bytes: &[u8]| {
        let mut v = block.to_le_bytes().to_vec();
        v.extend_from_slice(&offset.to_le_bytes());
        v.push(bytes.len() as u8);
        v.extend_from_slice(bytes);
        v
    };
    let mut seeds = vec![
        Vec::new(),
        p(0, 1024 + 0x58, &[0xff; 4]), // s_inode_size and the first block group's number
        p(0, 1024 + 0x60, &[0xff; 8]), // feature_incompat, feature_ro_compat
        p(1, 0, &[0; 32]),             // the group descriptor's bitmaps and table
        p(1, 8, &[0xff, 0xff, 0, 0]),  // the inode table somewhere else
    ];
    let img = base_image();
    for n in 0..(img.len() / 4096) as u16 {
        let b = &img[usize::from(n) * 4096..usize::from(n) * 4096 + 4096];
        if crate::ondisk::dirent::has_tail(b) {
            seeds.push(p(n, 4, &[0x01, 0x00])); // first rec_len 1
            seeds.push(p(n, 0, &[0xff; 4])); // first entry's inode out of range
        }
        if b[..2] == [0x0a, 0xf3] {
            seeds.push(p(n, 2, &[0xff, 0xff])); // extent block: entries count
        }
    }
    seeds.truncate(40);
    seeds
}

/// Writes the seeds into `fuzz/corpus/fs_*`: run by hand after changing them.
#[test]
#[ignore = "writes the seed corpus into the source tree; run by hand"]
fn write_seed_corpus() {
    let write = |target: &str, seeds: Vec<Vec<u8>>| {
        let dir = corpus_dir().join(target);
        fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            fs::write(dir.join(format!("seed-{i:02}")), s).unwrap();
        }
    };
    write(
        "fs_ondisk",
        ondisk_seeds()
            .into_iter()
            .map(|(pick, b)| {
                let mut v = vec![pick];
                v.extend(b);
                v
            })
            .collect(),
    );
    write("fs_journal", journal_seeds());
    write("fs_image", image_seeds());
}
