//! Our mkfs, checked by the real tools: `e2fsck -fn` finds nothing to fix, debugfs lists
//! the root, the kernel mounts it and can write to it (and e2fsck is still happy after),
//! and our own read path opens it.

mod common;

use std::process::Command;

use fs::MemoryDevice;
use fs::mkfs::{MkfsOptions, mkfs};
use fs::volume::Volume;

fn check(test: &str, size: u64) {
    if !common::have("e2fsck") || !common::have("debugfs") {
        eprintln!("SKIP {test}: e2fsck or debugfs not installed");
        return;
    }
    let dev = MemoryDevice::new(size);
    let sb = mkfs(&dev, &MkfsOptions::from_seed(size)).expect("mkfs");
    let vol = Volume::open(&dev).expect("our read path opens it");
    let names: Vec<Vec<u8>> = vol.read_dir(2).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, [b".".to_vec(), b"..".to_vec(), b"lost+found".to_vec()]);
    drop(vol);

    let dir = tempfile::tempdir().unwrap();
    let img = common::Image { path: dir.path().join("ours.img"), dir };
    std::fs::write(&img.path, dev.image()).unwrap();
    let out = Command::new("e2fsck").arg("-fn").arg(&img.path).output().unwrap();
    assert!(
        out.status.success(),
        "{test}: e2fsck -fn exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ls = img.debugfs("ls -l /");
    assert!(ls.contains("lost+found"), "{ls}");
    let dump = common::run(Command::new("dumpe2fs").arg("-h").arg(&img.path));
    for f in [
        "has_journal",
        "ext_attr",
        "dir_index",
        "filetype",
        "extent",
        "64bit",
        "flex_bg",
        "sparse_super",
        "large_file",
        "huge_file",
        "dir_nlink",
        "extra_isize",
        "metadata_csum",
    ] {
        assert!(dump.split_whitespace().any(|w| w == f), "{f} missing:\n{dump}");
    }
    assert!(dump.contains("journal_64bit journal_checksum_v3"), "{dump}");
    assert_eq!(sb.blocks_count * 4096, size.min(sb.blocks_count * 4096));

    // The kernel mounts it, reads it and writes to it; e2fsck still finds it clean.
    let Some(m) = img.mount(test) else { return };
    let entries: Vec<_> = std::fs::read_dir(&m.mnt).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, ["lost+found"]);
    std::fs::create_dir(m.path("d")).unwrap();
    std::fs::write(m.path("d/hello"), b"written by the kernel").unwrap();
    m.unmount();
    img.fsck_clean();
    let vol = Volume::open(img.device()).unwrap();
    let ino = vol.resolve("/d/hello").unwrap();
    assert_eq!(vol.read_all(ino, &vol.read_inode(ino).unwrap(), 100).unwrap(), b"written by the kernel");
}

#[test]
fn mkfs_64m_is_clean() {
    check("mkfs_64m_is_clean", 64 << 20);
}

#[test]
fn mkfs_several_groups_is_clean() {
    // 7 full groups and a tail: backups in 1, 3, 5 and 7.
    check("mkfs_several_groups_is_clean", 7 * (128 << 20) + (50 << 20));
}
