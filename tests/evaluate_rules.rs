//! The catalog read from slogate's own recording rules agrees with raw SLI queries: a real
//! Prometheus holds two days of traffic, and the generated rules (`slogate generate`'s
//! `alert-rules/`) are backfilled over it with promtool, level by level
//! (tests/support/rules_backfill.rs). Then `evaluation: rules` and `evaluation: raw` evaluate
//! the same catalog at the same time.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use slogate::analysis::slo::{ErrorBudget, GatePolicy, SloStatus};
use slogate::evaluate::rules::{EvaluationMode, Provenance, evaluate_catalog};
use slogate::generate::rules::service_rules;
use slogate::source::{PrometheusSettings, PrometheusSource};
use slogate::spec::{Catalog, load_texts};

use support::prometheus::PrometheusGuard;
use support::scenario::{Scenario, Segment, Workload};

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
---
apiVersion: slogate/v1
kind: ServiceLevels
service: unrecorded
slos:
  - name: availability
    objective: 99.9
    period: 1d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="steady",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="steady"}[{{window}}]))
"#;

fn segment(seconds: u64, error_ratio: f64) -> Segment {
    Segment {
        seconds,
        rps: 20.0,
        error_ratio,
        slow_ratio: 0.01,
    }
}

/// Two days at one sample a minute ending two hours ago; "burst" errs at 5% from five to
/// three hours before the end (inside the period, away from its edges).
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
                vec![
                    segment(span - 5 * HOUR, 0.0002),
                    segment(2 * HOUR, 0.05),
                    segment(3 * HOUR, 0.0002),
                ],
            ),
        ],
    }
}

fn evaluate(
    url: &str,
    catalog: &Catalog,
    at: i64,
    mode: EvaluationMode,
) -> (Vec<SloStatus>, Provenance) {
    let source = PrometheusSource::new(PrometheusSettings {
        url: url.to_string(),
        query_timeout: Duration::from_secs(10),
        ..PrometheusSettings::default()
    })
    .unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(evaluate_catalog(
            &source,
            catalog,
            &GatePolicy::default(),
            at,
            mode,
        ))
}

/// Equal within `rel` of the larger, or both within `abs` of zero.
fn agree(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs.max(rel * a.abs().max(b.abs()))
}

#[test]
fn rules_and_raw_evaluation_agree_on_slis_burn_rates_and_budgets() {
    let scenario = scenario();
    let mut prometheus = PrometheusGuard::start(&scenario);
    let report = load_texts(&[(PathBuf::from("slos.yaml"), DEFINITIONS.to_string())]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let catalog = report.catalog;
    let at = scenario.end();
    // The rules of every service but "unrecorded", as `slogate generate` writes them, over
    // the period before `at` (and ten minutes more for the first 5m windows).
    let files: Vec<_> = catalog
        .services
        .iter()
        .filter(|s| s.service != "unrecorded")
        .map(|s| service_rules(s, &catalog.alert_windows))
        .collect();
    support::rules_backfill::backfill(&mut prometheus, &files, at - DAY as i64 - 600, at);

    let (raw, raw_from) = evaluate(&prometheus.url, &catalog, at, EvaluationMode::Raw);
    let (ruled, provenance) = evaluate(&prometheus.url, &catalog, at, EvaluationMode::Auto);
    assert!(raw_from.from_rules.is_empty());
    assert_eq!(raw.len(), 4);
    assert_eq!(ruled.len(), 4);
    for s in &ruled {
        let expected = if s.service == "unrecorded" {
            "raw"
        } else {
            "rules"
        };
        assert_eq!(
            provenance.source_of(&s.service, &s.slo),
            expected,
            "{}/{}: {:?}",
            s.service,
            s.slo,
            provenance.note_of(&s.service, &s.slo)
        );
    }
    let note = provenance.note_of("unrecorded", "availability").unwrap();
    assert!(note.contains("no recording rules"), "{note}");

    let burst = ruled.iter().find(|s| s.service == "burst").unwrap();
    assert!(
        burst.error_budget.unwrap().consumed > 1.0,
        "the burst overspends the day's budget: {burst:?}"
    );
    for (r, w) in raw.iter().zip(&ruled) {
        let name = format!("{}/{}", r.service, r.slo);
        assert_eq!((&r.service, &r.slo), (&w.service, &w.slo));
        assert_eq!(r.verdict, w.verdict, "{name}: {r:#?}\n{w:#?}");
        assert_eq!(r.alerts, w.alerts, "{name}");
        assert_eq!(
            r.sli.keys().collect::<Vec<_>>(),
            w.sli.keys().collect::<Vec<_>>(),
            "{name}: the same windows answered"
        );
        let period = slogate::spec::PromDuration::parse(&r.period).unwrap();
        for (window, sli) in &r.sli {
            let other = w.sli[window];
            // The alert windows' rules are the raw query evaluated at the same minute: equal
            // but for float rounding. The period's ratio is the traffic-weighted sum of the
            // shortest window's recordings, one a minute, so every minute counts five times
            // except within 5 minutes of the period's edges; this scenario's errors are away
            // from the edges, and the two agree to 1e-14 (measured). An error burst in the
            // period's last minutes would be under-counted by up to half its share there.
            let (rel, abs) = if *window == period {
                (1e-6, 1e-9)
            } else {
                (1e-9, 1e-12)
            };
            assert!(
                agree(*sli, other, rel, abs),
                "{name} SLI over {window}: {sli} vs {other}"
            );
        }
        for (window, burn) in &r.burn_rate {
            let other = w.burn_rate[window];
            let rel = if *window == period { 1e-6 } else { 1e-9 };
            assert!(
                agree(*burn, other, rel, 1e-6),
                "{name} burn over {window}: {burn} vs {other}"
            );
        }
        let consumed = |b: Option<ErrorBudget>| b.map(|b| b.consumed);
        match (consumed(r.error_budget), consumed(w.error_budget)) {
            (Some(a), Some(b)) => {
                assert!(agree(a, b, 1e-6, 1e-9), "{name} budget consumed {a} vs {b}");
            }
            other => panic!("{name}: budgets {other:?}"),
        }
    }
}
