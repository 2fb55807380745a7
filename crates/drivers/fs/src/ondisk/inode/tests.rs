use super::*;
use crate::ondisk::fixtures::{INODE2, INODE11, INODE12, INODE13, superblock};
use proptest::prelude::*;

#[test]
fn real_inodes_verify_and_re_encode_exactly() {
    let sb = superblock();
    for (ino, raw) in [(2, INODE2), (11, INODE11), (12, INODE12), (13, INODE13)] {
        let i = Inode::decode(raw).unwrap();
        i.verify_checksum(sb.csum_seed(), ino, 256).unwrap_or_else(|e| panic!("inode {ino}: {e}"));
        assert_eq!(i.encode(256), raw, "inode {ino}");
        assert_eq!(i.compute_checksum(sb.csum_seed(), ino, 256), i.checksum);
    }
}

#[test]
fn real_inode_fields() {
    let root = Inode::decode(INODE2).unwrap();
    assert!(root.is_dir() && root.uses_extents());
    assert_eq!((root.mode, root.links_count, root.size, root.extra_isize), (0o40755, 3, 4096, 32));
    let f = Inode::decode(INODE12).unwrap();
    // debugfs: Generation 2779321107, File ACL 2578, Blockcount 16, ctime 0x6b1748b0:2b04ebfc
    assert!(f.is_regular());
    assert_eq!((f.generation, f.file_acl, f.size), (2_779_321_107, 2578, 6));
    assert_eq!(f.blocks_512(true, 4096), 16);
    assert_eq!((f.ctime, f.ctime_extra), (0x6b17_48b0, 0x2b04_ebfc));
    assert_eq!(f.ctime(), Timestamp { secs: 0x6b17_48b0, nanos: 0x2b04_ebfc >> 2 });
    assert_eq!(f.checksum, 0x7495_d35d);
    let l = Inode::decode(INODE13).unwrap();
    assert!(l.is_symlink() && !l.uses_extents());
    assert_eq!(&l.block[..9], b"hello.txt");
}

#[test]
fn a_flipped_byte_is_caught_by_the_checksum() {
    let sb = superblock();
    let mut raw = INODE12.to_vec();
    raw[0x04] ^= 0x40;
    let e = Inode::decode(&raw).unwrap().verify_checksum(sb.csum_seed(), 12, 256).unwrap_err();
    assert!(e.to_string().starts_with("inode: checksum 0x7495d35d stored"), "{e}");
}

#[test]
fn timestamps_use_the_epoch_bits() {
    // 2038-01-19T03:14:08 is just past i32::MAX: epoch bit 1, base wraps negative.
    for secs in [0i64, -1, i64::from(i32::MIN), i64::from(i32::MAX) + 1, (1 << 33) + 5, (3 << 32) - 1] {
        let t = Timestamp { secs, nanos: 999_999_999 };
        let (b, x) = t.encode();
        assert_eq!(Timestamp::decode(b, x), t, "{secs}");
    }
    assert_eq!(Timestamp::decode(0x8000_0000, 1).secs, 1 << 31);
    assert_eq!(Timestamp::decode(0x8000_0000, 0).secs, -(1 << 31));
}

#[test]
fn small_inodes_keep_only_the_low_checksum() {
    let mut i = Inode::decode(&INODE12[..128]).unwrap();
    assert_eq!(i.extra_isize, 0);
    i.update_checksum(1, 12, 128);
    assert!(i.checksum <= 0xFFFF);
    i.verify_checksum(1, 12, 128).unwrap();
    assert_eq!(Inode::decode(&i.encode(128)).unwrap(), i);
}

#[test]
fn extra_isize_past_the_inode_is_refused() {
    let mut raw = INODE12.to_vec();
    raw[0x80] = 0xFC;
    assert!(Inode::decode(&raw).unwrap_err().to_string().contains("i_extra_isize 252"));
}

proptest! {
    #[test]
    fn mutated_inodes_round_trip(off in 0usize..256, byte in any::<u8>()) {
        let mut raw = INODE12.to_vec();
        raw[off] = byte;
        if let Ok(i) = Inode::decode(&raw) {
            prop_assert_eq!(&i.encode(256), &raw);
            prop_assert_eq!(Inode::decode(&i.encode(256)).unwrap(), i);
        }
    }

    #[test]
    fn decode_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(i) = Inode::decode(&raw) {
            let _ = i.verify_checksum(1, 1, raw.len());
            let _ = i.blocks_512(true, 65536);
        }
    }
}
