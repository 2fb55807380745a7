//! Telling crash images apart cheaply: a 128-bit fingerprint of the sectors an image
//! changed over its base (all images of one workload share the same base). Equal images
//! built the same way get equal fingerprints; the checker reuses what it learnt about an
//! image it has seen (its recovery, its tree) for every state that recovers to it.

use disks::crash::OverlayImage;

/// A sector's content and position, hashed (two independent 64-bit lanes).
fn sector_hash(s: u64, bytes: &[u8]) -> u128 {
    let (mut a, mut b) = (0x243F_6A88_85A3_08D3u64 ^ s, 0x1319_8A2E_0370_7344u64.wrapping_add(s));
    for w in bytes.chunks_exact(8) {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        a = (a ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        a ^= a >> 29;
        b = b.wrapping_add(w).wrapping_mul(0xC2B2_AE3D_27D4_EB4F).rotate_left(31);
    }
    a = (a ^ (a >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    b = (b ^ (b >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    (u128::from(a ^ (a >> 33)) << 64) | u128::from(b ^ (b >> 29))
}

/// The fingerprint of `image`: its changed sectors, position and content.
pub fn fingerprint(image: &OverlayImage) -> u128 {
    let changes = image.changes();
    changes
        .sectors()
        .map(|s| sector_hash(s, changes.get(s).expect("a sector the layer lists")))
        .fold(0u128, u128::wrapping_add)
}

/// Whether two images over the same base hold the same bytes.
pub fn same_image(a: &OverlayImage, b: &OverlayImage) -> bool {
    use disks::crash::Sectors;
    let all = a.changes().sectors().chain(b.changes().sectors());
    all.into_iter().all(|s| a.sector(s) == b.sector(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn equal_writes_give_equal_fingerprints_and_others_differ() {
        let base = OverlayImage::zeroed(64 * 512, 512).unwrap();
        let (mut a, mut b) = (base.clone(), base.clone());
        a.write(512, &Arc::from(vec![1u8; 1024]));
        a.write(4096, &Arc::from(vec![2u8; 512]));
        b.write(4096, &Arc::from(vec![2u8; 512]));
        b.write(512, &Arc::from(vec![1u8; 1024]));
        assert_eq!(fingerprint(&a), fingerprint(&b), "order of writes does not matter");
        assert!(same_image(&a, &b));
        b.write_bytes(600, &[3]);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert!(!same_image(&a, &b));
        let mut c = a.clone();
        c.write(0, &Arc::from(vec![1u8; 512]));
        assert_ne!(fingerprint(&a), fingerprint(&c), "the same bytes in another sector");
        assert_ne!(fingerprint(&base), fingerprint(&a));
    }
}
