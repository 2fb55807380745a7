//! Descriptor blocks: a header, then one tag per logged data block that follows the
//! descriptor in the log (home block number, flags, and with CSUM_V3 the data checksum),
//! then (with checksums) a 4-byte tail checksum.

use super::bytes::{be32, put_be32};
use super::checksum::{set_tail, tail_ok};
use super::error::{CorruptKind, Jbd2Error};
use super::features::Features;
use super::header::{BlockHeader, BlockType, HEADER_SIZE};

/// Tag flag: the data block began with the jbd2 magic, which was replaced by zeroes in the log.
pub const TAG_FLAG_ESCAPE: u32 = 0x1;
/// Tag flag: the tag is not followed by a 16-byte UUID (same as the previous tag's).
pub const TAG_FLAG_SAME_UUID: u32 = 0x2;
/// Tag flag: block deleted by the transaction (never set by Linux).
pub const TAG_FLAG_DELETED: u32 = 0x4;
/// Tag flag: the last tag of this descriptor.
pub const TAG_FLAG_LAST_TAG: u32 = 0x8;

/// One tag: where the next logged data block belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockTag {
    /// The home (file system) block number.
    pub home: u64,
    /// Tag flags (`TAG_FLAG_*`).
    pub flags: u32,
    /// With CSUM_V3: crc32c(seed, sequence, logged block). Otherwise 0.
    pub checksum: u32,
}

impl BlockTag {
    /// The logged copy had its leading magic replaced by zeroes.
    pub fn escaped(&self) -> bool {
        self.flags & TAG_FLAG_ESCAPE != 0
    }
}

/// A decoded descriptor block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The transaction id (`h_sequence`).
    pub sequence: u32,
    /// The tags, in log order.
    pub tags: Vec<BlockTag>,
}

impl Descriptor {
    /// How many tags fit in one descriptor block (the first carries a 16-byte UUID).
    pub fn capacity(features: &Features, block_size: usize) -> usize {
        let tag = features.tag_size();
        let space = block_size.saturating_sub(HEADER_SIZE + features.tail_size());
        match space.checked_sub(tag + 16) {
            Some(rest) => 1 + rest / tag,
            None => 0,
        }
    }

    /// Decodes journal block `jblock`, verifying the tail checksum when the journal has one.
    pub fn decode(
        block: &[u8],
        features: &Features,
        seed: u32,
        jblock: u64,
    ) -> Result<Descriptor, Jbd2Error> {
        let err = |kind| Jbd2Error::corrupt(jblock, kind);
        let header = BlockHeader::decode(block).map_err(err)?;
        if header.kind() != Some(BlockType::Descriptor) {
            return Err(err(CorruptKind::UnexpectedBlockType { found: header.block_type }));
        }
        if features.csum_v3() && !tail_ok(seed, block) {
            return Err(err(CorruptKind::DescriptorChecksum));
        }
        Ok(Descriptor::decode_unverified(block, features, header.sequence))
    }

    /// The tags of a descriptor whose header was decoded, without checking its checksum
    /// (recovery's scan uses it to step over a suspect descriptor's data blocks).
    pub(crate) fn decode_unverified(block: &[u8], features: &Features, sequence: u32) -> Descriptor {
        let tag_size = features.tag_size();
        let limit = block.len().saturating_sub(features.tail_size());
        let mut off = HEADER_SIZE;
        let mut tags = Vec::new();
        while off.checked_add(tag_size).is_some_and(|end| end <= limit) {
            let lo = be32(block, off).unwrap_or(0);
            let (flags, hi, checksum) = if features.csum_v3() {
                (
                    be32(block, off + 4).unwrap_or(0),
                    be32(block, off + 8).unwrap_or(0),
                    be32(block, off + 12).unwrap_or(0),
                )
            } else {
                let flags = u32::from(u16::from_be_bytes([block[off + 6], block[off + 7]]));
                let hi = if features.is_64bit() { be32(block, off + 8).unwrap_or(0) } else { 0 };
                (flags, hi, 0)
            };
            let home = if features.is_64bit() { u64::from(hi) << 32 | u64::from(lo) } else { u64::from(lo) };
            tags.push(BlockTag { home, flags, checksum });
            off += tag_size;
            if flags & TAG_FLAG_SAME_UUID == 0 {
                off = off.saturating_add(16);
            }
            if flags & TAG_FLAG_LAST_TAG != 0 {
                break;
            }
        }
        Descriptor { sequence, tags }
    }

