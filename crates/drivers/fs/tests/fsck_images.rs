//! The structural check against e2fsck: clean on images mkfs.ext4 and our mkfs make and on
//! trees the kernel wrote (and on a kernel journal left dirty, which it replays into
//! memory); on deliberately damaged images — a bitmap bit, a link count, a block claimed
//! twice, a broken inode checksum, an entry naming an unused inode, an unattached inode, a
//! group count, a bad superblock — its verdict is e2fsck -fn's exit code, and it names the
//! problem.

mod driver_support;

use std::path::Path;
use std::process::Command;

use driver_support::*;
use fs::MemoryDevice;
use fs::fsck::{self, Area, FsckReport};

fn fsck_image(path: &Path) -> Result<FsckReport, fsck::FsckError> {
    fsck::check(&MemoryDevice::from_image(std::fs::read(path).unwrap()))
}

fn e2fsck_code(path: &Path) -> (i32, String) {
    let out = Command::new("e2fsck").arg("-fn").arg(path).output().expect("e2fsck runs");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

/// Our verdict and e2fsck's agree; returns our report.
fn same_verdict(path: &Path, what: &str) -> Option<FsckReport> {
    let (theirs, text) = e2fsck_code(path);
    match fsck_image(path) {
        Ok(report) => {
            assert_eq!(report.exit_code(), theirs, "{what}: ours {:#?}\ne2fsck: {text}", report.problems);
            Some(report)
        }
        Err(e) => {
            assert_eq!(fsck::EXIT_OPERATIONAL, theirs, "{what}: ours {e}\ne2fsck: {text}");
            None
        }
    }
}

fn debugfs_w(img: &Path, cmd: &str) {
    run(Command::new("debugfs").arg("-w").arg("-R").arg(cmd).arg(img));
}

fn copy(img: &Image, name: &str) -> std::path::PathBuf {
    let p = img.dir.path().join(name);
    std::fs::copy(&img.path, &p).unwrap();
    p
}

#[test]
fn fresh_images_are_clean() {
    if !have("e2fsck") {
        return irp::testing::skip("e2fsck is not installed");
    }
    for (size, args) in [
        ("64M", vec!["-b", "4096"]),
        ("32M", vec!["-b", "1024"]),
        ("300M", vec!["-b", "4096", "-g", "8192"]),
        ("32M", vec!["-O", "^metadata_csum,^64bit,uninit_bg"]),
        ("32M", vec!["-O", "^resize_inode,^flex_bg"]),
        ("16M", vec!["-t", "ext2"]),
    ] {
        let img = match mkfs_ext4(size, &args) {
            Ok(i) => i,
            Err(why) => return irp::testing::skip(why),
        };
        let r = same_verdict(&img.path, &format!("mkfs.ext4 {args:?} {size}")).unwrap();
        assert!(r.problems.is_empty(), "{args:?}: {:#?}", r.problems);
        assert!(r.inodes.0 >= 11 && r.directories == 2, "{r:?}");
    }
    // Our mkfs.
    let dev = MemoryDevice::new(96 << 20);
    fs::mkfs::mkfs(&dev, &fs::mkfs::MkfsOptions::from_seed(3)).unwrap();
    let r = fsck::check(&dev).unwrap();
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
}

fn kernel_tree_image() -> Result<Image, String> {
    let img = mkfs_ext4("64M", &["-b", "4096"])?;
    let m = img.mount()?;
    for i in 0..30u64 {
        std::fs::write(m.path(&format!("f{i}")), pattern(i, (i * 7919) as usize % 200_000)).unwrap();
    }
    std::fs::create_dir_all(m.path("a/b/c")).unwrap();
    std::fs::write(m.path("a/b/c/deep"), b"deep").unwrap();
    std::fs::create_dir(m.path("big")).unwrap();
    for i in 0..2000 {
        std::fs::write(m.path(&format!("big/{i:05}-{}", "x".repeat(40))), []).unwrap();
    }
    std::fs::hard_link(m.path("f3"), m.path("a/link")).unwrap();
    std::os::unix::fs::symlink("f1", m.path("fast")).unwrap();
    std::os::unix::fs::symlink("a/".repeat(40) + "x", m.path("slow")).unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(m.path("sparse")).unwrap();
        for i in 0..40u64 {
            f.seek(SeekFrom::Start(i * 3 * 4096)).unwrap();
            f.write_all(&[i as u8; 100]).unwrap();
        }
    }
    run(Command::new("fallocate").arg("-l").arg("2M").arg(m.path("prealloc")));
    if have("setfattr") {
        run(Command::new("setfattr").args(["-n", "user.big", "-v", &"v".repeat(3000)]).arg(m.path("f1")));
        run(Command::new("setfattr").args(["-n", "user.s", "-v", "s"]).arg(m.path("f2")));
    }
    std::fs::remove_file(m.path("f5")).unwrap();
    std::fs::remove_dir(m.path("a/b/c")).unwrap_err();
    m.unmount();
    Ok(img)
}

