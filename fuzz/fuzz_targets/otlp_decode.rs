//! OTLP/HTTP decoding (protobuf and JSON, gzip or not) under the receiver's limits and budget.
#![no_main]

include!("../oracles.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| otlp_decode_oracle(data));
