//! Server bytes: option replies, simple replies and structured reply chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nbd::fuzz::reply(data));
