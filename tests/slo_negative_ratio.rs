//! An SLI whose error ratio comes out negative (issue 16, found by reading): the queries
//! disagree (errors subtracted, or counted outside the total), and the gate used to read it as
//! more than 100% of the error budget left and pass. Against a real Prometheus with data.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use slogate::analysis::slo::GatePolicy;
use slogate::evaluate::evaluate_service;
use slogate::source::{PrometheusSettings, PrometheusSource};
use slogate::spec::load_texts;
use slogate::verdict::Outcome;
use support::prometheus::PrometheusGuard;
use support::scenario::{Scenario, Segment, Workload};

/// A raw SLI with its sign flipped by mistake: the error ratio is -1%.
const DEFINITIONS: &str = r#"apiVersion: slogate/v1
kind: ServiceLevels
service: inverted
slos:
  - name: availability
    objective: 99
    sli:
      raw:
        error_ratio: -1 * sum(rate(http_requests_total{service="inverted",code=~"5.."}[{{window}}])) / sum(rate(http_requests_total{service="inverted"}[{{window}}]))
"#;

#[test]
fn a_negative_error_ratio_is_never_more_than_the_whole_budget_left() {
    let end = (Utc::now().timestamp() - 15) / 15 * 15;
    let scenario = Scenario {
        start: end - 3 * 3600,
        step: 15,
        workloads: vec![Workload {
            service: "inverted".into(),
            version: None,
            segments: vec![Segment {
                seconds: 3 * 3600,
                rps: 10.0,
                error_ratio: 0.01,
                slow_ratio: 0.0,
            }],
        }],
    };
    let prometheus = PrometheusGuard::start(&scenario);
    let report = load_texts(&[(PathBuf::from("slos.yaml"), DEFINITIONS.to_string())]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let catalog = report.catalog;
    let source = PrometheusSource::new(PrometheusSettings {
        url: prometheus.url.clone(),
        query_timeout: Duration::from_secs(5),
        ..PrometheusSettings::default()
    })
    .unwrap();
    let service = catalog.service("inverted").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let statuses = runtime.block_on(evaluate_service(
        &source,
        &catalog,
        service,
        None,
        end,
        &GatePolicy::default(),
    ));
    let status = &statuses[0];
    assert_ne!(status.verdict, Outcome::Pass, "{status:#?}");
    assert!(status.reason.contains("negative"), "{status:#?}");
    assert!(
        status
            .error_budget
            .as_ref()
            .is_none_or(|b| b.remaining <= 1.0),
        "{status:#?}"
    );
}
