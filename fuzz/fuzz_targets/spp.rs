#![no_main]
//! Any bytes -> an SPP call, checked for exact plans and output length (see case.rs).

include!("case.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_spp(data));
