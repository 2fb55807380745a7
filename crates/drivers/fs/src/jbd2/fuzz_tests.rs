//! Corrupt input never panics: the decoders on arbitrary bytes, and recovery of journals
//! whose blocks were overwritten with garbage (including garbage behind a valid header,
//! which without checksums nothing filters out).

use std::sync::Arc;

use proptest::prelude::*;

use super::tests::{BS, area, fixed_clock, image};
use super::*;
use crate::device::{BlockDevice, MemoryDevice};

fn features(bits: u8) -> Features {
    Features {
        incompat: u32::from(bits) & (features::INCOMPAT_64BIT | features::INCOMPAT_CSUM_V3),
        ..Features::default()
    }
}

fn journal_with_transactions(f: Features) -> Arc<MemoryDevice> {
    let dev = Arc::new(MemoryDevice::new(super::tests::DEV_BLOCKS * BS as u64));
    let mut j = Journal::format(dev.clone(), area(), [9; 16], f).unwrap();
    j.set_clock(fixed_clock);
    for i in 0..6u8 {
        let mut t = j.begin();
        for b in 0..4u64 {
            t.add_block(100 + b + u64::from(i), image(i, b)).unwrap();
        }
        if i % 2 == 1 {
            t.revoke(150 + u64::from(i));
        }
        j.commit(t).unwrap();
    }
    dev
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decoders_take_any_bytes(mut block in proptest::collection::vec(any::<u8>(), 0..1100), bits in any::<u8>(), kind in 1u32..=5) {
        let f = features(bits);
        if block.len() >= 12 {
            block[..4].copy_from_slice(&header::JBD2_MAGIC.to_be_bytes());
            block[4..8].copy_from_slice(&kind.to_be_bytes());
        }
        let _ = descriptor::Descriptor::decode(&block, &f, 1, 0);
        let _ = commit::CommitBlock::decode(&block, &f, 1, 0);
        let _ = revoke::RevokeBlock::decode(&block, &f, 1, 0);
        if let Ok(sb) = JournalSuperblock::decode(&block) {
            let _ = sb.validate(BS, 40);
            let _ = sb.encode();
        }
    }

    #[test]
    fn recovery_of_a_damaged_journal_returns_instead_of_panicking(
        bits in any::<u8>(),
        damage in proptest::collection::vec((1u64..40, 0usize..BS, any::<u8>()), 1..20),
        keep_header in any::<bool>(),
    ) {
        let dev = journal_with_transactions(features(bits));
        for (jblock, off, byte) in damage {
            let at = area().offset(jblock).unwrap();
            // Past the 12-byte header when asked to, so the block still looks like ours.
            let off = if keep_header { off.max(12) } else { off };
            dev.write_at(at + off as u64 / 512 * 512, &{
                let mut s = vec![0u8; 512];
                dev.read_at(at + off as u64 / 512 * 512, &mut s).unwrap();
                s[off % 512] = byte;
                s
            }).unwrap();
        }
        let _ = recover(&*dev, &area());
        let _ = recover(&*dev, &area());
    }
}

#[test]
fn a_tag_naming_a_block_past_the_device_is_a_typed_error() {
    let dev = journal_with_transactions(Features::default());
    // First descriptor at journal block 1; its first tag's t_blocknr is at byte 12.
    let at = area().offset(1).unwrap();
    let mut b = vec![0u8; BS];
    dev.read_at(at, &mut b).unwrap();
    b[12..16].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
    dev.write_at(at, &b).unwrap();
    let e = recover(&*dev, &area()).unwrap_err();
    assert_eq!(e.to_string(), "journal block 2: tag names home block 4294967280, past the end of the device");
}