    /// Encodes a descriptor of `block_size` bytes. The first tag carries `uuid`, the rest
    /// are SAME_UUID, the last is LAST_TAG; ESCAPE is kept from the tags' flags. Panics if
    /// more tags are given than [`capacity`](Self::capacity) allows (a bug in the caller).
    pub fn encode(&self, features: &Features, seed: u32, block_size: usize, uuid: &[u8; 16]) -> Vec<u8> {
        assert!(self.tags.len() <= Self::capacity(features, block_size), "too many tags for one descriptor");
        let mut b = vec![0u8; block_size];
        BlockHeader::new(BlockType::Descriptor, self.sequence).encode(&mut b);
        let mut off = HEADER_SIZE;
        let n = self.tags.len();
        for (i, tag) in self.tags.iter().enumerate() {
            let mut flags = tag.flags & (TAG_FLAG_ESCAPE | TAG_FLAG_DELETED);
            if i > 0 {
                flags |= TAG_FLAG_SAME_UUID;
            }
            if i + 1 == n {
                flags |= TAG_FLAG_LAST_TAG;
            }
            put_be32(&mut b, off, tag.home as u32);
            if features.csum_v3() {
                put_be32(&mut b, off + 4, flags);
                put_be32(&mut b, off + 8, (tag.home >> 32) as u32);
                put_be32(&mut b, off + 12, tag.checksum);
            } else {
                b[off + 6..off + 8].copy_from_slice(&(flags as u16).to_be_bytes());
                if features.is_64bit() {
                    put_be32(&mut b, off + 8, (tag.home >> 32) as u32);
                }
            }
            off += features.tag_size();
            if i == 0 {
                b[off..off + 16].copy_from_slice(uuid);
                off += 16;
            }
        }
        if features.csum_v3() {
            set_tail(seed, &mut b);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jbd2::features::{INCOMPAT_64BIT, INCOMPAT_CSUM_V3};

    fn tags(n: usize) -> Vec<BlockTag> {
        (0..n)
            .map(|i| BlockTag {
                home: 0x1_0000_0000 * (i as u64 % 2) + 100 + i as u64,
                flags: if i % 3 == 0 { TAG_FLAG_ESCAPE } else { 0 },
                checksum: 0xabc0_0000 + i as u32,
            })
            .collect()
    }

    #[test]
    fn round_trips_in_every_tag_format_up_to_capacity() {
        for incompat in [0, INCOMPAT_64BIT, INCOMPAT_CSUM_V3, INCOMPAT_64BIT | INCOMPAT_CSUM_V3] {
            let f = Features { incompat, ..Features::default() };
            for bs in [1024, 4096] {
                let cap = Descriptor::capacity(&f, bs);
                for n in [1, 2, cap] {
                    let mut t = tags(n);
                    for tag in &mut t {
                        if !f.is_64bit() {
                            tag.home &= 0xffff_ffff;
                        }
                        if !f.csum_v3() {
                            tag.checksum = 0;
                        }
                    }
                    let d = Descriptor { sequence: 5, tags: t.clone() };
                    let b = d.encode(&f, 42, bs, &[7; 16]);
                    let back = Descriptor::decode(&b, &f, 42, 3).unwrap();
                    assert_eq!(back.sequence, 5);
                    assert_eq!(back.tags.len(), n, "incompat {incompat:#x} bs {bs}");
                    for (a, b) in back.tags.iter().zip(&t) {
                        assert_eq!((a.home, a.escaped(), a.checksum), (b.home, b.escaped(), b.checksum));
                    }
                    assert!(back.tags.last().unwrap().flags & TAG_FLAG_LAST_TAG != 0);
                }
            }
        }
    }

    #[test]
    fn capacity_of_a_4k_csum_v3_descriptor() {
        // 4096 - 12 header - 4 tail = 4080; first tag 32 bytes, then 16 each: 1 + 4048/16.
        assert_eq!(Descriptor::capacity(&Features::kernel_default(), 4096), 254);
    }

    #[test]
    fn a_damaged_descriptor_fails_its_checksum() {
        let f = Features::kernel_default();
        let mut b = Descriptor { sequence: 9, tags: tags(3) }.encode(&f, 1, 1024, &[0; 16]);
        b[20] ^= 0x40;
        let e = Descriptor::decode(&b, &f, 1, 37).unwrap_err();
        assert_eq!(e.to_string(), "journal block 37: descriptor block checksum mismatch");
    }

    #[test]
    fn garbage_never_panics() {
        let f = Features { incompat: INCOMPAT_64BIT, ..Features::default() };
        let mut b = vec![0u8; 1024];
        BlockHeader::new(BlockType::Descriptor, 1).encode(&mut b);
        // No LAST_TAG and no SAME_UUID anywhere: decoding stops at the end of the block.
        let d = Descriptor::decode(&b, &f, 0, 0).unwrap();
        assert_eq!(d.tags.len(), (1024 - 12) / (12 + 16));
        assert!(Descriptor::decode(&b[..13], &f, 0, 0).is_ok());
        assert!(Descriptor::decode(&b[..5], &f, 0, 0).is_err());
    }
}
