//! The ext4 structures: the first byte picks a decoder, the rest is its input.

use crate::ondisk::dirent::{encode_block, parse_block};
use crate::ondisk::extent::ExtentNode;
use crate::ondisk::group_desc::GroupDesc;
use crate::ondisk::htree::{DxNode, DxRoot};
use crate::ondisk::inode::Inode;
use crate::ondisk::superblock::Superblock;
use crate::ondisk::xattr::{encode_inode_xattrs, encode_xattr_block, parse_inode_xattrs, parse_xattr_block};

/// The decoders [`ondisk`] picks from, by `data[0] % DECODERS`.
pub(crate) const DECODERS: u8 = 10;

/// Decodes `data[1..]` as the structure `data[0]` picks (superblock, group descriptor of 32
/// or 64 bytes, inode, extent node, directory block with or without a checksum tail, htree
/// root, htree node, in-inode xattrs, xattr block) and checks what decodes round-trips.
pub fn ondisk(data: &[u8]) {
    let Some((&pick, b)) = data.split_first() else { return };
    match pick % DECODERS {
        0 => {
            if let Ok(sb) = Superblock::decode(b) {
                let again = Superblock::decode(&sb.encode()).expect("an encoded superblock decodes");
                assert_eq!(again, sb, "superblock round trip");
            }
        }
        1 | 2 => {
            let size = if pick % DECODERS == 1 { 32 } else { 64 };
            if let Ok(gd) = GroupDesc::decode(b, size) {
                let again = GroupDesc::decode(&gd.encode(size), size).expect("an encoded descriptor decodes");
                assert_eq!(again, gd, "group descriptor round trip");
            }
        }
        3 => {
            if let Ok(inode) = Inode::decode(b) {
                let _ = (inode.is_dir(), inode.is_regular(), inode.is_symlink(), inode.uses_extents());
                let encoded = inode.encode(b.len());
                let again = Inode::decode(&encoded).expect("an encoded inode decodes");
                assert_eq!(again, inode, "inode round trip");
            }
        }
        4 => {
            if let Ok(node) = ExtentNode::decode(b) {
                let mut out = vec![0u8; b.len()];
                node.encode_into(&mut out);
                let again = ExtentNode::decode(&out).expect("an encoded extent node decodes");
                assert_eq!(again, node, "extent node round trip");
            }
        }
        5 | 6 => {
            let tail = pick % DECODERS == 6;
            if let Ok(entries) = parse_block(b, tail) {
                let mut out = vec![0u8; b.len()];
                encode_block(&entries, &mut out, tail);
                let again = parse_block(&out, tail).expect("an encoded directory block parses");
                assert_eq!(again, entries, "directory block round trip");
            }
        }
        7 => {
            if let Ok(root) = DxRoot::decode(b) {
                let mut out = b.to_vec();
                root.encode_into(&mut out);
                let again = DxRoot::decode(&out).expect("an encoded htree root decodes");
                assert_eq!(again, root, "htree root round trip");
            }
            if let Ok(node) = DxNode::decode(b) {
                let mut out = b.to_vec();
                node.encode_into(&mut out);
                let again = DxNode::decode(&out).expect("an encoded htree node decodes");
                assert_eq!(again, node, "htree node round trip");
            }
        }
        8 => {
            if let Ok(entries) = parse_inode_xattrs(b) {
                let mut out = vec![0u8; b.len()];
                if encode_inode_xattrs(&entries, &mut out).is_ok() {
                    let again = parse_inode_xattrs(&out).expect("encoded in-inode xattrs parse");
                    assert_eq!(again, entries, "in-inode xattr round trip");
                }
            }
        }
        _ => {
            if let Ok((header, entries)) = parse_xattr_block(b) {
                let mut out = vec![0u8; b.len()];
                if encode_xattr_block(&entries, &header, &mut out).is_ok() {
                    let (h2, again) = parse_xattr_block(&out).expect("an encoded xattr block parses");
                    assert_eq!((h2, again), (header, entries), "xattr block round trip");
                }
            }
        }
    }
}

/// Whether the decoder `pick` selects accepts `b` (for the seed tests).
#[cfg(test)]
pub(crate) fn accepts(pick: u8, b: &[u8]) -> bool {
    match pick % DECODERS {
        0 => Superblock::decode(b).is_ok(),
        1 => GroupDesc::decode(b, 32).is_ok(),
        2 => GroupDesc::decode(b, 64).is_ok(),
        3 => Inode::decode(b).is_ok(),
        4 => ExtentNode::decode(b).is_ok(),
        5 => parse_block(b, false).is_ok(),
        6 => parse_block(b, true).is_ok(),
        7 => DxRoot::decode(b).is_ok() || DxNode::decode(b).is_ok(),
        8 => parse_inode_xattrs(b).is_ok(),
        _ => parse_xattr_block(b).is_ok(),
    }
}
