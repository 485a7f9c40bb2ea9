//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) on stable, through the fuzz
//! targets' own oracles (`fuzz/oracles.rs`), so CI keeps every input the fuzzers found
//! interesting, and every crash they once found, without nightly or cargo-fuzz.

use std::path::PathBuf;

mod oracles {
    include!("../fuzz/oracles.rs");
}

/// Runs `oracle` on every file of `fuzz/corpus/<target>/`; fails naming each file it panics on.
fn replay(target: &str, oracle: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "{}: {} inputs",
        dir.display(),
        files.len()
    );
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).unwrap();
            std::panic::catch_unwind(|| oracle(&data)).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(failed.is_empty(), "the oracle fails on: {failed:#?}");
}

#[test]
fn the_otlp_decoding_corpus_replays_clean() {
    replay("otlp_decode", oracles::otlp_decode_oracle);
}

#[test]
fn the_promql_version_matcher_corpus_replays_clean() {
    replay(
        "promql_version_matcher",
        oracles::promql_version_matcher_oracle,
    );
}

#[test]
fn the_spec_loader_corpus_replays_clean() {
    replay("spec_loader", oracles::spec_loader_oracle);
}

#[test]
fn the_gate_body_corpus_replays_clean() {
    replay("gate_body", oracles::gate_body_oracle);
}
