//! Client bytes during transmission: request headers and write payloads.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nbd::fuzz::request(data));
