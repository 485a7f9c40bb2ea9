//! The example services of `slo-definitions/`, loaded once per test the way `slogate
//! generate` loads them, so tests check what is committed rather than copies of it.

use std::path::PathBuf;

use slogate::spec::{Catalog, load_paths};

/// The example catalog; panics with every diagnostic when the examples do not validate.
pub fn example_catalog() -> Catalog {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/slo-definitions"));
    let report = load_paths(&[dir]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    report.catalog
}
