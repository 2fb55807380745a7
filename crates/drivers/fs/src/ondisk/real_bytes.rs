//! The structures of a real image (fixtures) that are not covered beside their decoders:
//! group descriptor, directory block and bitmaps, decoded, verified and re-encoded.

use super::bitmap::{verify_block_bitmap, verify_inode_bitmap};
use super::dirent::{FileType, encode_block, parse_block, verify_dirblock};
use super::fixtures::*;
use super::group_desc::GroupDesc;
use super::inode::Inode;

#[test]
fn group_descriptor_matches_dumpe2fs_and_re_encodes() {
    let sb = superblock();
    let gd = GroupDesc::decode(GDT0, 64).unwrap();
    // dumpe2fs: csum 0x990b [ITABLE_ZEROED], bitmaps at 9 and 25, inode table at 41,
    // 14317 free blocks, 16371 free inodes, 2 directories, 16371 unused inodes
    assert_eq!((gd.block_bitmap, gd.inode_bitmap, gd.inode_table), (9, 25, 41));
    assert_eq!((gd.free_blocks_count, gd.free_inodes_count, gd.used_dirs_count), (14317, 16371, 2));
    assert_eq!((gd.itable_unused, gd.flags, gd.checksum), (16371, 4, 0x990b));
    gd.verify_checksum(&sb, 0).unwrap();
    assert!(gd.verify_checksum(&sb, 1).is_err());
    assert_eq!(gd.encode(64), GDT0);
}

#[test]
fn bitmaps_verify() {
    let sb = superblock();
    let gd = GroupDesc::decode(GDT0, 64).unwrap();
    verify_block_bitmap(BLOCK_BITMAP0, &sb, &gd).unwrap();
    verify_inode_bitmap(INODE_BITMAP0, &sb, &gd).unwrap();
    let mut bad = INODE_BITMAP0.to_vec();
    bad[0] ^= 0x80;
    assert!(verify_inode_bitmap(&bad, &sb, &gd).is_err());
}

#[test]
fn root_directory_block_verifies_and_re_encodes() {
    let sb = superblock();
    let root = Inode::decode(INODE2).unwrap();
    let seed = root.csum_seed(sb.csum_seed(), 2);
    verify_dirblock(ROOTDIR, seed).unwrap();
    let v = parse_block(ROOTDIR, true).unwrap();
    let names: Vec<(&[u8], u32, FileType)> = v.iter().map(|e| (&e.name[..], e.inode, e.file_type)).collect();
    assert_eq!(
        names,
        [
            (&b"."[..], 2, FileType::Directory),
            (b"..", 2, FileType::Directory),
            (b"lost+found", 11, FileType::Directory),
            (b"hello.txt", 12, FileType::Regular),
            (b"link", 13, FileType::Symlink),
        ]
    );
    let mut b = vec![0u8; 4096];
    encode_block(&v, &mut b, true);
    super::dirent::set_dirblock_csum(&mut b, seed);
    // Bytes inside records past their names are not modeled (the kernel leaves old data
    // there); a fresh root block has none, so the whole block matches.
    assert_eq!(b, ROOTDIR);
}
