//! The blue-green gates' request checks: windows, versions, and refusals by field.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};

use super::*;
use crate::spec::load_texts;

const SPEC: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: shop
canary:
  lookback: 10m
  metrics:
    - name: errors
      errors: sum(increase(http_requests_total{code="500"}[{{window}}]))
      total: sum(increase(http_requests_total[{{window}}]))
      max_rate: 0.005
      max_increase_points: 0.1
---
apiVersion: slogate/v1
kind: ServiceLevels
service: ratios-only
canary:
  metrics:
    - name: errors
      errors: sum(increase(http_requests_total{code="500"}[{{window}}]))
      total: sum(increase(http_requests_total[{{window}}]))
"#;

fn catalog() -> Catalog {
    let texts: Vec<(PathBuf, String)> = SPEC
        .split("---\n")
        .enumerate()
        .map(|(i, text)| (PathBuf::from(format!("{i}.yaml")), text.to_string()))
        .collect();
    let report = load_texts(&texts);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    report.catalog
}

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

fn post_body(value: serde_json::Value) -> PostBody {
    serde_json::from_value(value).unwrap()
}

#[test]
fn the_post_gate_reads_the_old_version_before_the_switch_and_the_new_one_after_it() {
    let body = post_body(serde_json::json!({
        "service": "shop", "previous": {"version": "old"}, "active": {"version": "new"},
        "switch_time": "1799999000", "lookback": "10m"
    }));
    let gate = post_gate(&catalog(), &body, now()).unwrap();
    assert_eq!(
        (gate.request.start, gate.request.end),
        (1_799_999_000, 1_799_999_600)
    );
    assert_eq!(
        gate.request.baseline_span,
        BaselineSpan::Window {
            start: 1_799_998_400,
            end: 1_799_999_000
        }
    );
    // No switch time: the template asks one lookback after the analysis starts.
    let body = post_body(serde_json::json!({
        "service": "shop", "previous": {"version": "old"}, "active": {"version": "new"},
        "switch_time": ""
    }));
    let gate = post_gate(&catalog(), &body, now()).unwrap();
    assert_eq!(
        (gate.request.start, gate.request.end),
        (1_799_999_400, 1_800_000_000)
    );
}

#[test]
fn the_post_gate_refuses_a_switch_too_recent_or_in_the_future_by_field() {
    for (switch, why) in [("1799999990", "at least 60s"), ("1800003600", "future")] {
        let body = post_body(serde_json::json!({
            "service": "shop", "previous": {"version": "old"}, "active": {"version": "new"},
            "switch_time": switch
        }));
        let err = post_gate(&catalog(), &body, now()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("switch_time"), "{err:?}");
        assert!(err.message.contains(why), "{err:?}");
    }
    let body = post_body(serde_json::json!({
        "service": "shop", "previous": {"version": "same"}, "active": {"version": "same"}
    }));
    let err = post_gate(&catalog(), &body, now()).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("active.version"), "{err:?}");
}

#[test]
fn the_pre_gate_needs_a_limit_that_needs_no_baseline() {
    let body: PreBody = serde_json::from_value(serde_json::json!({
        "service": "ratios-only", "preview": {"version": "green"}
    }))
    .unwrap();
    let err = pre_gate(&catalog(), &body, now()).unwrap_err();
    assert!(err.message.contains("no `max` or `max_rate`"), "{err:?}");
    let body: PreBody = serde_json::from_value(serde_json::json!({
        "service": "shop", "preview": {"version": "green"}, "lookback": "5m"
    }))
    .unwrap();
    let gate = pre_gate(&catalog(), &body, now()).unwrap();
    assert_eq!(gate.request.baseline_span, BaselineSpan::Absent);
    assert_eq!(gate.request.end - gate.request.start, 300);
}
