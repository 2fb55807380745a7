//! Whole-journal tests on a [`MemoryDevice`]: commit, checkpoint, wrap-around, recovery.

use std::sync::Arc;

use super::*;
use crate::device::{BlockDevice, MemoryDevice};

pub(crate) const BS: usize = 1024;
/// The journal lives in device blocks 1..=JLEN; homes are above it.
pub(crate) const JLEN: u64 = 40;
pub(crate) const DEV_BLOCKS: u64 = 200;

pub(crate) fn area() -> JournalArea {
    JournalArea::contiguous(BS, 1, JLEN)
}

pub(crate) fn fixed_clock() -> (u64, u32) {
    (1_700_000_000, 0)
}

pub(crate) fn new_journal(features: Features) -> (Arc<MemoryDevice>, Journal) {
    let dev = Arc::new(MemoryDevice::new(DEV_BLOCKS * BS as u64));
    let mut j = Journal::format(dev.clone(), area(), [0x5a; 16], features).unwrap();
    j.set_clock(fixed_clock);
    (dev, j)
}

pub(crate) fn image(tag: u8, home: u64) -> Vec<u8> {
    let mut v = vec![tag; BS];
    v[8..16].copy_from_slice(&home.to_le_bytes());
    v
}

pub(crate) fn home(dev: &dyn BlockDevice, block: u64) -> Vec<u8> {
    let mut b = vec![0; BS];
    dev.read_at(block * BS as u64, &mut b).unwrap();
    b
}

fn all_features() -> [Features; 3] {
    [
        Features::kernel_default(),
        Features::default(),
        Features { incompat: features::INCOMPAT_CSUM_V3, ..Features::default() },
    ]
}

#[test]
fn committed_transactions_replay_after_a_crash() {
    for f in all_features() {
        let (dev, mut j) = new_journal(f);
        let mut t = j.begin();
        t.add_block(100, image(1, 100)).unwrap();
        t.add_block(101, image(1, 101)).unwrap();
        let c1 = j.commit(t).unwrap();
        assert_eq!((c1.sequence, c1.first_block, c1.log_blocks), (1, 1, 4));
        let mut t = j.begin();
        t.add_block(101, image(2, 101)).unwrap();
        let mut magic = image(3, 102);
        magic[..4].copy_from_slice(&header::JBD2_MAGIC.to_be_bytes());
        t.add_block(102, magic.clone()).unwrap();
        j.commit(t).unwrap();
        drop(j); // crash: nothing checkpointed
        assert_eq!(home(&*dev, 100), vec![0; BS]);

        let r = recover(&*dev, &area()).unwrap();
        assert_eq!(r.transactions, 2, "{f:?}");
        assert_eq!(r.sequences, Some((1, 2)));
        assert_eq!((r.logged_blocks, r.blocks_written), (4, 3));
        assert_eq!(r.next_sequence, 4);
        assert_eq!(home(&*dev, 100), image(1, 100));
        assert_eq!(home(&*dev, 101), image(2, 101));
        assert_eq!(home(&*dev, 102), magic, "escaped block comes back with its magic");
        let again = recover(&*dev, &area()).unwrap();
        assert!(again.was_clean);
        let j = Journal::open(dev.clone(), area()).unwrap();
        assert_eq!(j.next_sequence(), 4);
    }
}

#[test]
fn revoked_blocks_are_not_replayed_unless_logged_again() {
    let (dev, mut j) = new_journal(Features::kernel_default());
    let mut t = j.begin();
    t.add_block(100, image(1, 100)).unwrap();
    t.add_block(101, image(1, 101)).unwrap();
    j.commit(t).unwrap();
    let mut t = j.begin();
    t.revoke(100);
    t.revoke(101);
    j.commit(t).unwrap();
    let mut t = j.begin();
    t.add_block(101, image(3, 101)).unwrap();
    j.commit(t).unwrap();
    dev.write_at(100 * BS as u64, &image(9, 100)).unwrap(); // data written after the free
    let r = recover(&*dev, &area()).unwrap();
    assert_eq!((r.revoke_records, r.revoked_copies, r.blocks_written), (2, 2, 1));
    assert_eq!(home(&*dev, 100), image(9, 100));
    assert_eq!(home(&*dev, 101), image(3, 101));
}

#[test]
fn a_full_log_checkpoints_and_wraps_around() {
    let (dev, mut j) = new_journal(Features::kernel_default());
    let mut infos = Vec::new();
    for round in 0..12u8 {
        let mut t = j.begin();
        for b in 0..5u64 {
            t.add_block(100 + b + u64::from(round % 3), image(round, 100 + b)).unwrap();
        }
        infos.push(j.commit(t).unwrap());
    }
    assert!(infos.iter().any(|i| i.checkpointed_first));
    // Some transaction runs across the end of the log back to s_first.
    assert!(infos.iter().any(|i| u64::from(i.first_block) + u64::from(i.log_blocks) > JLEN));
    let last = *infos.last().unwrap();
    drop(j);
    let r = recover(&*dev, &area()).unwrap();
    assert!(r.transactions >= 1);
    assert_eq!(r.sequences.unwrap().1, last.sequence);
    for b in 0..5u64 {
        assert_eq!(home(&*dev, 100 + b + 2), image(11, 100 + b));
    }
    assert_eq!(home(&*dev, 100), image(9, 100));
}

#[test]
fn close_leaves_a_clean_journal_with_everything_home() {
    let (dev, mut j) = new_journal(Features::kernel_default());
    let mut t = j.begin();
    t.add_block(150, image(7, 150)).unwrap();
    j.commit(t).unwrap();
    j.close().unwrap();
    assert_eq!(home(&*dev, 150), image(7, 150));
    let sb = read_superblock(&*dev, &area()).unwrap();
    assert_eq!((sb.start, sb.sequence), (0, 2));
    assert!(recover(&*dev, &area()).unwrap().was_clean);
}

