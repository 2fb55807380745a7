//! The driver over images that are not clean: a journal the kernel committed but did not
//! checkpoint (replayed into memory at mount: the files are there, the image file is not
//! written), and damaged metadata — a bad superblock, a broken inode checksum, a corrupt
//! directory block, a corrupt extent block, and random byte flips in metadata blocks. Damage
//! gives errors (`STATUS_FILE_CORRUPT_ERROR` where the driver can say which file), never a
//! panic, and the verifier stays clean.

mod driver_support;

use std::collections::BTreeSet;
use std::io::{Seek, SeekFrom, Write};
use std::process::Command;

use driver_support::*;
use fs::MemoryDevice;
use fs::driver::MountError;
use fs::volume::{Mapping, Volume};
use irp::file::{CreateOptions, CreateRequest, Credentials, FileKind};
use irp::{Access, IoManager, Status};

const BS: u64 = 4096;

fn open(io: &IoManager, path: &str, options: CreateOptions) -> Result<irp::Handle, Status> {
    io.create("vol", &CreateRequest::open(path, Access::READ).options(options).credentials(Credentials::ROOT))
        .map_err(|e| e.status().expect("a device status"))
}

/// A small kernel-made tree: a few files, a directory, and a file with a depth-1 extent tree.
fn small_tree() -> Result<Image, String> {
    let img = mkfs_ext4("16M", &["-b", "4096"])?;
    let m = img.mount()?;
    std::fs::create_dir(m.path("d")).unwrap();
    for i in 0..20 {
        std::fs::write(m.path(&format!("d/f{i}")), pattern(i, 100 + 500 * i as usize)).unwrap();
    }
    std::fs::write(m.path("top"), b"top\n").unwrap();
    let mut f = std::fs::File::create(m.path("frag")).unwrap();
    for i in 0..12u64 {
        f.seek(SeekFrom::Start(2 * i * BS)).unwrap();
        f.write_all(&pattern(100 + i, BS as usize)).unwrap();
    }
    drop(f);
    m.unmount();
    Ok(img)
}

