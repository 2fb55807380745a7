//! A tree written through our file system, read back by the Linux kernel (loop mount,
//! read-only) bit for bit: files of every small size, a sparse file over 4 GiB written at
//! both ends, a fragmented file whose extent tree is two levels deep, a 20,000-entry
//! directory, fast and slow symlinks, hard links, xattrs in the inode and in a block,
//! preallocated and punched files. e2fsck -fn says nothing about it first.

mod write_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;

use fs::ROOT;
use fs::filesystem::{SetAttr, Timestamp, XattrMode};
use fs::ondisk::inode::mode;
use fs::volume::Volume;
use write_support::*;

const BS: u64 = 4096;
const BIG_DIR: usize = 20_000;
const FRAGMENTS: u64 = 1500;
const FAR: u64 = 5 << 30;

#[test]
fn the_kernel_reads_what_we_wrote() {
    let test = "the_kernel_reads_what_we_wrote";
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("ours.img");
    our_image(&img, 256 << 20, 11);
    let fs = mount_file(&img);

    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut dirs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let add = |dirs: &mut BTreeMap<String, BTreeSet<String>>, parent: &str, name: &str| {
        dirs.entry(parent.to_string()).or_default().insert(name.to_string());
    };
    add(&mut dirs, "", "lost+found");
    for (i, len) in [0usize, 1, 59, 60, 4095, 4096, 4097, 100_000, 1 << 20].into_iter().enumerate() {
        let name = format!("file{len}");
        let f = fs.create(ROOT, name.as_bytes(), 0o644, 1000, 1000).unwrap();
        let data = pattern(i as u64 + 1, len);
        fs.write(f.ino, 0, &data).unwrap();
        files.insert(name.clone(), data);
        add(&mut dirs, "", &name);
    }
    // Over 4 GiB, written at both ends.
    let sparse = fs.create(ROOT, b"sparse5g", 0o644, 0, 0).unwrap();
    let head = pattern(50, 10_000);
    let tail = pattern(51, 10_000);
    fs.write(sparse.ino, 0, &head).unwrap();
    fs.write(sparse.ino, FAR, &tail).unwrap();
    add(&mut dirs, "", "sparse5g");
    // Every other block: more extents than four leaves hold, so two levels of index.
    let frag = fs.create(ROOT, b"fragmented", 0o644, 0, 0).unwrap();
    let mut frag_data = vec![0u8; ((2 * FRAGMENTS - 1) * BS) as usize];
    for i in 0..FRAGMENTS {
        let b = pattern(1000 + i, BS as usize);
        fs.write(frag.ino, 2 * i * BS, &b).unwrap();
        // A neighbour file takes the block after, so the file cannot stay contiguous.
        frag_data[(2 * i * BS) as usize..((2 * i + 1) * BS) as usize].copy_from_slice(&b);
        if i == 0 {
            fs.create(ROOT, b"spacer", 0o644, 0, 0).unwrap();
            add(&mut dirs, "", "spacer");
            files.insert("spacer".into(), Vec::new());
        }
    }
    files.insert("fragmented".into(), frag_data);
    add(&mut dirs, "", "fragmented");
    // Preallocated then partly written; punched.
    let pre = fs.create(ROOT, b"prealloc", 0o644, 0, 0).unwrap();
    fs.fallocate(pre.ino, 0, 1 << 20, false).unwrap();
    let mid = pattern(9, 5000);
    fs.write(pre.ino, 10 * BS + 7, &mid).unwrap();
    let mut pre_data = vec![0u8; 1 << 20];
    pre_data[(10 * BS + 7) as usize..(10 * BS + 7) as usize + 5000].copy_from_slice(&mid);
    files.insert("prealloc".into(), pre_data);
    add(&mut dirs, "", "prealloc");
    let punched = fs.create(ROOT, b"punched", 0o644, 0, 0).unwrap();
    let mut p = pattern(10, 200_000);
    fs.write(punched.ino, 0, &p).unwrap();
    fs.punch_hole(punched.ino, 5000, 100_000).unwrap();
    p[5000..105_000].fill(0);
    files.insert("punched".into(), p);
    add(&mut dirs, "", "punched");
    // Nested directories, a big one, links.
    let a = fs.mkdir(ROOT, b"a", 0o755, 0, 0).unwrap();
    let b = fs.mkdir(a.ino, b"b", 0o755, 0, 0).unwrap();
    let deep = fs.create(b.ino, b"deep.bin", 0o600, 0, 0).unwrap();
    let deep_data = pattern(77, 12_345);
    fs.write(deep.ino, 0, &deep_data).unwrap();
    files.insert("a/b/deep.bin".into(), deep_data.clone());
    add(&mut dirs, "", "a");
    add(&mut dirs, "a", "b");
    add(&mut dirs, "a/b", "deep.bin");
    let big = fs.mkdir(ROOT, b"big", 0o755, 0, 0).unwrap();
    add(&mut dirs, "", "big");
    for i in 0..BIG_DIR {
        let name = format!("entry-{i:05}");
        fs.create(big.ino, name.as_bytes(), 0o644, 0, 0).unwrap();
        add(&mut dirs, "big", &name);
    }
    fs.link(deep.ino, a.ino, b"hardlink").unwrap();
    files.insert("a/hardlink".into(), deep_data);
    add(&mut dirs, "a", "hardlink");
    let slow_target = format!("b/{}/../deep.bin", "x".repeat(100));
    let mut links = BTreeMap::new();
    for (parent, pino, name, target) in [
        ("", ROOT, "fast", "file4096".to_string()),
        ("a", a.ino, "slow", slow_target),
        ("", ROOT, "abs", "/a/b/deep.bin".into()),
    ] {
        fs.symlink(pino, name.as_bytes(), target.as_bytes(), 0, 0).unwrap();
        add(&mut dirs, parent, name);
        links.insert(if parent.is_empty() { name.to_string() } else { format!("{parent}/{name}") }, target);
    }
    // xattrs: a small one stays in the inode, a large one goes to a block.
    let f1 = fs.lookup(ROOT, b"file1").unwrap().ino;
    fs.setxattr(f1, b"user.small", b"tiny", XattrMode::Set).unwrap();
    fs.setxattr(f1, b"user.large", &[b'v'; 2000], XattrMode::Set).unwrap();
    fs.setxattr(a.ino, b"trusted.dir", b"on a directory", XattrMode::Set).unwrap();
    // Nanosecond times, a device node, a FIFO.
    let when = Timestamp { secs: 1_500_000_000, nanos: 123_456_789 };
    fs.setattr(f1, &SetAttr { mtime: Some(when), ..SetAttr::default() }).unwrap();
    fs.mknod(ROOT, b"null", mode::S_IFCHR | 0o666, (1 << 8) | 3, 0, 0).unwrap();
    fs.mknod(ROOT, b"fifo", mode::S_IFIFO | 0o644, 0, 0, 0).unwrap();
    add(&mut dirs, "", "null");
    add(&mut dirs, "", "fifo");
    fs.unmount().unwrap();

    assert_fsck_file(&img, test);

    // Our extent tree of the fragmented file is two levels deep.
    let vol = Volume::open(fs::FileDevice::open(&img).unwrap()).unwrap();
    let fino = vol.resolve("/fragmented").unwrap();
    let finode = vol.read_inode(fino).unwrap();
    assert_eq!(u16::from_le_bytes([finode.block[6], finode.block[7]]), 2, "extent tree depth");
    drop(vol);

    let Some(m) = LoopMount::new(&img, &dir.path().join("mnt"), true, test) else { return };
    for (p, data) in &files {
        let got = std::fs::read(m.path(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(
            got == *data,
            "{p}: the kernel reads different contents ({} vs {} bytes)",
            got.len(),
            data.len()
        );
    }
    for (p, target) in &links {
        assert_eq!(std::fs::read_link(m.path(p)).unwrap().to_str().unwrap(), target, "{p}");
    }
    for (p, names) in &dirs {
        let got: BTreeSet<String> = std::fs::read_dir(m.path(p))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(&got, names, "directory {p:?}");
    }
    // Hard link: one inode, two names.
    let m1 = std::fs::metadata(m.path("a/hardlink")).unwrap();
    let m2 = std::fs::metadata(m.path("a/b/deep.bin")).unwrap();
    assert_eq!((m1.ino(), m1.nlink()), (m2.ino(), 2));
    // The sparse file: its size, both ends, and zeros in between.
    let mut f = std::fs::File::open(m.path("sparse5g")).unwrap();
    assert_eq!(f.metadata().unwrap().len(), FAR + 10_000);
    let mut buf = vec![0u8; 10_000];
    f.read_exact(&mut buf).unwrap();
    assert_eq!(buf, head);
    f.seek(SeekFrom::Start(FAR)).unwrap();
    f.read_exact(&mut buf).unwrap();
    assert_eq!(buf, tail);
    f.seek(SeekFrom::Start(FAR / 2)).unwrap();
    f.read_exact(&mut buf).unwrap();
    assert!(buf.iter().all(|&x| x == 0));
    assert!(f.metadata().unwrap().blocks() <= 48, "the hole takes no space");
    drop(f);
    let m1 = std::fs::metadata(m.path("file1")).unwrap();
    assert_eq!((m1.mtime(), m1.mtime_nsec()), (1_500_000_000, 123_456_789));
    assert_eq!(std::fs::metadata(m.path("null")).unwrap().rdev(), (1 << 8) | 3);
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&std::fs::metadata(m.path("fifo")).unwrap().file_type()));
    // xattrs.
    if have("getfattr") {
        assert_eq!(getfattr(&m.path("file1"), "user.small").unwrap(), b"tiny");
        assert_eq!(getfattr(&m.path("file1"), "user.large").unwrap(), vec![b'v'; 2000]);
        assert_eq!(getfattr(&m.path("a"), "trusted.dir").unwrap(), b"on a directory");
    } else {
        eprintln!("SKIP {test} (xattrs): getfattr not installed");
    }
    m.unmount();
    assert_fsck_file(&img, "after the kernel's read-only mount");
}
