//! An image mkfs.ext4 made and the kernel filled (loop mount: an htree directory, a
//! fragmented file, xattrs, links), changed through our file system (appends, overwrites,
//! truncation, unlinks and creates in the htree directory, renames, directories spread over
//! uninitialized groups, a file large enough to reach BLOCK_UNINIT groups, xattr changes),
//! then checked: e2fsck -fn says nothing, the kernel reads our changes, and the kernel can
//! go on writing to it with e2fsck still quiet. With 4 KiB and 1 KiB blocks.

mod write_support;

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

use fs::ROOT;
use fs::filesystem::{RenameMode, XattrMode};
use write_support::*;

const KERNEL_FILES: usize = 3000;

/// What the kernel put there.
fn kernel_populate(m: &LoopMount, bs: u64) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    std::fs::create_dir(m.path("k")).unwrap();
    for i in 0..KERNEL_FILES {
        let p = format!("k/file-{i:05}");
        let data = pattern(i as u64, i % 300);
        std::fs::write(m.path(&p), &data).unwrap();
        files.insert(p, data);
    }
    let mut frag = vec![0u8; (1199 * bs) as usize];
    {
        let mut f = std::fs::File::create(m.path("frag")).unwrap();
        for i in 0..600u64 {
            let b = pattern(5000 + i, bs as usize);
            f.seek(SeekFrom::Start(2 * i * bs)).unwrap();
            f.write_all(&b).unwrap();
            frag[(2 * i * bs) as usize..((2 * i + 1) * bs) as usize].copy_from_slice(&b);
            f.sync_data().unwrap(); // one block at a time: fragments
        }
    }
    files.insert("frag".into(), frag);
    // Long names, enough leaves for the htree to need an index level (dx nodes).
    std::fs::create_dir(m.path("deep")).unwrap();
    for i in 0..deep_entries(bs) {
        std::fs::write(m.path(&deep_name(i)), []).unwrap();
    }
    let data = pattern(7, 50_000);
    std::fs::write(m.path("plain"), &data).unwrap();
    files.insert("plain".into(), data);
    std::fs::hard_link(m.path("plain"), m.path("k/plain-link")).unwrap();
    files.insert("k/plain-link".into(), files["plain"].clone());
    std::os::unix::fs::symlink("plain", m.path("to-plain")).unwrap();
    if have("setfattr") {
        run(Command::new("setfattr").args(["-n", "user.kernel", "-v", "set-by-linux"]).arg(m.path("plain")));
        let big = if bs >= 4096 { 1500 } else { 400 };
        run(Command::new("setfattr").args(["-n", "user.big", "-v", &"b".repeat(big)]).arg(m.path("plain")));
    }
    files
}

/// Entries of /deep: past the dx_root's leaf count for the block size.
fn deep_entries(bs: u64) -> usize {
    if bs >= 4096 { 11_000 } else { 1000 }
}

fn deep_name(i: usize) -> String {
    format!("deep/{i:06}-{}", "n".repeat(200))
}