#[test]
fn an_uncommitted_transaction_is_ignored() {
    let (dev, mut j) = new_journal(Features::kernel_default());
    let mut t = j.begin();
    t.add_block(100, image(1, 100)).unwrap();
    j.commit(t).unwrap();
    let mut t = j.begin();
    t.add_block(100, image(2, 100)).unwrap();
    let e = j.commit_ordered(t, || Err("disk full")).unwrap_err();
    assert!(matches!(e, Jbd2Error::OrderedData { tid: 2, .. }), "{e}");
    let r = recover(&*dev, &area()).unwrap();
    assert_eq!(r.transactions, 1);
    assert_eq!(r.log_end, LogEnd::NotAJournalBlock);
    assert_eq!(home(&*dev, 100), image(1, 100));
}

#[test]
fn a_damaged_copy_is_skipped_and_the_journal_left_dirty() {
    let (dev, mut j) = new_journal(Features::kernel_default());
    let mut t = j.begin();
    t.add_block(100, image(1, 100)).unwrap();
    t.add_block(101, image(1, 101)).unwrap();
    let c = j.commit(t).unwrap();
    // The copy of block 100 is right after the descriptor.
    let off = area().offset(u64::from(c.first_block) + 1).unwrap();
    dev.write_at(off, &[0xEE; 512]).unwrap();
    let e = recover(&*dev, &area()).unwrap_err();
    let Jbd2Error::ReplayIncomplete { report } = e else { panic!("{e}") };
    assert_eq!(report.bad_blocks, vec![BadBlock { journal_block: 2, home: 100, sequence: 1 }]);
    assert_eq!(home(&*dev, 101), image(1, 101));
    assert_eq!(home(&*dev, 100), vec![0; BS]);
    assert_ne!(read_superblock(&*dev, &area()).unwrap().start, 0);
}

#[test]
fn a_torn_commit_block_ends_the_log() {
    let (dev, mut j) = new_journal(Features::kernel_default());
    for round in 1..=2u8 {
        let mut t = j.begin();
        t.add_block(100, image(round, 100)).unwrap();
        j.commit(t).unwrap();
    }
    // Transaction 2: descriptor at 4, copy at 5, commit at 6.
    dev.write_at(area().offset(6).unwrap() + 512, &[0xff; 512]).unwrap();
    let r = recover(&*dev, &area()).unwrap();
    assert_eq!(r.transactions, 1);
    assert_eq!(r.log_end, LogEnd::BadChecksum(CorruptKind::CommitChecksum));
    assert_eq!(home(&*dev, 100), image(1, 100));
}

#[test]
fn open_refuses_a_dirty_journal_and_too_large_transactions_are_refused() {
    let (dev, mut j) = new_journal(Features::kernel_default());
    let mut t = j.begin();
    for b in 0..40 {
        t.add_block(100 + b, image(1, 100 + b)).unwrap();
    }
    assert!(matches!(j.commit(t), Err(Jbd2Error::TransactionTooLarge { .. })));
    let mut t = j.begin();
    t.add_block(100, image(1, 100)).unwrap();
    j.commit(t).unwrap();
    assert!(matches!(
        Journal::open(dev.clone(), area()),
        Err(Jbd2Error::NeedsRecovery { start: 1, sequence: 1 })
    ));
    let (j, r) = Journal::recover_and_open(dev, area()).unwrap();
    assert_eq!((r.transactions, j.next_sequence()), (1, 3));
}

#[test]
fn a_damaged_descriptor_of_a_committed_transaction_is_an_error() {
    let (dev, mut j) = new_journal(Features::kernel_default());
    for round in 1..=2u8 {
        let mut t = j.begin();
        t.add_block(100, image(round, 100)).unwrap();
        t.add_block(101, image(round, 101)).unwrap();
        j.commit(t).unwrap();
    }
    // Transaction 1's descriptor is journal block 1; its commit (block 4) is intact.
    dev.write_at(area().offset(1).unwrap() + 512, &[0x77; 512]).unwrap();
    let e = recover(&*dev, &area()).unwrap_err();
    assert_eq!(e.to_string(), "journal block 1: descriptor block checksum mismatch");
    assert_eq!(home(&*dev, 100), vec![0; BS], "nothing replayed");
}

#[test]
fn a_stale_transaction_of_another_journal_ends_the_log() {
    let (dev, mut j) = new_journal(Features::kernel_default());
    let mut t = j.begin();
    t.add_block(100, image(1, 100)).unwrap();
    j.commit(t).unwrap(); // blocks 1..=3
    // What an earlier file system's journal (another UUID) left at block 4, with the
    // sequence number this journal would use next.
    let f = Features::kernel_default();
    let other = checksum::seed(&[0xEE; 16]);
    let tag = descriptor::BlockTag { home: 101, flags: 0, checksum: 0 };
    let d = descriptor::Descriptor { sequence: 2, tags: vec![tag] }.encode(&f, other, BS, &[0xEE; 16]);
    area().write(&*dev, 4, &d).unwrap();
    area().write(&*dev, 5, &image(9, 101)).unwrap();
    area().write(&*dev, 6, &commit::CommitBlock::new(2, 0, 0).encode(&f, other, BS)).unwrap();
    let r = recover(&*dev, &area()).unwrap();
    assert_eq!(r.transactions, 1);
    assert_eq!(r.log_end, LogEnd::BadChecksum(CorruptKind::DescriptorChecksum));
    assert_eq!(home(&*dev, 101), vec![0; BS]);
}