#[test]
fn kernel_written_trees_are_clean_and_damage_is_found_as_e2fsck_finds_it() {
    if !have("debugfs") || !have("e2fsck") {
        return irp::testing::skip("debugfs or e2fsck is not installed");
    }
    let img = match kernel_tree_image() {
        Ok(i) => i,
        Err(why) => return irp::testing::skip(why),
    };
    let r = same_verdict(&img.path, "the kernel's tree").unwrap();
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
    assert_eq!(r.directories, 6, "root, lost+found, a, a/b, a/b/c, big");

    let ino_of = |p: &str| -> u32 {
        let vol =
            fs::volume::Volume::open(MemoryDevice::from_image(std::fs::read(&img.path).unwrap())).unwrap();
        vol.resolve(p).unwrap()
    };
    let first_block = |p: &str| -> u64 {
        let vol =
            fs::volume::Volume::open(MemoryDevice::from_image(std::fs::read(&img.path).unwrap())).unwrap();
        let ino = vol.resolve(p).unwrap();
        let inode = vol.read_inode(ino).unwrap();
        match vol.map_block(ino, &inode, 0).unwrap() {
            fs::volume::Mapping::Mapped { physical, .. } => physical,
            m => panic!("{m:?}"),
        }
    };
    let expect = |path: &Path, what: &str, area: Area, needle: &str| {
        let r = same_verdict(path, what).unwrap_or_else(|| panic!("{what}: not checked"));
        assert_eq!(r.exit_code(), fsck::EXIT_UNCORRECTED, "{what}");
        assert!(
            r.errors().any(|p| p.area == area && p.detail.contains(needle)),
            "{what}: no {area:?} error mentioning {needle:?} in {:#?}",
            r.problems
        );
    };

    // A block bitmap bit cleared for a block in use.
    let p = copy(&img, "freeb.img");
    let b = first_block("/f7");
    debugfs_w(&p, &format!("freeb {b}"));
    expect(&p, "freeb", Area::BlockBitmap, &format!("blocks {b} are in use but marked free"));

    // An inode bitmap bit cleared.
    let p = copy(&img, "freei.img");
    let ino = ino_of("/f8");
    debugfs_w(&p, &format!("freei <{ino}>"));
    expect(&p, "freei", Area::InodeBitmap, &format!("inodes {ino} are in use but marked free"));

    // A wrong link count.
    let p = copy(&img, "links.img");
    debugfs_w(&p, "sif /f9 links_count 5");
    expect(
        &p,
        "links_count",
        Area::LinkCount,
        &format!("inode {}: i_links_count is 5, should be 1", ino_of("/f9")),
    );

    // A block claimed twice: f11's only extent pointed at f10's first block.
    let p = copy(&img, "dup.img");
    debugfs_w(&p, &format!("sif /f11 block[5] {}", first_block("/f10")));
    expect(&p, "duplicate block", Area::DuplicateBlock, &format!("inode {}", ino_of("/f11")));

    // An inode checksum broken by hand.
    let p = copy(&img, "csum.img");
    {
        let vol = fs::volume::Volume::open(MemoryDevice::from_image(std::fs::read(&p).unwrap())).unwrap();
        let ino = vol.resolve("/f12").unwrap();
        let sb = vol.superblock();
        let g = (ino - 1) / sb.inodes_per_group;
        let off =
            vol.groups()[g as usize].inode_table * 4096 + u64::from((ino - 1) % sb.inodes_per_group) * 256;
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[off as usize + 0x08] ^= 1; // i_atime
        std::fs::write(&p, bytes).unwrap();
    }
    expect(&p, "inode checksum", Area::Inode, &format!("inode {}", ino_of("/f12")));

    // An entry naming an unused inode.
    let p = copy(&img, "ln.img");
    debugfs_w(&p, "ln <16000> /bogus");
    expect(&p, "entry to unused inode", Area::Directory, "names inode 16000, which is not in use");

    // An entry removed without its link: the inode is unattached.
    let p = copy(&img, "unlink.img");
    debugfs_w(&p, "unlink /f13");
    expect(
        &p,
        "unattached inode",
        Area::LinkCount,
        &format!("inode {} is in use but in no directory", ino_of("/f13")),
    );

    // A group's free count.
    let p = copy(&img, "group.img");
    debugfs_w(&p, "set_bg 0 free_blocks_count 7");
    debugfs_w(&p, "set_bg 0 checksum calc");
    expect(&p, "group free count", Area::Counts, "group 0: free blocks count is 7");

    // The superblock's free count is only a warning, as for e2fsck.
    let p = copy(&img, "sbcount.img");
    debugfs_w(&p, "ssv free_blocks_count 123");
    let r = same_verdict(&p, "superblock free count").unwrap();
    assert!(
        r.is_clean() && r.problems.iter().any(|w| w.detail.contains("free blocks count wrong (123")),
        "{r:?}"
    );

    // No superblock: neither can check it.
    let p = copy(&img, "magic.img");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[1024 + 0x38] = 0;
    std::fs::write(&p, bytes).unwrap();
    assert!(same_verdict(&p, "bad magic").is_none());
}

