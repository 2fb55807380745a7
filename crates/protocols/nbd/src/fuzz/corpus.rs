//! Replays the fuzz corpus (`fuzz/corpus/<target>/*`) through the same `nbd::fuzz`
//! entry points the cargo-fuzz targets call, so every corpus input — hand-made seeds and
//! whatever the fuzzer found — runs in `cargo test` on stable. No input may panic.
//!
//! The seeds are defined in `seeds/mod.rs`; after changing them, rewrite the files with
//! `cargo test -p nbd --lib -- --ignored write_seed_corpus`.

use super::seeds;

use std::fs;
use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

type Entry = fn(&[u8]);

const TARGETS: [(&str, Entry); 3] =
    [("nbd_option", super::option), ("nbd_request", super::request), ("nbd_reply", super::reply)];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../fuzz/corpus")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("corpus directory {} missing: {e}", dir.display()));
    let mut files: Vec<PathBuf> =
        entries.map(|e| e.expect("readable directory entry").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn corpus_replays_without_panic() {
    for (target, entry) in TARGETS {
        let dir = corpus_dir().join(target);
        let files = files(&dir);
        assert!(!files.is_empty(), "corpus directory {} is empty", dir.display());
        for path in files {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let result = catch_unwind(|| entry(&data));
            assert!(result.is_ok(), "{target}: {} panicked", path.display());
        }
    }
}

/// Every `nbd_*` corpus directory is one of this crate's targets (the others belong to
/// other crates' targets, which replay them).
#[test]
fn corpus_has_only_known_targets() {
    let dir = corpus_dir();
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus directory {} missing: {e}", dir.display()));
    for entry in entries {
        let name = entry.expect("readable directory entry").file_name();
        let name = name.to_string_lossy();
        if name.starts_with("nbd_") {
            assert!(TARGETS.iter().any(|(t, _)| *t == name), "unknown corpus directory {name}");
        }
    }
}

#[test]
fn seed_files_match_their_definitions() {
    for (target, name, bytes) in seeds::seeds() {
        let path = corpus_dir().join(target).join(&name);
        let on_disk =
            fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run write_seed_corpus)", path.display()));
        assert_eq!(on_disk, bytes, "{} is stale: run write_seed_corpus", path.display());
    }
}

#[test]
#[ignore = "writes the seed files into fuzz/corpus; run by hand after changing seeds/mod.rs"]
fn write_seed_corpus() {
    for (target, name, bytes) in seeds::seeds() {
        let dir = corpus_dir().join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
    }
}
