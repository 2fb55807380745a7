//! The jbd2 decoders: journal superblock, block header, descriptor, commit, revoke.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fs::fuzz::journal(data));
