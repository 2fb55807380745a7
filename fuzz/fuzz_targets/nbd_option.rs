//! Client bytes during option haggling: client flags, then options.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nbd::fuzz::option(data));
