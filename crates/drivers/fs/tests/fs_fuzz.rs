//! Damaged metadata never makes the write path panic or hang: a small populated image has
//! bytes of its metadata blocks (descriptors, bitmaps, inode table, directory, extent and
//! xattr blocks) changed at random; it is mounted (with and without checksum verification,
//! so the decoders see the damage) and put through lookups, listings, reads, creates,
//! writes, truncates, unlinks, renames and xattr changes. Errors are expected; panics are
//! failures.

mod write_support;

use std::sync::{Arc, OnceLock};

use fs::filesystem::{FileKind, MountOptions, RenameMode, XattrMode};
use fs::volume::{Mapping, Volume};
use fs::{BlockDevice, Filesystem, MemoryDevice, ROOT};
use proptest::prelude::*;
use write_support::*;

/// The populated image and its metadata blocks.
fn base() -> &'static (Vec<u8>, Vec<u64>) {
    static BASE: OnceLock<(Vec<u8>, Vec<u64>)> = OnceLock::new();
    BASE.get_or_init(|| {
        let dev = fresh_device(16 << 20, 31);
        let fs = mount(&dev);
        let d = fs.mkdir(ROOT, b"dir", 0o755, 0, 0).unwrap().ino;
        for i in 0..60 {
            let f = fs.create(d, format!("name-{i}").as_bytes(), 0o644, 0, 0).unwrap().ino;
            fs.write(f, 0, &pattern(i, (i as usize * 997) % 9000)).unwrap();
        }
        let frag = fs.create(ROOT, b"frag", 0o644, 0, 0).unwrap().ino;
        let spacer = fs.create(ROOT, b"spacer", 0o644, 0, 0).unwrap().ino;
        for i in 0..30u64 {
            fs.write(frag, i * 8192, &pattern(i, 4096)).unwrap();
            fs.write(spacer, i * 4096, &pattern(i, 4096)).unwrap();
        }
        fs.setxattr(frag, b"user.big", &[7; 1500], XattrMode::Set).unwrap();
        fs.symlink(d, b"link", &[b'l'; 100], 0, 0).unwrap();
        fs.unmount().unwrap();
        let vol = Volume::open(&*dev).unwrap();
        let mut meta = vec![0u64, 1];
        for gd in vol.groups() {
            meta.extend([gd.block_bitmap, gd.inode_bitmap, gd.inode_table, gd.inode_table + 1]);
        }
        for path in ["/", "/dir", "/frag", "/dir/link"] {
            let ino = vol.resolve_nofollow(path).unwrap();
            let inode = vol.read_inode(ino).unwrap();
            if inode.file_acl != 0 {
                meta.push(inode.file_acl);
            }
            let blocks = inode.size.div_ceil(4096);
            let mut l = 0;
            while l < blocks.min(64) {
                match vol.map_block(ino, &inode, l as u32).unwrap() {
                    Mapping::Mapped { physical, len, .. } => {
                        if path != "/frag" {
                            meta.push(physical);
                        }
                        l += len;
                    }
                    Mapping::Hole { len } => l += len,
                }
            }
        }
        // The fragmented file's extent blocks: the root's index entries.
        let inode = vol.read_inode(vol.resolve("/frag").unwrap()).unwrap();
        if let Ok(fs::ondisk::extent::ExtentNode::Index(_, idx)) =
            fs::ondisk::extent::ExtentNode::decode(&inode.block)
        {
            meta.extend(idx.iter().map(|e| e.leaf));
        }
        drop(vol);
        (dev.image(), meta)
    })
}

/// Runs everything against the damaged volume; errors are fine.
fn exercise(fs: &Filesystem) {
    let mut stack = vec![ROOT];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        seen += 1;
        if seen > 50 {
            break;
        }
        let mut cookie = 0;
        for _ in 0..100 {
            let Ok(batch) = fs.readdir(dir, cookie) else { break };
            let Some(last) = batch.last() else { break };
            cookie = last.cookie;
            for e in batch {
                if e.name == b"." || e.name == b".." {
                    continue;
                }
                let _ = fs.lookup(dir, &e.name);
                match fs.getattr(e.ino).map(|a| a.kind) {
                    Ok(FileKind::Directory) => stack.push(e.ino),
                    Ok(FileKind::Regular) => {
                        let mut buf = vec![0u8; 20_000];
                        let _ = fs.read(e.ino, 0, &mut buf);
                        let _ = fs.write(e.ino, 3000, b"overwrite");
                        let _ = fs.listxattr(e.ino);
                    }
                    Ok(FileKind::Symlink) => {
                        let _ = fs.readlink(e.ino);
                    }
                    _ => {}
                }
            }
        }
    }
    for (dir, name) in [(ROOT, &b"frag"[..]), (ROOT, b"spacer")] {
        if let Ok(a) = fs.lookup(dir, name) {
            let _ = fs.write(a.ino, 1 << 20, &pattern(1, 10_000));
            let _ = fs.truncate(a.ino, 50_000);
            let _ = fs.punch_hole(a.ino, 1000, 30_000);
            let _ = fs.fallocate(a.ino, 0, 200_000, true);
            let _ = fs.setxattr(a.ino, b"user.x", &[1; 700], XattrMode::Set);
            let _ = fs.removexattr(a.ino, b"user.big");
        }
    }
    if let Ok(d) = fs.lookup(ROOT, b"dir") {
        for i in 0..10 {
            let _ = fs.unlink(d.ino, format!("name-{i}").as_bytes());
            let _ = fs.create(d.ino, format!("new-{i}").as_bytes(), 0o644, 0, 0);
            let _ = fs.rename(
                d.ino,
                format!("name-{}", 20 + i).as_bytes(),
                ROOT,
                format!("moved-{i}").as_bytes(),
                RenameMode::Replace,
            );
        }
        let _ = fs.mkdir(d.ino, b"sub", 0o755, 0, 0);
        let _ = fs.rename(ROOT, b"dir", ROOT, b"dir2", RenameMode::Replace);
    }
    let _ = fs.unlink(ROOT, b"frag");
    let _ = fs.statfs();
    let _ = fs.sync();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn damaged_metadata_gives_errors_not_panics(
        damage in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..4096, 1u8..=255), 1..4),
        verify in any::<bool>(),
    ) {
        let (image, meta) = base();
        let mut img = image.clone();
        for (which, off, x) in damage {
            let b = meta[which.index(meta.len())];
            img[b as usize * 4096 + off] ^= x;
        }
        let dev = Arc::new(MemoryDevice::from_image(img));
        let opts = MountOptions { verify_checksums: verify, clock: test_clock, ..MountOptions::default() };
        if let Ok(fs) = Filesystem::mount(dev as Arc<dyn BlockDevice>, opts) {
            exercise(&fs);
            let _ = fs.unmount();
        }
    }
}
