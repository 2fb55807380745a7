//! Random bytes of a small real image mutated: opening the volume and walking the whole
//! tree (every directory, file, symlink and xattr) may fail, but never panics. Half the
//! cases skip checksum verification so the decoders behind the checksums see the damage.

mod common;

use std::sync::OnceLock;

use common::sample::sample_image;
use fs::MemoryDevice;
use fs::volume::{Mapping, OpenOptions, Volume};
use proptest::prelude::*;

struct Sample {
    image: Vec<u8>,
    /// Blocks worth mutating: every non-zero block but the journal's and file data, so
    /// the edits land in metadata (superblock, descriptors, bitmaps, inodes, directory,
    /// extent, xattr and symlink blocks).
    blocks: Vec<usize>,
}

fn sample() -> Option<&'static Sample> {
    static S: OnceLock<Option<Sample>> = OnceLock::new();
    S.get_or_init(|| {
        let img = sample_image("fuzz_image")?;
        let image = std::fs::read(&img.path).unwrap();
        let vol = Volume::open(MemoryDevice::from_image(image.clone())).unwrap();
        let j = vol.read_inode(8).unwrap();
        let Mapping::Mapped { physical, len, .. } = vol.map_block(8, &j, 0).unwrap() else { panic!() };
        let mut skip: std::collections::BTreeSet<usize> =
            (physical as usize..(physical + len) as usize).collect();
        for w in common::walk(&vol, 1 << 20).unwrap().values() {
            let inode = vol.read_inode(w.ino).unwrap();
            if inode.is_regular() {
                for lblk in 0..inode.size.div_ceil(4096) as u32 {
                    if let Mapping::Mapped { physical, .. } = vol.map_block(w.ino, &inode, lblk).unwrap() {
                        skip.insert(physical as usize);
                    }
                }
            }
        }
        let blocks: Vec<usize> = (0..image.len() / 4096)
            .filter(|b| !skip.contains(b) && image[b * 4096..(b + 1) * 4096].iter().any(|&x| x != 0))
            .collect();
        Some(Sample { image, blocks })
    })
    .as_ref()
}

fn open_and_walk(image: Vec<u8>, verify: bool) {
    if let Ok(vol) =
        Volume::open_with(MemoryDevice::from_image(image), OpenOptions { verify_checksums: verify })
    {
        let _ = common::walk(&vol, 1 << 20);
        for p in
            ["/a/b/f", "/slow", "/fast", "/many/entry-0007-mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm", "/nope"]
        {
            let _ = vol.resolve(p);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_images_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..4096, any::<u8>()), 1..12),
        verify in any::<bool>(),
    ) {
        let Some(s) = sample() else { return Ok(()) };
        let mut image = s.image.clone();
        for (block, off, byte) in edits {
            let b = s.blocks[block.index(s.blocks.len())];
            image[b * 4096 + off] = byte;
        }
        open_and_walk(image, verify);
    }
}

#[test]
fn the_sample_walks_cleanly() {
    let Some(s) = sample() else { return };
    let vol = Volume::open(MemoryDevice::from_image(s.image.clone())).unwrap();
    let tree = common::walk(&vol, 1 << 20).unwrap();
    assert!(tree.len() > common::sample::MANY, "{}", tree.len());
    assert!(s.blocks.len() > 10);
}
