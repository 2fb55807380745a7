use super::*;
use crate::device::MemoryDevice;
use crate::jbd2::{Features, JournalArea, recover};

const BS: usize = 1024;

fn setup() -> (Arc<MemoryDevice>, Txn) {
    let dev = Arc::new(MemoryDevice::new(256 * BS as u64));
    let area = JournalArea::contiguous(BS, 128, 128);
    let j = Journal::format(dev.clone(), area, [7; 16], Features::kernel_default()).unwrap();
    let limits = TxnLimits { cache_blocks: 64, pinned_blocks: 1000, max_transaction_blocks: 1000 };
    let t = Txn::new(dev.clone(), Some(j), BS, limits);
    (dev, t)
}

fn home(dev: &MemoryDevice, b: u64) -> Vec<u8> {
    let mut buf = vec![0; BS];
    dev.read_at(b * BS as u64, &mut buf).unwrap();
    buf
}

#[test]
fn a_failed_operation_leaves_every_block_as_it_was() {
    let (_dev, mut t) = setup();
    t.begin_op();
    t.modify(5, |b| b[0] = 1).unwrap();
    t.end_op();
    t.begin_op();
    t.modify(5, |b| b[0] = 2).unwrap();
    t.write_new(6, vec![9; BS]).unwrap();
    t.forget(7);
    t.rollback_op();
    assert_eq!(t.read(5).unwrap()[0], 1);
    assert_eq!(t.read(6).unwrap()[0], 0);
    assert_eq!(t.revokes.len(), 0);
    assert_eq!(t.cache.dirty_len(), 1);
}

#[test]
fn metadata_reaches_home_only_through_the_journal() {
    let (dev, mut t) = setup();
    t.modify(5, |b| b[..4].copy_from_slice(b"meta")).unwrap();
    assert_eq!(&home(&dev, 5)[..4], &[0; 4]);
    t.commit(|| Ok::<(), std::convert::Infallible>(())).unwrap().unwrap();
    assert_eq!(&home(&dev, 5)[..4], &[0; 4], "not home before a checkpoint");
    // A crash now: replay brings the block home.
    let crashed = MemoryDevice::from_image(dev.image());
    recover(&crashed, &JournalArea::contiguous(BS, 128, 128)).unwrap();
    assert_eq!(&home(&crashed, 5)[..4], b"meta");
    // Our own checkpoint does too, and the image stays readable through the cache.
    t.checkpoint().unwrap();
    assert_eq!(&home(&dev, 5)[..4], b"meta");
    assert_eq!(&t.read(5).unwrap()[..4], b"meta");
}

#[test]
fn a_forgotten_block_is_revoked_so_replay_leaves_its_new_contents() {
    let (dev, mut t) = setup();
    t.modify(9, |b| b[0] = 0xAA).unwrap();
    t.commit(|| Ok::<(), std::convert::Infallible>(())).unwrap();
    t.forget(9);
    t.modify(10, |b| b[0] = 1).unwrap();
    t.commit(|| Ok::<(), std::convert::Infallible>(())).unwrap();
    dev.write_at(9 * BS as u64, &[0x55; BS]).unwrap(); // now file data
    let crashed = MemoryDevice::from_image(dev.image());
    recover(&crashed, &JournalArea::contiguous(BS, 128, 128)).unwrap();
    assert_eq!(home(&crashed, 9), vec![0x55; BS]);
    t.checkpoint().unwrap();
    assert_eq!(home(&dev, 9), vec![0x55; BS], "the checkpoint skips revoked images");
}