#[test]
fn a_dirty_kernel_journal_is_replayed_into_memory_then_checked() {
    if !have("e2fsck") {
        return irp::testing::skip("e2fsck is not installed");
    }
    let img = match mkfs_ext4("32M", &["-b", "4096"]) {
        Ok(i) => i,
        Err(why) => return irp::testing::skip(why),
    };
    let m = match img.mount() {
        Ok(m) => m,
        Err(why) => return irp::testing::skip(why),
    };
    std::fs::create_dir(m.path("d")).unwrap();
    for i in 0..100 {
        std::fs::write(m.path(&format!("d/f{i}")), vec![i as u8; i * 100]).unwrap();
    }
    std::fs::remove_file(m.path("d/f7")).unwrap();
    run(Command::new("sync").arg("-f").arg(m.path("d")));
    let dirty = img.dir.path().join("dirty.img");
    std::fs::copy(&img.path, &dirty).unwrap();
    m.unmount();
    let before = std::fs::read(&dirty).unwrap();
    let r = fsck::check(&MemoryDevice::from_image(before.clone())).unwrap();
    if r.replay.is_none() {
        return irp::testing::skip("the kernel checkpointed the journal before the copy");
    }
    // Clean; the superblock's totals of a live volume lag behind (a warning, as e2fsck's).
    assert!(r.is_clean(), "{:#?}", r.problems);
    assert!(r.problems.iter().all(|p| p.area == Area::Counts), "{:#?}", r.problems);
    // e2fsck agrees once it replayed the journal itself.
    let replayed = img.dir.path().join("replayed.img");
    std::fs::write(&replayed, &before).unwrap();
    let out = Command::new("e2fsck").args(["-E", "journal_only", "-y"]).arg(&replayed).output().unwrap();
    assert!(out.status.code().unwrap_or(99) <= 1, "{out:?}");
    assert_eq!(e2fsck_code(&replayed).0, 0);
    assert_eq!(fsck_image(&replayed).unwrap().exit_code(), 0);
}
