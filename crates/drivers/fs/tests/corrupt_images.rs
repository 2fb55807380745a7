//! Damaged images give errors that say what is wrong and where, never panics: a byte
//! flipped in the superblock, a group descriptor, an inode, an extent block, a directory
//! block; with checksums verified (the checksum catches it) and without (the decoder
//! behind it does).

mod common;

use common::sample::{MANY, frag_data, sample_image};
use fs::MemoryDevice;
use fs::ondisk::features::Access;
use fs::ondisk::inode::{Inode, ROOT_INO};
use fs::ondisk::superblock::Superblock;
use fs::volume::{Mapping, OpenOptions, Volume, VolumeError};

fn open(image: &[u8], verify: bool) -> Result<Volume<MemoryDevice>, VolumeError> {
    Volume::open_with(MemoryDevice::from_image(image.to_vec()), OpenOptions { verify_checksums: verify })
}

/// Reads the whole tree and every file; the first error as text.
fn walk_err(image: &[u8], verify: bool) -> String {
    match open(image, verify) {
        Err(e) => e.to_string(),
        Ok(v) => match common::walk(&v, 1 << 20) {
            Err(e) => e.to_string(),
            Ok(_) => "no error".into(),
        },
    }
}

/// Rewrites the superblock with `f` applied and the checksum fixed.
fn edit_sb(image: &mut [u8], f: impl FnOnce(&mut Superblock)) {
    let mut sb = Superblock::decode(&image[1024..2048]).unwrap();
    f(&mut sb);
    sb.update_checksum();
    image[1024..2048].copy_from_slice(&sb.encode());
}

#[test]
fn damage_is_reported_with_its_place() {
    let Some(img) = sample_image("damage_is_reported_with_its_place") else { return };
    let clean = std::fs::read(&img.path).unwrap();
    let vol = open(&clean, true).unwrap();
    assert_eq!(walk_err(&clean, true), "no error");
    let frag = vol.resolve("/frag").unwrap();
    assert_eq!(vol.read_all(frag, &vol.read_inode(frag).unwrap(), 1 << 20).unwrap(), frag_data());
    let bs = 4096usize;

    // Superblock: magic, then any other byte (the checksum).
    let mut b = clean.clone();
    b[1024 + 0x38] ^= 0xFF;
    assert_eq!(walk_err(&b, true), "superblock: magic 0xefac, expected 0xef53");
    let mut b = clean.clone();
    b[1024 + 0x08] ^= 1;
    assert!(walk_err(&b, true).starts_with("superblock: checksum "), "{}", walk_err(&b, true));
    // An unknown INCOMPAT feature is refused by bit, an unknown RO_COMPAT one makes the
    // volume read-only.
    let mut b = clean.clone();
    edit_sb(&mut b, |sb| sb.features.incompat |= 1 << 28);
    assert_eq!(
        walk_err(&b, true),
        "unsupported incompat feature FEATURE_I28 (bit 0x10000000); cannot read this volume"
    );
    let mut b = clean.clone();
    edit_sb(&mut b, |sb| sb.features.ro_compat |= 1 << 25);
    assert_eq!(
        open(&b, true).unwrap().access(),
        &Access::ReadOnly { reason: "unsupported ro_compat features: FEATURE_R25".into() }
    );

    // Group descriptor 0 (block 1): checksum, or with checksums off a bad table location.
    let mut b = clean.clone();
    b[bs + 0x08] ^= 0x40; // inode table low byte
    assert!(walk_err(&b, true).starts_with("group 0: group descriptor: checksum "), "{}", walk_err(&b, true));
    let mut b = clean.clone();
    b[bs + 0x0B] = 0x7F; // inode table far past the end
    assert!(walk_err(&b, false).contains("inode table at block"), "{}", walk_err(&b, false));

    // The root inode.
    let gd = &vol.groups()[0];
    let inode_at = |ino: u32| gd.inode_table as usize * bs + (ino as usize - 1) * 256;
    let mut b = clean.clone();
    b[inode_at(ROOT_INO) + 0x04] ^= 0x10;
    assert!(walk_err(&b, true).starts_with("inode 2: inode: checksum "), "{}", walk_err(&b, true));
    // The extent root in /frag's inode: with checksums off, the magic is what is wrong.
    let mut b = clean.clone();
    b[inode_at(frag) + 0x28] = 0x34;
    b[inode_at(frag) + 0x29] = 0x12;
    assert!(walk_err(&b, true).starts_with(&format!("inode {frag}: inode: checksum")));
    assert_eq!(walk_err(&b, false), format!("inode {frag}: extent header: magic 0x1234, expected 0xf30a"));

    // /frag's extent block (depth 1).
    let fi = Inode::decode(&clean[inode_at(frag)..inode_at(frag) + 256]).unwrap();
    let root = fs::ondisk::extent::ExtentNode::decode(&fi.block).unwrap();
    let fs::ondisk::extent::ExtentNode::Index(h, idx) = root else { panic!("frag has depth 0") };
    assert_eq!(h.depth, 1);
    let eb = idx[0].leaf as usize;
    let mut b = clean.clone();
    b[eb * bs] ^= 0x01;
    assert_eq!(
        walk_err(&b, true).split(" stored").next().unwrap(),
        format!("inode {frag}: extent block {eb}: extent tail: checksum 0x{:08x}", {
            u32::from_le_bytes(clean[eb * bs + 12 * 341..eb * bs + 12 * 341 + 4].try_into().unwrap())
        })
    );
    assert_eq!(
        walk_err(&b, false),
        format!("inode {frag}: extent block {eb}: extent header: magic 0xf30b, expected 0xf30a")
    );
    let mut b = clean.clone();
    b[eb * bs + 2] = 0xFF; // eh_entries 255: past the 20 real ones come empty extents
    assert_eq!(
        walk_err(&b, false),
        format!("inode {frag}: extent block {eb}: extent: entry 20 (block 0, 0 long) overlaps or is empty")
    );
    b[eb * bs + 3] = 0x01; // eh_entries 511
    assert!(walk_err(&b, false).contains("eh_entries 511 over eh_max 340"), "{}", walk_err(&b, false));

    // The root directory's block: a rec_len running off the block.
    let ri = vol.read_inode(ROOT_INO).unwrap();
    let Mapping::Mapped { physical, .. } = vol.map_block(ROOT_INO, &ri, 0).unwrap() else { panic!() };
    let rb = physical as usize * bs;
    let mut b = clean.clone();
    b[rb + 12 + 4] = 0xF0; // ".." rec_len
    b[rb + 12 + 5] = 0x3F;
    assert!(
        walk_err(&b, true).starts_with("inode 2: directory block 0: directory block: checksum "),
        "{}",
        walk_err(&b, true)
    );
    assert_eq!(
        walk_err(&b, false),
        "inode 2: directory block 0: directory entry: rec_len 16368 at offset 12 (block space to 4084)"
    );

    // The htree root of /many: a count over the limit.
    let many = vol.resolve("/many").unwrap();
    let mi = vol.read_inode(many).unwrap();
    assert!(mi.flags & fs::ondisk::inode::flags::INDEX != 0, "e2fsck -D indexed /many");
    assert_eq!(vol.read_dir(many).unwrap().len(), MANY + 2);
    let Mapping::Mapped { physical, .. } = vol.map_block(many, &mi, 0).unwrap() else { panic!() };
    let mut b = clean.clone();
    b[physical as usize * bs + 0x22] = 0xFF; // count
    b[physical as usize * bs + 0x23] = 0xFF;
    assert!(walk_err(&b, true).contains("directory block 0: dx_root: count 65535"), "{}", walk_err(&b, true));
}
