//! The canary and SLO gates' request bodies, checked against fixed definitions.
#![no_main]

include!("../oracles.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| gate_body_oracle(data));
