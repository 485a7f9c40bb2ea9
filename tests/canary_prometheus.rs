//! Canary analysis against a real Prometheus: baseline and canary told apart by the
//! pod-template-hash label (added to the queries through the syntax tree). A canary with a
//! higher error ratio fails, an equal one passes (also asked like Argo, ten looks of the
//! sequential test, at every look), a canary with no traffic is inconclusive.

mod support;

use std::path::PathBuf;

use chrono::Utc;
use slogate::analysis::canary::DEFAULT_CONFIDENCE;
use slogate::evaluate::canary::{
    BaselineSpan, CanaryRequest, CanarySources, canary_verdict, evaluate_canary, judge_canary,
};
use slogate::source::{PrometheusSettings, PrometheusSource};
use slogate::spec::load_texts;
use slogate::store::Store;
use slogate::verdict::Outcome;
use support::prometheus::PrometheusGuard;
use support::scenario::{Scenario, Segment, Workload};

const DEFINITION: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: shop
canary:
  lookback: 30m
  metrics:
    - name: error-rate
      errors: sum(increase(http_requests_total{service="shop",code="500"}[{{window}}]))
      total: sum(increase(http_requests_total{service="shop"}[{{window}}]))
      direction: increase
      allowed_increase: 1.2
      critical: true
    - name: mean-latency
      query: sum(rate(http_request_duration_seconds_sum{service="shop"}[5m])) / sum(rate(http_request_duration_seconds_count{service="shop"}[5m]))
      direction: increase
      allowed_increase: 1.1
"#;

fn version(version: &str, rps: f64, error_ratio: f64, seconds: u64) -> Workload {
    Workload {
        service: "shop".into(),
        version: Some(version.into()),
        segments: vec![Segment {
            seconds,
            rps,
            error_ratio,
            slow_ratio: 0.01,
        }],
    }
}

#[test]
fn canary_worse_fails_equal_passes_silent_is_inconclusive() {
    let span = 3 * 3600;
    let end = (Utc::now().timestamp() - 7200) / 60 * 60;
    let scenario = Scenario {
        start: end - span as i64,
        step: 60,
        workloads: vec![
            version("stable", 20.0, 0.001, span),
            version("worse", 20.0, 0.05, span),
            version("same", 20.0, 0.001, span),
            version("silent", 0.0, 0.0, span),
        ],
    };
    let prometheus = PrometheusGuard::start(&scenario);
    let report = load_texts(&[(PathBuf::from("shop.yaml"), DEFINITION.to_string())]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let profile = report.catalog.services[0].canary.clone().unwrap();
    let source = PrometheusSource::new(PrometheusSettings {
        url: prometheus.url.clone(),
        ..PrometheusSettings::default()
    })
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let judge = |canary: &str| {
        let request = CanaryRequest {
            baseline: "stable".into(),
            canary: canary.into(),
            start: end - 1800,
            end,
            last: false,
            baseline_span: BaselineSpan::Same,
        };
        let judgement = runtime.block_on(evaluate_canary(
            &CanarySources {
                service: "shop".into(),
                prometheus: &source,
                spans: None,
            },
            &profile,
            &request,
            DEFAULT_CONFIDENCE,
        ));
        canary_verdict("shop", &judgement, request.start, request.end)
    };

    let worse = judge("worse");
    assert_eq!(worse.verdict, Outcome::Fail, "{}", worse.summary);
    let errors = &worse.checks[0];
    assert_eq!(
        (errors.classification.as_str(), errors.verdict),
        ("high", Outcome::Fail)
    );
    let (b, c) = (
        errors.baseline.clone().unwrap(),
        errors.canary.clone().unwrap(),
    );
    // 30 minutes at 20 requests a second: 36,000 events a side, at the scenario's ratios.
    assert_eq!((b.n, c.n), (36_000, 36_000));
    assert!(
        (b.value - 0.001).abs() < 1e-9 && (c.value - 0.05).abs() < 1e-9,
        "{b:?} {c:?}"
    );
    assert!(
        errors
            .reason
            .starts_with("canary error rate (error-rate) exceeds baseline by more than 20%"),
        "{}",
        errors.reason
    );

    let same = judge("same");
    assert_eq!(same.verdict, Outcome::Pass, "{}", same.summary);
    assert_eq!(same.score, 100.0);

    let silent = judge("silent");
    assert_eq!(silent.verdict, Outcome::Inconclusive, "{}", silent.summary);
    assert!(
        silent.checks[0].reason.contains("too little traffic"),
        "{}",
        silent.checks[0].reason
    );
    let json = serde_json::to_value(&silent).unwrap();
    assert_eq!(json["kind"], "canary");
    assert_eq!(json["checks"][0]["classification"], "nodata");

    // Asked as the generated AnalysisTemplate asks: a 10-minute lookback every minute from
    // five minutes into the step, ten times; each ask one look of the sequential test kept in
    // the store. An equal canary passes at every look.
    let store = std::sync::Arc::new(Store::open_in_memory().unwrap());
    let sources = CanarySources {
        service: "shop".into(),
        prometheus: &source,
        spans: None,
    };
    let step_start = end - 1800;
    for look in 1..=10u64 {
        let at = step_start + 240 + 60 * look as i64;
        let request = CanaryRequest {
            baseline: "stable".into(),
            canary: "same".into(),
            start: at - 600,
            end: at,
            last: look == 10,
            baseline_span: BaselineSpan::Same,
        };
        let judgement = runtime.block_on(judge_canary(
            &store,
            &sources,
            &profile,
            &request,
            DEFAULT_CONFIDENCE,
            false,
        ));
        let verdict = canary_verdict("shop", &judgement, request.start, request.end);
        assert_eq!(verdict.verdict, Outcome::Pass, "look {look}: {verdict:#?}");
        for check in &verdict.checks {
            let evidence = check.sequential.as_ref().expect("sequential evidence");
            assert_eq!(evidence.look, look, "{}", check.reason);
            assert!(evidence.e_value < evidence.threshold, "{}", check.reason);
        }
    }
}
