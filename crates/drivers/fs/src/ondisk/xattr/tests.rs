use super::*;
use crate::ondisk::fixtures::{INODE12, XATTR_BLOCK, XATTR_BLOCK_NR, superblock};
use crate::ondisk::inode::Inode;
use proptest::prelude::*;

#[test]
fn real_in_inode_xattr() {
    let i = Inode::decode(INODE12).unwrap();
    let v = parse_inode_xattrs(i.xattr_area()).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].full_name(), b"user.color");
    assert_eq!(v[0].value, b"blue");
    assert_eq!(v[0].hash, 0, "the kernel stores no hash in in-inode entries");
    // Re-encoding lays the value out where the kernel did.
    let mut again = v.clone();
    let mut area = vec![0u8; i.xattr_area().len()];
    layout_values(&mut again, area.len() - 4, 0).unwrap();
    assert_eq!(again, v);
    encode_inode_xattrs(&again, &mut area).unwrap();
    assert_eq!(area, i.xattr_area());
}

#[test]
fn real_xattr_block() {
    let sb = superblock();
    verify_xattr_block(XATTR_BLOCK, sb.csum_seed(), XATTR_BLOCK_NR).unwrap();
    let (h, v) = parse_xattr_block(XATTR_BLOCK).unwrap();
    assert_eq!((h.refcount, h.blocks), (1, 1));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].full_name(), b"user.big");
    assert_eq!(v[0].value, vec![b'x'; 3000]);
    assert_eq!(v[0].hash, v[0].compute_hash());
    assert_eq!(h.hash, block_hash(&v));
    let mut again = v.clone();
    layout_values(&mut again, 4096, BLOCK_HEADER_SIZE).unwrap();
    assert_eq!(update_hashes(&mut again), h.hash);
    assert_eq!(again, v);
    let mut b = vec![0u8; 4096];
    encode_xattr_block(&again, &XattrBlockHeader { checksum: 0, ..h }, &mut b).unwrap();
    set_xattr_block_csum(&mut b, sb.csum_seed(), XATTR_BLOCK_NR);
    assert_eq!(b, XATTR_BLOCK);
    let mut bad = b.clone();
    bad[4000] ^= 1;
    assert!(verify_xattr_block(&bad, sb.csum_seed(), XATTR_BLOCK_NR).is_err());
    assert!(verify_xattr_block(&b, sb.csum_seed(), XATTR_BLOCK_NR + 1).is_err());
}

#[test]
fn prefixes_split_and_join() {
    assert_eq!(split_name(b"user.x"), (1, &b"x"[..]));
    assert_eq!(split_name(b"system.posix_acl_access"), (2, &b""[..]));
    assert_eq!(split_name(b"system.data"), (7, &b"data"[..]));
    assert_eq!(split_name(b"weird"), (0, &b"weird"[..]));
}

proptest! {
    #[test]
    fn block_round_trips(attrs in proptest::collection::vec(
        (1u8..=7, proptest::collection::vec(b'a'..=b'z', 1..20), proptest::collection::vec(any::<u8>(), 0..200)), 1..8)) {
        let mut v: Vec<XattrEntry> = attrs.into_iter().map(|(name_index, name, value)|
            XattrEntry { name_index, name, value_offs: 0, value_inum: 0, hash: 0, value }).collect();
        layout_values(&mut v, 4096, BLOCK_HEADER_SIZE).unwrap();
        let hash = update_hashes(&mut v);
        let mut b = vec![0u8; 4096];
        encode_xattr_block(&v, &XattrBlockHeader { refcount: 1, blocks: 1, hash, checksum: 0 }, &mut b).unwrap();
        set_xattr_block_csum(&mut b, 5, 100);
        verify_xattr_block(&b, 5, 100).unwrap();
        let (_, back) = parse_xattr_block(&b).unwrap();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_xattr_block(&b);
        let _ = parse_inode_xattrs(&b);
        let mut area = b.clone();
        if area.len() >= 4 { area[..4].copy_from_slice(&XATTR_MAGIC.to_le_bytes()); }
        let _ = parse_inode_xattrs(&area);
    }
}

/// Values inside the entry table or on top of each other are refused, as the kernel's
/// `ext4_xattr_check_entries` refuses them (found by the fs_ondisk fuzz target: such an area
/// decoded, and re-encoding it overwrote a value with a name).
#[test]
fn values_overlapping_the_table_or_each_other_are_refused() {
    let i = Inode::decode(INODE12).unwrap();
    let good = i.xattr_area().to_vec();
    let entries = parse_inode_xattrs(&good).unwrap();
    // Entry 0's e_value_offs (bytes 2..4 of the entry, after the 4-byte magic) pointing at
    // the table itself.
    let mut bad = good.clone();
    bad[4 + 2..4 + 4].copy_from_slice(&0u16.to_le_bytes());
    let e = parse_inode_xattrs(&bad).unwrap_err().to_string();
    assert!(e.contains("overlaps the entry table"), "{e}");
    // Two entries whose values share bytes.
    let mut two = entries.clone();
    let mut second = entries[0].clone();
    second.name = b"other".to_vec();
    two.push(second);
    let mut area = vec![0u8; good.len()];
    layout_values(&mut two, area.len() - 4, 0).unwrap();
    encode_inode_xattrs(&two, &mut area).unwrap();
    assert_eq!(parse_inode_xattrs(&area).unwrap(), two);
    // The second entry starts after the first's 16-byte header and padded name.
    let second_at = 4 + ((16 + two[0].name.len() + 3) & !3);
    area[second_at + 2..second_at + 4].copy_from_slice(&two[0].value_offs.to_le_bytes());
    let e = parse_inode_xattrs(&area).unwrap_err().to_string();
    assert!(e.contains("overlap"), "{e}");
}