/// Walks the whole tree through the driver: every directory listed, every inode stat'ed,
/// every file read; returns how many requests failed (and with what).
fn walk(io: &IoManager) -> Vec<Status> {
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    let mut todo = vec!["/".to_owned()];
    while let Some(dir) = todo.pop() {
        let h = match open(io, &dir, CreateOptions::NONE) {
            Ok(h) => h,
            Err(s) => {
                failures.push(s);
                continue;
            }
        };
        let Ok(st) = h.query_stat().map_err(|s| failures.push(s)) else { continue };
        if !seen.insert(st.ino) {
            continue;
        }
        let entries = match h.list_directory(None) {
            Ok(e) => e,
            Err(s) => {
                failures.push(s);
                continue;
            }
        };
        for e in entries.iter().filter(|e| e.name != b"." && e.name != b"..").take(200) {
            let Ok(name) = String::from_utf8(e.name.clone()) else { continue };
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            match open(io, &path, CreateOptions::OPEN_REPARSE_POINT) {
                Ok(c) => match c.query_stat() {
                    Ok(s) if s.kind() == FileKind::Directory => todo.push(path),
                    Ok(s) if s.kind() == FileKind::Regular => {
                        let mut buf = vec![0u8; 65536];
                        let mut off = 0;
                        while off < s.size.min(1 << 20) {
                            match c.read_into(off, &mut buf) {
                                Ok(0) => break,
                                Ok(n) => off += n as u64,
                                Err(st) => {
                                    failures.push(st);
                                    break;
                                }
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(s) => failures.push(s),
                },
                Err(s) => failures.push(s),
            }
        }
    }
    failures
}

/// The image with `edit` applied, written next to it.
fn damaged(img: &Image, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> std::path::PathBuf {
    let mut bytes = std::fs::read(&img.path).unwrap();
    edit(&mut bytes);
    let p = img.dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Byte offset of inode `ino` in the image.
fn inode_offset(vol: &Volume<MemoryDevice>, ino: u32) -> usize {
    let sb = vol.superblock();
    let g = (ino - 1) / sb.inodes_per_group;
    let i = (ino - 1) % sb.inodes_per_group;
    (vol.groups()[g as usize].inode_table * u64::from(vol.block_size())
        + u64::from(i) * u64::from(sb.inode_size())) as usize
}

fn physical(vol: &Volume<MemoryDevice>, ino: u32, lblk: u32) -> u64 {
    let inode = vol.read_inode(ino).unwrap();
    match vol.map_block(ino, &inode, lblk).unwrap() {
        Mapping::Mapped { physical, .. } => physical,
        m => panic!("{m:?}"),
    }
}

#[test]
fn damage_gives_errors_never_panics() {
    let img = match small_tree() {
        Ok(i) => i,
        Err(why) => return irp::testing::skip(why),
    };
    let vol = Volume::open(MemoryDevice::from_image(std::fs::read(&img.path).unwrap())).unwrap();
    let top_ino = vol.resolve("/top").unwrap();
    let d_ino = vol.resolve("/d").unwrap();
    let frag_ino = vol.resolve("/frag").unwrap();
    let frag = vol.read_inode(frag_ino).unwrap();
    assert_eq!(u16::from_le_bytes([frag.block[6], frag.block[7]]), 1, "frag's extent tree has depth 1");
    let extent_block = u64::from_le_bytes({
        // The root's first index entry: ei_leaf_lo at 4, ei_leaf_hi at 8.
        let e = &frag.block[12..24];
        let lo = u32::from_le_bytes(e[4..8].try_into().unwrap());
        let hi = u16::from_le_bytes(e[8..10].try_into().unwrap());
        (u64::from(lo) | u64::from(hi) << 32).to_le_bytes()
    });
    let d_block = physical(&vol, d_ino, 0);

    // A clean walk first.
    let (io, top) = mount_driver(&img.path).unwrap();
    assert_eq!(walk(&io), vec![]);
    drop(io);
    assert_eq!(top.verifier().violations(), vec![]);

    // No superblock.
    let p = damaged(&img, "nosb.img", |b| b[1024 + 0x38..1024 + 0x3A].fill(0));
    let e = mount_driver(&p).unwrap_err();
    assert!(matches!(e, MountError::Volume(_)), "{e}");
    assert!(e.to_string().contains("not a valid ext4 volume"), "{e}");

    // A broken inode: that file fails, the rest of the tree reads.
    let off = inode_offset(&vol, top_ino);
    let p = damaged(&img, "inode.img", |b| b[off + 0x10] ^= 0x55);
    let (io, top) = mount_driver(&p).unwrap();
    assert_eq!(open(&io, "top", CreateOptions::NONE).err(), Some(Status::FILE_CORRUPT_ERROR));
    assert_eq!(walk(&io), vec![Status::FILE_CORRUPT_ERROR]);
    drop(io);
    assert_eq!(top.verifier().violations(), vec![]);

    // A corrupt directory block: listing and lookups in it fail.
    let at = (d_block * BS) as usize;
    let p = damaged(&img, "dir.img", |b| b[at + 20..at + 40].fill(0xEE));
    let (io, _top) = mount_driver(&p).unwrap();
    let d = open(&io, "d", CreateOptions::NONE).unwrap();
    assert_eq!(d.list_directory(None), Err(Status::FILE_CORRUPT_ERROR));
    assert_eq!(open(&io, "d/f3", CreateOptions::NONE).err(), Some(Status::FILE_CORRUPT_ERROR));
    assert!(open(&io, "top", CreateOptions::NONE).is_ok());
    drop(io);

    // A corrupt extent block: reading the file fails.
    let at = (extent_block * BS) as usize;
    let p = damaged(&img, "extent.img", |b| b[at] ^= 0xFF);
    let (io, _top) = mount_driver(&p).unwrap();
    let f = open(&io, "frag", CreateOptions::NONE).unwrap();
    assert_eq!(f.read(0, 4096).err(), Some(Status::FILE_CORRUPT_ERROR));
    drop(io);

    // Random flips in the metadata blocks: errors at mount or in the walk, never a panic.
    let mut metadata: Vec<u64> = vec![0, 1, d_block, extent_block, physical(&vol, 2, 0)];
    let itable = vol.groups()[0].inode_table;
    metadata.extend(itable..itable + 2);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut mounted, mut failed) = (0, 0);
    for round in 0..40 {
        let block = metadata[(next() % metadata.len() as u64) as usize];
        let flips: Vec<(usize, u8)> =
            (0..1 + next() % 8).map(|_| ((block * BS + next() % BS) as usize, 1u8 << (next() % 8))).collect();
        let p = damaged(&img, "flipped.img", |b| {
            for &(at, bit) in &flips {
                b[at] ^= bit;
            }
        });
        match mount_driver(&p) {
            Ok((io, top)) => {
                mounted += 1;
                failed += usize::from(!walk(&io).is_empty());
                drop(io);
                assert_eq!(top.verifier().violations(), vec![], "round {round}");
            }
            Err(e) => assert!(!e.to_string().is_empty(), "round {round}"),
        }
    }
    assert!(mounted > 0 && failed > 0, "{mounted} mounted, {failed} walks failed");
}

#[test]
fn a_dirty_journal_is_replayed_into_memory_only() {
    let img = match mkfs_ext4("32M", &["-b", "4096"]) {
        Ok(i) => i,
        Err(why) => return irp::testing::skip(why),
    };
    let m = match img.mount() {
        Ok(m) => m,
        Err(why) => return irp::testing::skip(why),
    };
    std::fs::create_dir(m.path("d")).unwrap();
    for i in 0..50 {
        std::fs::write(m.path(&format!("d/f{i}")), format!("file {i}\n")).unwrap();
    }
    std::fs::write(m.path("after"), b"written before the sync\n").unwrap();
    run(Command::new("sync").arg("-f").arg(m.path("after")));
    // The copy has the committed transactions in its journal, not checkpointed yet.
    let dirty = img.dir.path().join("dirty.img");
    std::fs::copy(&img.path, &dirty).unwrap();
    m.unmount();
    let before = std::fs::read(&dirty).unwrap();
    let vol = Volume::open(MemoryDevice::from_image(before.clone())).unwrap();
    if !vol.superblock().needs_recovery() {
        return irp::testing::skip("the kernel checkpointed the journal before the copy");
    }

    let (io, top) = mount_driver(&dirty).unwrap();
    let fsd = top.driver_as::<fs::driver::FsDriver>().unwrap();
    let report = fsd.vcb().recovery().expect("the journal needed recovery").clone();
    assert!(report.transactions > 0 && report.blocks_written > 0, "{report:?}");
    let h = open(&io, "after", CreateOptions::NONE).unwrap();
    assert_eq!(h.read(0, 24).unwrap().bytes(), b"written before the sync\n");
    let d = open(&io, "d", CreateOptions::NONE).unwrap();
    assert_eq!(d.list_directory(None).unwrap().len(), 52);
    assert_eq!(open(&io, "d/f49", CreateOptions::NONE).unwrap().read(0, 8).unwrap().bytes(), b"file 49\n");
    assert_eq!(walk(&io), vec![]);
    drop((h, d));
    io.shutdown().unwrap();
    drop(io);
    assert!(std::fs::read(&dirty).unwrap() == before, "a read-only mount does not write the image");
    assert_eq!(top.verifier().violations(), vec![]);
}
