//! A small volume patched with the input, opened by the read path, the structural check
//! and a read-write mount.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fs::fuzz::image(data));
