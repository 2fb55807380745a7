//! Structures cut out of a real mkfs.ext4 + kernel image (see `testdata/README.md`), for
//! unit tests that check decoding, checksums and exact re-encoding against real bytes.

pub(crate) const SUPERBLOCK: &[u8] = include_bytes!("../../testdata/superblock.bin");
pub(crate) const GDT0: &[u8] = include_bytes!("../../testdata/gdt0.bin");
pub(crate) const INODE2: &[u8] = include_bytes!("../../testdata/inode2.bin");
pub(crate) const INODE11: &[u8] = include_bytes!("../../testdata/inode11.bin");
pub(crate) const INODE12: &[u8] = include_bytes!("../../testdata/inode12.bin");
pub(crate) const INODE13: &[u8] = include_bytes!("../../testdata/inode13.bin");
pub(crate) const ROOTDIR: &[u8] = include_bytes!("../../testdata/rootdir.bin");
pub(crate) const XATTR_BLOCK: &[u8] = include_bytes!("../../testdata/xattr2578.bin");
pub(crate) const XATTR_BLOCK_NR: u64 = 2578;
pub(crate) const BLOCK_BITMAP0: &[u8] = include_bytes!("../../testdata/bbitmap0.bin");
pub(crate) const INODE_BITMAP0: &[u8] = include_bytes!("../../testdata/ibitmap0.bin");

/// The fixture's superblock.
pub(crate) fn superblock() -> super::superblock::Superblock {
    super::superblock::Superblock::decode(SUPERBLOCK).expect("fixture superblock decodes")
}
