//! The ext4 decoders: superblock, group descriptors, inodes, extent nodes, directory
//! blocks, htree nodes, xattrs (the first byte picks one).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fs::fuzz::ondisk(data));
