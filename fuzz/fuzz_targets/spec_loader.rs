//! The spec loader: slogate's own format, Sloth and OpenSLO, told apart by content.
#![no_main]

include!("../oracles.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| spec_loader_oracle(data));
