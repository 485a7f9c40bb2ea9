//! The same SLO evaluation against a second engine: VictoriaMetrics (which Thanos- and
//! Mimir-style setups resemble: Prometheus' query API, their own engine) and Prometheus hold
//! the same series, and `evaluate_service` gives the same SLIs, burn rates, budgets and gate
//! verdicts on both, within the engines' own rounding.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use slogate::analysis::slo::{GatePolicy, SloStatus};
use slogate::evaluate::evaluate_service;
use slogate::source::{PrometheusSettings, PrometheusSource};
use slogate::spec::{Catalog, load_texts};

use support::prometheus::PrometheusGuard;
use support::scenario::{Scenario, Segment, Workload};
use support::victoria::VictoriaGuard;

const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

const DEFINITIONS: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: steady
slos:
  - name: availability
    objective: 99.9
    period: 1d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="steady",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="steady"}[{{window}}]))
  - name: latency
    objective: 95
    period: 1d
    sli:
      latency:
        histogram: http_request_duration_seconds
        selector: '{service="steady"}'
        threshold: 500ms
---
apiVersion: slogate/v1
kind: ServiceLevels
service: burst
slos:
  - name: availability
    objective: 99.9
    period: 1d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="burst",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="burst"}[{{window}}]))
"#;

fn segment(seconds: u64, error_ratio: f64) -> Segment {
    Segment {
        seconds,
        rps: 20.0,
        error_ratio,
        slow_ratio: 0.01,
    }
}

/// Two days at one sample a minute ending two hours ago; "burst" errs at 5% in its last hour.
fn scenario() -> Scenario {
    let span = 2 * DAY;
    let end = (Utc::now().timestamp() - 2 * HOUR as i64) / 60 * 60;
    let workload = |service: &str, segments| Workload {
        service: service.into(),
        version: None,
        segments,
    };
    Scenario {
        start: end - span as i64,
        step: 60,
        workloads: vec![
            workload("steady", vec![segment(span, 0.0002)]),
            workload(
                "burst",
                vec![segment(span - HOUR, 0.0002), segment(HOUR, 0.05)],
            ),
        ],
    }
}

fn statuses(url: &str, catalog: &Catalog, at: i64) -> Vec<SloStatus> {
    let source = PrometheusSource::new(PrometheusSettings {
        url: url.to_string(),
        query_timeout: Duration::from_secs(10),
        ..PrometheusSettings::default()
    })
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut all = Vec::new();
        for service in &catalog.services {
            let policy = GatePolicy::default();
            all.extend(evaluate_service(&source, catalog, service, None, at, &policy).await);
        }
        all
    })
}

/// Equal within `rel` of the larger, or both within `abs` of zero.
fn agree(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs.max(rel * a.abs().max(b.abs()))
}

#[test]
fn victoriametrics_and_prometheus_give_the_same_slis_burn_rates_budgets_and_verdicts() {
    let scenario = scenario();
    let prometheus = PrometheusGuard::start(&scenario);
    let victoria = VictoriaGuard::start(&scenario);
    let report = load_texts(&[(PathBuf::from("slos.yaml"), DEFINITIONS.to_string())]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let at = scenario.end();
    let on_prometheus = statuses(&prometheus.url, &report.catalog, at);
    let on_victoria = statuses(&victoria.url, &report.catalog, at);
    assert_eq!(on_prometheus.len(), 3);
    let verdicts: Vec<String> = on_victoria
        .iter()
        .map(|s| format!("{}/{}: {}", s.service, s.slo, s.verdict))
        .collect();
    assert!(
        verdicts.contains(&"burst/availability: fail".to_string())
            && verdicts.contains(&"steady/availability: pass".to_string()),
        "the data tell a burst from a steady service: {verdicts:?}"
    );
    assert_eq!(on_victoria.len(), on_prometheus.len());
    for (p, v) in on_prometheus.iter().zip(&on_victoria) {
        let name = format!("{}/{}", p.service, p.slo);
        assert_eq!((&p.service, &p.slo), (&v.service, &v.slo));
        assert_eq!(p.verdict, v.verdict, "{name}: {p:#?}\n{v:#?}");
        assert_eq!(p.alerts, v.alerts, "{name}");
        assert_eq!(
            p.sli.keys().collect::<Vec<_>>(),
            v.sli.keys().collect::<Vec<_>>(),
            "{name}: the same windows answered"
        );
        // Prometheus extrapolates `rate` to the window's edges and VictoriaMetrics does not;
        // on one-minute samples of steady counters they differ by at most a sample's share.
        for (window, sli) in &p.sli {
            let other = v.sli[window];
            assert!(
                agree(*sli, other, 1e-4, 1e-6),
                "{name} SLI over {window}: {sli} vs {other}"
            );
        }
        for (window, burn) in &p.burn_rate {
            let other = v.burn_rate[window];
            assert!(
                agree(*burn, other, 0.05, 1e-3),
                "{name} burn over {window}: {burn} vs {other}"
            );
        }
        let (pb, vb) = (p.error_budget.as_ref(), v.error_budget.as_ref());
        let remaining = |b: Option<&slogate::analysis::slo::ErrorBudget>| b.map(|b| b.remaining);
        match (remaining(pb), remaining(vb)) {
            (Some(a), Some(b)) => assert!(agree(a, b, 0.05, 0.01), "{name} budget {a} vs {b}"),
            other => panic!("{name}: budgets {other:?}"),
        }
    }
}
