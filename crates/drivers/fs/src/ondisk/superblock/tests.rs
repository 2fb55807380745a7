use super::*;
use crate::ondisk::features::{Access, check_features};
use crate::ondisk::fixtures::{SUPERBLOCK, superblock};
use proptest::prelude::*;

#[test]
fn real_superblock_decodes_as_dumpe2fs_shows_it() {
    let sb = superblock();
    assert_eq!(sb.inodes_count, 16384);
    assert_eq!(sb.blocks_count, 16384);
    assert_eq!(sb.r_blocks_count, 819);
    assert_eq!(sb.block_size(), 4096);
    assert_eq!(sb.inodes_per_group, 16384);
    assert_eq!(sb.blocks_per_group, 32768);
    assert_eq!(sb.inode_size(), 256);
    assert_eq!(sb.desc_size(), 64);
    assert_eq!(sb.reserved_gdt_blocks, 7);
    assert_eq!(sb.first_ino(), 11);
    assert_eq!(sb.journal_inum, 8);
    assert_eq!(sb.min_extra_isize, 32);
    assert_eq!(sb.want_extra_isize, 32);
    assert_eq!(sb.log_groups_per_flex, 4);
    assert_eq!(sb.def_hash_version, 1); // half_md4
    assert_eq!(sb.flags, FLAG_SIGNED_HASH);
    assert_eq!(sb.uuid[..4], [0x4b, 0x76, 0x1b, 0xf8]);
    assert_eq!(sb.hash_seed[0], 0xf81b_764b);
    assert_eq!(sb.group_count(), 1);
    assert!(sb.is_64bit() && sb.has_metadata_csum() && !sb.has_gdt_csum());
    assert_eq!(check_features(&sb.features), Ok(Access::ReadWrite));
    sb.verify_checksum().unwrap();
}

#[test]
fn real_superblock_re_encodes_exactly() {
    let sb = superblock();
    assert_eq!(&sb.encode()[..], SUPERBLOCK);
    assert_eq!(sb.compute_checksum(), sb.checksum);
}

#[test]
fn flipped_byte_fails_the_checksum() {
    let mut raw = SUPERBLOCK.to_vec();
    raw[0x10] ^= 1; // free inodes count
    let sb = Superblock::decode(&raw).unwrap();
    let e = sb.verify_checksum().unwrap_err();
    assert!(e.to_string().starts_with("superblock: checksum "), "{e}");
}

#[test]
fn bad_geometry_is_refused_with_a_reason() {
    let mut raw = SUPERBLOCK.to_vec();
    raw[0x38] = 0x54;
    assert_eq!(
        Superblock::decode(&raw).unwrap_err().to_string(),
        "superblock: magic 0xef54, expected 0xef53"
    );
    let mut raw = SUPERBLOCK.to_vec();
    raw[0x18] = 9;
    assert!(Superblock::decode(&raw).unwrap_err().to_string().contains("s_log_block_size 9"));
    let mut raw = SUPERBLOCK.to_vec();
    raw[0x58] = 100;
    assert!(Superblock::decode(&raw).unwrap_err().to_string().contains("inode size"));
    assert!(Superblock::decode(&raw[..100]).is_err());
}

proptest! {
    #[test]
    fn mutated_fields_round_trip(off in 0usize..0x284, byte in any::<u8>()) {
        let mut raw = SUPERBLOCK.to_vec();
        raw[off] = byte;
        if let Ok(sb) = Superblock::decode(&raw) {
            prop_assert_eq!(&sb.encode()[..], &raw[..]);
            prop_assert_eq!(Superblock::decode(&sb.encode()).unwrap(), sb);
        }
    }

    #[test]
    fn decode_never_panics(raw in proptest::collection::vec(any::<u8>(), 1024)) {
        if let Ok(sb) = Superblock::decode(&raw) {
            let _ = (sb.group_count(), sb.csum_seed(), sb.verify_checksum());
        }
    }
}
