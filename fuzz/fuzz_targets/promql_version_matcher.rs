//! The canary's version matcher added to every selector of a user's PromQL.
#![no_main]

include!("../oracles.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keep_caught_panics();
    promql_version_matcher_oracle(data)
});

/// promql-parser panics on some inputs (an offset beyond `Duration`'s range, such as
/// `x offset 9999...9`); slogate's `parse_promql` catches that and refuses the query. libFuzzer's
/// panic hook aborts on every panic, caught or not, so this target puts a hook that only prints:
/// a panic that escapes slogate (an oracle's assertion among them) still ends the run, since
/// libfuzzer-sys aborts when the target itself unwinds.
fn keep_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("{info}"))));
}
