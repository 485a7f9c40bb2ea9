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

/// A service judged from traces alone: span latency of one operation and span errors of all,
/// the version in `service.version` (the tests that send spans use it).
pub const CHECKOUT_TRACES: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: checkout
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{service="checkout",code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total{service="checkout"}[{{window}}]))
canary:
  trace_version_attribute: service.version
  lookback: 10m
  metrics:
    - name: latency
      source: traces
      kind: latency
      operation: "GET /api/v1/orders"
      direction: increase
      allowed_increase: 1.1
    - name: errors
      source: traces
      kind: errors
      direction: increase
      allowed_increase: 1.2
      critical: true
"#;
