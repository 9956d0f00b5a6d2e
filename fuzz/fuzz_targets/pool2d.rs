#![no_main]
//! Any bytes -> a pooling call, checked against the reference (see case.rs).

include!("case.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_pool(data));
