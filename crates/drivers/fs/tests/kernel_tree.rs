//! A tree made by the Linux kernel on a loop-mounted mkfs.ext4 image (Debian defaults, 4 KiB
//! blocks), read back through our read path and compared byte for byte: small and empty
//! files, a fragmented file whose extent tree is two levels deep, sparse and fallocated
//! (unwritten) files, an htree directory with an index level, fast and slow symlinks,
//! hard links, xattrs in the inode and in a block.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::symlink;
use std::process::Command;

use common::{Node, mkfs, pattern, walk};
use fs::ondisk::inode::flags;
use fs::volume::{Mapping, Volume};

const BS: u64 = 4096;
/// Blocks written every other one: more extents than 4 leaves hold, so depth 2.
const FRAG_EXTENTS: u64 = 1500;
/// Entries in the big directory, with long names: over 508 leaves, so an index level.
const BIG_DIR_ENTRIES: usize = 12000;

fn long_name(i: usize) -> String {
    format!("{i:06}-{}", "n".repeat(200))
}

struct Expect {
    files: BTreeMap<String, Vec<u8>>,
    links: BTreeMap<String, String>,
    dirs: BTreeMap<String, BTreeSet<String>>,
}

/// Builds the tree in the mount and returns what it should contain.
fn populate(m: &common::Mounted) -> Expect {
    let mut files = BTreeMap::new();
    let mut links = BTreeMap::new();
    for (i, len) in [0usize, 1, 59, 60, 4095, 4096, 4097, 100_000, 1 << 20].into_iter().enumerate() {
        let name = format!("file{len}");
        let data = pattern(i as u64 + 1, len);
        std::fs::write(m.path(&name), &data).unwrap();
        files.insert(name, data);
    }
    // Every other block of a large file: FRAG_EXTENTS extents.
    let mut frag = vec![0u8; (2 * FRAG_EXTENTS * BS) as usize];
    {
        let mut f = std::fs::File::create(m.path("fragmented")).unwrap();
        for i in 0..FRAG_EXTENTS {
            let off = 2 * i * BS;
            let block = pattern(1000 + i, BS as usize);
            f.seek(SeekFrom::Start(off)).unwrap();
            f.write_all(&block).unwrap();
            frag[off as usize..(off + BS) as usize].copy_from_slice(&block);
        }
        // The last block written is at 2*(N-1); the file ends after it.
        frag.truncate((2 * (FRAG_EXTENTS - 1) * BS + BS) as usize);
    }
    files.insert("fragmented".into(), frag);
    // Sparse: a hole, data, and a hole to the end.
    {
        let mut f = std::fs::File::create(m.path("sparse")).unwrap();
        let data = pattern(77, 5000);
        f.seek(SeekFrom::Start(3 * BS + 100)).unwrap();
        f.write_all(&data).unwrap();
        f.set_len(40 * BS).unwrap();
        let mut expect = vec![0u8; (40 * BS) as usize];
        expect[(3 * BS + 100) as usize..(3 * BS + 100) as usize + 5000].copy_from_slice(&data);
        files.insert("sparse".into(), expect);
    }
    // Unwritten: fallocate then write a little in the middle.
    if common::have("fallocate") {
        common::run(Command::new("fallocate").arg("-l").arg("1M").arg(m.path("prealloc")));
        let mut f = std::fs::OpenOptions::new().write(true).open(m.path("prealloc")).unwrap();
        f.seek(SeekFrom::Start(10 * BS)).unwrap();
        let data = pattern(5, 100);
        f.write_all(&data).unwrap();
        let mut expect = vec![0u8; 1 << 20];
        expect[(10 * BS) as usize..(10 * BS) as usize + 100].copy_from_slice(&data);
        files.insert("prealloc".into(), expect);
    }
    // Directories, nested, and the big one.
    std::fs::create_dir_all(m.path("a/b/c/d")).unwrap();
    let deep = pattern(9, 1234);
    std::fs::write(m.path("a/b/c/d/deep.bin"), &deep).unwrap();
    files.insert("a/b/c/d/deep.bin".into(), deep);
    std::fs::create_dir(m.path("big")).unwrap();
    for i in 0..BIG_DIR_ENTRIES {
        std::fs::write(m.path(&format!("big/{}", long_name(i))), []).unwrap();
    }
    // Links: hard, fast symlink, slow symlink (target over 60 bytes), chains, absolute.
    std::fs::hard_link(m.path("file4097"), m.path("a/hardlink")).unwrap();
    files.insert("a/hardlink".into(), files["file4097"].clone());
    let slow_target = format!("b/{}/../c/d/deep.bin", "x".repeat(100));
    for (name, target) in [
        ("fast", "file4096".to_string()),
        ("a/slow", slow_target.clone()),
        ("a/abs", "/a/b/c/d/deep.bin".to_string()),
        ("chain1", "chain2".to_string()),
        ("chain2", "a/abs".to_string()),
        ("dangling", "nowhere".to_string()),
    ] {
        symlink(&target, m.path(name)).unwrap();
        links.insert(name.to_string(), target);
    }
    std::fs::create_dir(m.path(&format!("a/b/{}", "x".repeat(100)))).unwrap();
    // xattrs (need setfattr; debugfs can do it after unmount otherwise).
    let mut dirs = BTreeMap::new();
    let mut all: BTreeSet<String> = files.keys().chain(links.keys()).cloned().collect();
    all.extend(["a", "a/b", "a/b/c", "a/b/c/d", "big", "lost+found"].map(String::from));
    all.insert(format!("a/b/{}", "x".repeat(100)));
    for p in &all {
        let (parent, name) = p.rsplit_once('/').unwrap_or(("", p));
        dirs.entry(parent.to_string()).or_insert_with(BTreeSet::new).insert(name.to_string());
    }
    dirs.insert("big".into(), (0..BIG_DIR_ENTRIES).map(long_name).collect());
    Expect { files, links, dirs }
}

