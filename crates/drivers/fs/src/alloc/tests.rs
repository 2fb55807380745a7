use std::sync::Arc;

use super::*;
use crate::device::{BlockDevice, MemoryDevice};
use crate::mkfs::{MkfsOptions, mkfs};
use crate::txn::TxnLimits;
use crate::volume::Volume;

fn setup(size: u64) -> (Alloc, Txn, Superblock) {
    let dev = Arc::new(MemoryDevice::new(size));
    mkfs(&*dev, &MkfsOptions::from_seed(3)).unwrap();
    let vol = Volume::open(&*dev).unwrap();
    let sb = vol.superblock().clone();
    let geo = Geometry::from_superblock(&sb);
    let alloc = Alloc::new(geo, vol.groups().to_vec(), &sb);
    let limits = TxnLimits { cache_blocks: 1024, pinned_blocks: 4096, max_transaction_blocks: 4096 };
    let txn = Txn::new(dev as Arc<dyn BlockDevice>, None, geo.bsz(), limits);
    (alloc, txn, sb)
}

#[test]
fn blocks_come_contiguous_from_the_goal_and_frees_wait_for_the_commit() {
    let (mut a, mut t, _) = setup(64 << 20);
    let before = a.free_blocks();
    let (b1, n1) = a.alloc_blocks(&mut t, 5000, 100).unwrap();
    assert_eq!((b1, n1), (5000, 100));
    let (b2, _) = a.alloc_blocks(&mut t, 5000, 10).unwrap();
    assert_eq!(b2, 5100, "the next free block after the goal");
    assert_eq!(a.free_blocks(), before - 110);
    a.release_blocks(b1, 100);
    assert_eq!(a.free_blocks(), before - 110, "not free before the commit");
    let (b3, _) = a.alloc_blocks(&mut t, 5000, 1).unwrap();
    assert_eq!(b3, 5110, "freed blocks are not reused in the same transaction");
    a.apply_frees(&mut t).unwrap();
    assert_eq!(a.free_blocks(), before - 11);
    assert_eq!(a.alloc_blocks(&mut t, 5000, 1).unwrap().0, 5000);
}

#[test]
fn a_rolled_back_allocation_is_free_again() {
    let (mut a, mut t, _) = setup(64 << 20);
    let before = (a.free_blocks(), a.free_inodes());
    t.begin_op();
    a.begin_op();
    let ino = a.alloc_inode(&mut t, 2, false).unwrap();
    assert_eq!(ino, 12);
    a.alloc_blocks(&mut t, 0, 8).unwrap();
    a.rollback_op();
    t.rollback_op();
    assert_eq!((a.free_blocks(), a.free_inodes()), before);
    assert_eq!(a.alloc_inode(&mut t, 2, false).unwrap(), 12);
}

#[test]
fn running_out_is_an_error_not_a_panic() {
    let (mut a, mut t, _) = setup(16 << 20);
    let mut got = 0u64;
    loop {
        match a.alloc_blocks(&mut t, 0, 32768) {
            Ok((_, n)) => got += u64::from(n),
            Err(e) => {
                assert_eq!(e.errno(), crate::error::errno::ENOSPC);
                break;
            }
        }
    }
    assert!(got > 0 && a.free_blocks() == 0);
}

#[test]
fn descriptors_are_written_with_checksums_the_read_path_accepts() {
    let (mut a, mut t, mut sb) = setup(200 << 20);
    for _ in 0..3 {
        a.alloc_inode(&mut t, 2, true).unwrap();
    }
    a.alloc_blocks(&mut t, 40000, 50).unwrap();
    a.write_descriptors(&mut t, &mut sb).unwrap();
    let gdt = t.read(1).unwrap();
    for g in 0..a.groups().len() as u32 {
        let gd = GroupDesc::decode(&gdt[g as usize * 64..], 64).unwrap();
        gd.verify_checksum(&sb, g).unwrap();
        assert_eq!(gd, a.groups()[g as usize]);
    }
}