fn check_with(test: &str, mkfs_args: &[&str], bs: u64) {
    if !have("mkfs.ext4") {
        eprintln!("SKIP {test}: mkfs.ext4 not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("kernel.img");
    run(Command::new("mkfs.ext4").args(["-q", "-F"]).args(mkfs_args).arg(&img).arg("512M"));
    let mnt = dir.path().join("mnt");
    let Some(m) = LoopMount::new(&img, &mnt, false, test) else { return };
    let mut files = kernel_populate(&m, bs);
    m.unmount();
    assert_fsck_file(&img, &format!("{test}: as the kernel left it"));
    assert!(flags_of(&img, "/k") & fs::ondisk::inode::flags::INDEX != 0, "the kernel indexed k");
    if have("debugfs") {
        let out = run(Command::new("debugfs").arg("-R").arg("htree_dump /deep").arg(&img));
        assert!(out.contains("Indirect levels: 1"), "deep has a dx node level");
    }

    // Our changes.
    let fs = mount_file(&img);
    let k = fs.lookup(ROOT, b"k").unwrap().ino;
    // The kernel's htree directory, listed and searched before we change it.
    let listed = list(&fs, k);
    assert_eq!(listed.len(), KERNEL_FILES + 1);
    for (name, ino) in listed.iter().step_by(97) {
        assert_eq!(fs.lookup(k, name).unwrap().ino, *ino);
    }
    let f10 = fs.lookup(k, b"file-00010").unwrap().ino;
    let more = pattern(99, 70_000);
    let at = fs.getattr(f10).unwrap().size;
    fs.write(f10, at, &more).unwrap();
    files.get_mut("k/file-00010").unwrap().extend_from_slice(&more);
    let frag = fs.lookup(ROOT, b"frag").unwrap().ino;
    let patch = pattern(98, 3 * bs as usize);
    fs.write(frag, 100 * bs + 5, &patch).unwrap();
    files.get_mut("frag").unwrap()[(100 * bs + 5) as usize..(100 * bs + 5) as usize + patch.len()]
        .copy_from_slice(&patch);
    fs.truncate(frag, 700 * bs + 123).unwrap();
    files.get_mut("frag").unwrap().truncate((700 * bs + 123) as usize);
    for i in 0..100 {
        let name = format!("file-{i:05}");
        fs.unlink(k, name.as_bytes()).unwrap();
        files.remove(&format!("k/{name}"));
    }
    for i in 0..500 {
        let name = format!("new-{i:04}");
        let f = fs.create(k, name.as_bytes(), 0o644, 0, 0).unwrap();
        let data = pattern(20_000 + i, (i as usize * 37) % 9000);
        fs.write(f.ino, 0, &data).unwrap();
        files.insert(format!("k/{name}"), data);
    }
    let top = fs.mkdir(ROOT, b"top", 0o755, 0, 0).unwrap();
    fs.rename(k, b"file-00200", top.ino, b"renamed", RenameMode::Replace).unwrap();
    let moved = files.remove("k/file-00200").unwrap();
    files.insert("top/renamed".into(), moved);
    for d in 0..40 {
        let sub = fs.mkdir(top.ino, format!("d{d}").as_bytes(), 0o755, 0, 0).unwrap();
        let f = fs.create(sub.ino, b"f", 0o644, 0, 0).unwrap();
        let data = pattern(30_000 + d, 5000);
        fs.write(f.ino, 0, &data).unwrap();
        files.insert(format!("top/d{d}/f"), data);
    }
    // Large enough to need blocks from the groups the kernel never initialized.
    let big = fs.create(ROOT, b"big", 0o644, 0, 0).unwrap();
    let chunk = pattern(31, 1 << 20);
    for i in 0..300u64 {
        fs.write(big.ino, i << 20, &chunk).unwrap();
    }
    let plain = fs.lookup(ROOT, b"plain").unwrap().ino;
    fs.setxattr(plain, b"user.ours", b"set-by-irpstack", XattrMode::Create).unwrap();
    if have("setfattr") {
        fs.removexattr(plain, b"user.big").unwrap();
        assert_eq!(fs.getxattr(plain, b"user.kernel").unwrap(), b"set-by-linux");
    }
    fs.symlink(top.ino, b"link", b"../plain", 0, 0).unwrap();
    let deep = fs.lookup(ROOT, b"deep").unwrap().ino;
    let n = deep_entries(bs);
    assert_eq!(list(&fs, deep).len(), n, "our listing of an htree with a dx node level");
    let mut deep_names: std::collections::BTreeSet<String> =
        (0..n).map(|i| deep_name(i)[5..].to_string()).collect();
    for i in (0..n).step_by(7) {
        let name = &deep_name(i)[5..];
        fs.unlink(deep, name.as_bytes()).unwrap();
        deep_names.remove(name);
    }
    for i in 0..100 {
        let name = format!("added-{i}-{}", "m".repeat(150));
        fs.create(deep, name.as_bytes(), 0o644, 0, 0).unwrap();
        deep_names.insert(name);
    }
    fs.unmount().unwrap();
    assert_fsck_file(&img, &format!("{test}: after our changes"));
    assert!(flags_of(&img, "/k") & fs::ondisk::inode::flags::INDEX == 0, "k is linear now");
    assert!(flags_of(&img, "/deep") & fs::ondisk::inode::flags::INDEX == 0, "deep is linear now");

    // The kernel sees them.
    let Some(m) = LoopMount::new(&img, &mnt, true, test) else { return };
    for (p, data) in &files {
        let got = std::fs::read(m.path(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(got == *data, "{p}: the kernel reads {} bytes, we wrote {}", got.len(), data.len());
    }
    let got: std::collections::BTreeSet<String> = std::fs::read_dir(m.path("deep"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(got == deep_names, "the kernel lists deep as we left it");
    let names = std::fs::read_dir(m.path("k")).unwrap().count();
    assert_eq!(names, KERNEL_FILES - 100 - 1 + 500 + 1);
    assert!(!m.path("k/file-00000").exists());
    verify_big(&m.path("big"), &chunk);
    assert_eq!(std::fs::read_link(m.path("top/link")).unwrap().to_str(), Some("../plain"));
    if have("getfattr") {
        assert_eq!(getfattr(&m.path("plain"), "user.ours").unwrap(), b"set-by-irpstack");
        assert_eq!(getfattr(&m.path("plain"), "user.kernel").unwrap(), b"set-by-linux");
        assert!(getfattr(&m.path("plain"), "user.big").is_none());
    }
    m.unmount();

    // And it can go on writing.
    let Some(m) = LoopMount::new(&img, &mnt, false, test) else { return };
    std::fs::write(m.path("k/after-us"), b"the kernel again").unwrap();
    std::fs::remove_file(m.path("k/new-0001")).unwrap();
    std::fs::remove_dir(m.path("top/d3")).unwrap_err(); // not empty
    std::fs::remove_file(m.path("top/d3/f")).unwrap();
    std::fs::remove_dir(m.path("top/d3")).unwrap();
    m.unmount();
    assert_fsck_file(&img, &format!("{test}: after the kernel wrote again"));
}

/// `i_flags` of `path`, through the read path.
fn flags_of(img: &Path, path: &str) -> u32 {
    let vol = fs::volume::Volume::open(fs::FileDevice::open(img).unwrap()).unwrap();
    let ino = vol.resolve(path).unwrap();
    vol.read_inode(ino).unwrap().flags
}

fn verify_big(path: &Path, chunk: &[u8]) {
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    assert_eq!(f.metadata().unwrap().len(), 300 << 20);
    let mut buf = vec![0u8; chunk.len()];
    for i in 0..300 {
        f.read_exact(&mut buf).unwrap();
        assert!(buf == chunk, "big: MiB {i} differs");
    }
}

#[test]
fn we_change_a_kernel_made_4k_volume() {
    check_with("we_change_a_kernel_made_4k_volume", &["-b", "4096"], 4096);
}

#[test]
fn we_change_a_kernel_made_volume_without_metadata_csum_or_64bit() {
    // uninit_bg: crc16 descriptor checksums, no checksums anywhere else, 32-byte descriptors.
    check_with(
        "we_change_a_kernel_made_volume_without_metadata_csum_or_64bit",
        &["-b", "4096", "-O", "^metadata_csum,^64bit,uninit_bg"],
        4096,
    );
}

#[test]
fn we_change_a_kernel_made_1k_volume() {
    check_with("we_change_a_kernel_made_1k_volume", &["-b", "1024"], 1024);
}