#[test]
fn kernel_made_tree_reads_back_byte_for_byte() {
    let test = "kernel_made_tree_reads_back_byte_for_byte";
    if !common::have("debugfs") {
        eprintln!("SKIP {test}: debugfs not installed");
        return;
    }
    let Some(img) = mkfs(test, "64M", &["-b", "4096"]) else { return };
    let Some(m) = img.mount(test) else { return };
    let expect = populate(&m);
    m.unmount();
    // xattrs through debugfs on the unmounted image: a small one stays in the inode, a
    // large one needs the xattr block.
    let big_value = common::host_file(img.dir.path(), "big_value", &vec![b'v'; 2000]);
    img.debugfs_w("ea_set /file1 user.small tiny");
    img.debugfs_w(&format!("ea_set -f {} /file1 user.large", big_value.display()));
    img.fsck_clean();

    let vol = Volume::open(img.device()).expect("open");
    let tree = walk(&vol, 64 << 20).expect("walk");
    let get = |p: &str| &tree.get(format!("/{p}").as_bytes()).unwrap_or_else(|| panic!("{p} missing")).node;
    for (p, data) in &expect.files {
        match get(p) {
            Node::File(d) => assert!(d == data, "{p}: contents differ ({} vs {} bytes)", d.len(), data.len()),
            other => panic!("{p}: {other:?}"),
        }
    }
    for (p, target) in &expect.links {
        assert_eq!(get(p), &Node::Symlink(target.as_bytes().to_vec()), "{p}");
    }
    for (p, names) in &expect.dirs {
        let Node::Dir(got) = (if p.is_empty() { &tree[&b"/"[..]].node } else { get(p) }) else {
            panic!("{p}")
        };
        let got: BTreeSet<String> = got.iter().map(|n| String::from_utf8(n.clone()).unwrap()).collect();
        assert_eq!(&got, names, "directory {p:?}");
    }

    // The fragmented file's tree is two levels deep; the big directory has an index level.
    let frag = vol.resolve("/fragmented").unwrap();
    let inode = vol.read_inode(frag).unwrap();
    assert!(inode.flags & flags::EXTENTS != 0);
    assert_eq!(u16::from_le_bytes([inode.block[6], inode.block[7]]), 2, "extent tree depth");
    let big = vol.resolve("/big").unwrap();
    let big_inode = vol.read_inode(big).unwrap();
    assert!(big_inode.flags & flags::INDEX != 0, "big is indexed");
    let htree = img.debugfs(&format!("htree_dump <{big}>"));
    assert!(htree.contains("Indirect levels: 1"), "{}", &htree[..htree.len().min(300)]);
    // Hashed lookups find every name, and miss absent ones.
    for i in (0..BIG_DIR_ENTRIES).step_by(7) {
        let ino = vol.lookup(big, long_name(i).as_bytes()).unwrap();
        assert!(ino.is_some(), "{}", long_name(i));
    }
    assert_eq!(vol.lookup(big, b"absent").unwrap(), None);
    assert_eq!(vol.lookup(big, b"..").unwrap(), Some(2));

    // Holes and unwritten extents are reported as such.
    let sparse = vol.resolve("/sparse").unwrap();
    let si = vol.read_inode(sparse).unwrap();
    assert_eq!(vol.map_block(sparse, &si, 0).unwrap(), Mapping::Hole { len: 3 });
    assert!(matches!(vol.map_block(sparse, &si, 3).unwrap(), Mapping::Mapped { unwritten: false, .. }));
    if expect.files.contains_key("prealloc") {
        let p = vol.resolve("/prealloc").unwrap();
        let pi = vol.read_inode(p).unwrap();
        assert!(matches!(vol.map_block(p, &pi, 0).unwrap(), Mapping::Mapped { unwritten: true, .. }));
        assert!(matches!(vol.map_block(p, &pi, 10).unwrap(), Mapping::Mapped { unwritten: false, .. }));
    }

    // Paths: symlinks followed in the middle and at the end, or not at the end.
    let deep = vol.resolve("/a/b/c/d/deep.bin").unwrap();
    assert_eq!(vol.resolve("/a/slow").unwrap(), deep);
    assert_eq!(vol.resolve("/chain1").unwrap(), deep);
    assert_eq!(vol.resolve("a/./b/../b/c/d/deep.bin").unwrap(), deep);
    assert_ne!(vol.resolve_nofollow("/chain1").unwrap(), deep);
    assert!(matches!(vol.resolve("/dangling"), Err(fs::volume::VolumeError::NotFound { .. })));
    assert!(matches!(vol.resolve("/file1/x"), Err(fs::volume::VolumeError::NotADirectory { .. })));
    assert_eq!(vol.resolve("/a/hardlink").unwrap(), vol.resolve("/file4097").unwrap());

    // xattrs: in the inode and in the block.
    let x = &tree[&b"/file1"[..]].xattrs;
    assert!(x.contains(&(b"user.small".to_vec(), b"tiny".to_vec())), "{x:?}");
    assert!(x.contains(&(b"user.large".to_vec(), vec![b'v'; 2000])), "{x:?}");
    assert_ne!(vol.read_inode(vol.resolve("/file1").unwrap()).unwrap().file_acl, 0);

    // Every structure re-encodes to the bytes the kernel wrote.
    let c = common::reencode::check_reencode(&vol);
    eprintln!("re-encoded exactly: {c:?}");
    assert!(c.extent_blocks >= 5 && c.dx_blocks >= 2 && c.xattr_blocks == 1 && c.dir_blocks > 500, "{c:?}");
}
