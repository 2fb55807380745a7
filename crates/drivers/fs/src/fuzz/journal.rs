//! The jbd2 structures: the first byte picks the journal features (64-bit block numbers,
//! CSUM_V3), the next four are the checksum seed (little-endian), the rest is one journal
//! block, decoded as every block kind.

use crate::jbd2::commit::CommitBlock;
use crate::jbd2::descriptor::Descriptor;
use crate::jbd2::header::BlockHeader;
use crate::jbd2::revoke::RevokeBlock;
use crate::jbd2::{Features, JournalSuperblock, features};

/// Decodes `data[5..]` as a journal superblock, block header, descriptor, commit and
/// revoke block under the features `data[0]` picks; what decodes must re-encode to the
/// same value.
pub fn journal(data: &[u8]) {
    let Some((&bits, rest)) = data.split_first() else { return };
    let Some((seed, block)) = rest.split_first_chunk::<4>() else { return };
    let seed = u32::from_le_bytes(*seed);
    let f = Features {
        incompat: u32::from(bits) & (features::INCOMPAT_64BIT | features::INCOMPAT_CSUM_V3),
        ..Features::default()
    };
    if let Ok(sb) = JournalSuperblock::decode(block) {
        let _ = sb.validate(4096, 1 << 20);
        let again = JournalSuperblock::decode(&sb.encode()).expect("an encoded journal superblock decodes");
        assert!(again == sb, "journal superblock round trip");
    }
    if let Ok(h) = BlockHeader::decode(block) {
        let mut out = [0u8; 12];
        h.encode(&mut out);
        assert_eq!(BlockHeader::decode(&out), Ok(h), "block header round trip");
    }
    let size = block.len();
    // A descriptor whose first tag says SAME_UUID holds one tag more than ours can
    // (the kernel reads it too): encode takes at most `capacity` tags.
    if let Ok(d) = Descriptor::decode(block, &f, seed, 0)
        && d.tags.len() <= Descriptor::capacity(&f, size)
    {
        let again = Descriptor::decode(&d.encode(&f, seed, size, &[0; 16]), &f, seed, 0)
            .expect("an encoded descriptor decodes");
        // Tag flags are re-derived by encode (SAME_UUID after the first, LAST_TAG on the
        // last; unknown bits dropped, as the kernel ignores them): homes and escapes survive.
        let key = |t: &crate::jbd2::descriptor::BlockTag| (t.home, t.escaped(), t.checksum);
        assert_eq!(
            again.tags.iter().map(key).collect::<Vec<_>>(),
            d.tags.iter().map(key).collect::<Vec<_>>(),
            "descriptor round trip"
        );
    }
    if let Ok(c) = CommitBlock::decode(block, &f, seed, 0) {
        let again =
            CommitBlock::decode(&c.encode(&f, seed, size), &f, seed, 0).expect("an encoded commit decodes");
        // The checksum fields are recomputed by encode: the rest must survive.
        assert_eq!(
            (again.sequence, again.commit_sec, again.commit_nsec),
            (c.sequence, c.commit_sec, c.commit_nsec),
            "commit block round trip"
        );
    }
    if let Ok(r) = RevokeBlock::decode(block, &f, seed, 0) {
        let again =
            RevokeBlock::decode(&r.encode(&f, seed, size), &f, seed, 0).expect("an encoded revoke decodes");
        assert_eq!(again, r, "revoke block round trip");
    }
}
