//! The canary's version matcher added to every selector of a user's PromQL.
#![no_main]

include!("../oracles.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| promql_version_matcher_oracle(data));
