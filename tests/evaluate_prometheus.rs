//! SLO evaluation against a real Prometheus backfilled with scenarios whose truth is known in
//! closed form (constant rates and ratios per segment): SLI, budget and burn rates match the
//! truth, a burst pages and fails the gate, a healthy service passes, and every kind of missing
//! data (no series, NaN, Prometheus stopped, Prometheus too slow) is inconclusive, never pass.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use slogate::analysis::slo::{GatePolicy, SloStatus, selected};
use slogate::evaluate::evaluate_service;
use slogate::evaluate::plan::plan;
use slogate::source::{PrometheusSettings, PrometheusSource};
use slogate::spec::{Catalog, load_texts};
use slogate::verdict::Outcome;
use support::prometheus::PrometheusGuard;
use support::proxy::{Fault, FaultyProxy};
use support::scenario::{Scenario, Segment, Workload};

const STEP: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;
const PERIOD: u64 = 7 * DAY;

const DEFINITIONS: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: healthy
slos:
  - name: availability
    objective: 99.9
    period: 7d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="healthy",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="healthy"}[{{window}}]))
  - name: latency
    objective: 95
    period: 7d
    sli:
      latency:
        histogram: http_request_duration_seconds
        selector: '{service="healthy"}'
        threshold: 500ms
---
apiVersion: slogate/v1
kind: ServiceLevels
service: burst
slos:
  - name: availability
    objective: 99.9
    period: 7d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="burst",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="burst"}[{{window}}]))
---
apiVersion: slogate/v1
kind: ServiceLevels
service: quiet
slos:
  - name: ratio
    objective: 99
    period: 7d
    sli:
      raw:
        error_ratio: sum(rate(http_requests_total{service="quiet",code="500"}[{{window}}])) / sum(rate(http_requests_total{service="quiet"}[{{window}}]))
---
apiVersion: slogate/v1
kind: ServiceLevels
service: ghost
slos:
  - name: availability
    objective: 99.9
    period: 7d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="ghost",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="ghost"}[{{window}}]))
"#;

fn seg(seconds: u64, rps: f64, error_ratio: f64, slow_ratio: f64) -> Segment {
    Segment {
        seconds,
        rps,
        error_ratio,
        slow_ratio,
    }
}

fn workload(service: &str, segments: Vec<Segment>) -> Workload {
    Workload {
        service: service.into(),
        version: None,
        segments,
    }
}

/// Eight days of traffic ending two hours ago (backfilled data must end in the past).
fn scenario() -> Scenario {
    let span = PERIOD + DAY;
    let now = Utc::now().timestamp();
    let end = (now - 2 * HOUR as i64) / STEP as i64 * STEP as i64;
    Scenario {
        start: end - span as i64,
        step: STEP,
        workloads: vec![
            workload("healthy", vec![seg(span, 20.0, 0.0002, 0.01)]),
            workload(
                "burst",
                vec![
                    seg(span - HOUR, 20.0, 0.0002, 0.01),
                    seg(HOUR, 20.0, 0.05, 0.01),
                ],
            ),
            workload("quiet", vec![seg(span, 0.0, 0.0, 0.0)]),
        ],
    }
}

/// The error ratio a window ending at the scenario's end sees: errors / requests over it.
fn truth(w: &Workload, end_offset: u64, window: u64, errors: impl Fn(&Segment) -> f64) -> f64 {
    let (from, to) = (end_offset - window, end_offset);
    let (mut bad, mut all, mut t) = (0.0, 0.0, 0);
    for s in &w.segments {
        let overlap = (t + s.seconds).min(to).saturating_sub(t.max(from)) as f64;
        bad += overlap * s.rps * errors(s);
        all += overlap * s.rps;
        t += s.seconds;
    }
    bad / all
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-6 * want.abs().max(1e-12)
}

fn catalog() -> Catalog {
    let report = load_texts(&[(PathBuf::from("slos.yaml"), DEFINITIONS.to_string())]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    report.catalog
}

fn source(url: &str, timeout: Duration) -> PrometheusSource {
    PrometheusSource::new(PrometheusSettings {
        url: url.to_string(),
        query_timeout: timeout,
        retries: 1,
        backoff: Duration::from_millis(50),
        ..PrometheusSettings::default()
    })
    .unwrap()
}

async fn evaluate(
    src: &PrometheusSource,
    catalog: &Catalog,
    service: &str,
    at: i64,
) -> Vec<SloStatus> {
    let service = catalog.service(service).unwrap();
    evaluate_service(src, catalog, service, None, at, &GatePolicy::default()).await
}

fn assert_matches_truth(
    status: &SloStatus,
    w: &Workload,
    span: u64,
    budget: f64,
    errors: impl Fn(&Segment) -> f64,
) {
    assert!(!status.sli.is_empty());
    for (window, sli) in &status.sli {
        let want = truth(w, span, window.as_secs(), &errors);
        assert!(
            close(1.0 - sli, want),
            "{} {window}: error ratio {} vs truth {want}",
            status.slo,
            1.0 - sli
        );
        assert!(
            close(status.burn_rate[window], want / budget),
            "{} {window} burn",
            status.slo
        );
    }
    let period_ratio = truth(w, span, PERIOD, &errors);
    let b = status.error_budget.expect("the period has data");
    assert!(
        close(b.consumed, period_ratio / budget),
        "consumed {} vs {}",
        b.consumed,
        period_ratio / budget
    );
    assert!(
        close(b.remaining, 1.0 - period_ratio / budget),
        "remaining {}",
        b.remaining
    );
    let minutes = (1.0 - period_ratio / budget) * budget * PERIOD as f64 / 60.0;
    assert!(
        close(b.remaining_minutes, minutes),
        "remaining minutes {} vs {minutes}",
        b.remaining_minutes
    );
}

#[test]
fn evaluation_matches_closed_form_truth_and_fails_safe() {
    let scenario = scenario();
    let span = (scenario.end() - scenario.start) as u64;
    let at = scenario.end();
    let mut prometheus = PrometheusGuard::start(&scenario);
    let catalog = catalog();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let src = source(&prometheus.url, Duration::from_secs(4));

    runtime.block_on(async {
        // A healthy service: every window at its constant ratio, pass.
        let healthy = evaluate(&src, &catalog, "healthy", at).await;
        let w = &scenario.workloads[0];
        assert_matches_truth(&healthy[0], w, span, 0.001, |s| s.error_ratio);
        assert_matches_truth(&healthy[1], w, span, 0.05, |s| s.slow_ratio);
        for st in &healthy {
            assert_eq!(st.verdict, Outcome::Pass, "{}: {}", st.slo, st.reason);
            assert!(st.alerts.is_empty());
            assert!(
                st.reason
                    .starts_with("healthy: 80% of the error budget left"),
                "{}",
                st.reason
            );
        }

        // Round trips: one query per distinct window for all SLOs of the service at once.
        let before = src.round_trips();
        let service = catalog.service("healthy").unwrap();
        let windows = plan(&selected(service, None, &catalog.alert_windows))
            .queries
            .len();
        evaluate(&src, &catalog, "healthy", at).await;
        assert_eq!(windows, 8, "7 alert windows and the period");
        assert_eq!(
            src.round_trips() - before,
            windows as u64,
            "2 SLOs, not 2 x 8 queries"
        );

        // A burst of 50x for the last hour: pages and fails the gate.
        let burst = evaluate(&src, &catalog, "burst", at).await;
        assert_matches_truth(&burst[0], &scenario.workloads[1], span, 0.001, |s| {
            s.error_ratio
        });
        assert_eq!(burst[0].alerts, ["page", "ticket"]);
        assert_eq!(burst[0].verdict, Outcome::Fail);
        assert!(
            burst[0]
                .reason
                .starts_with("page-tier burn in progress: 50x over 14m and 50x over 5m"),
            "{}",
            burst[0].reason
        );

        // No traffic at all: 0/0 is NaN, inconclusive.
        let quiet = evaluate(&src, &catalog, "quiet", at).await;
        assert_eq!(quiet[0].verdict, Outcome::Inconclusive);
        assert!(
            quiet[0].reason.contains("the SLI is NaN"),
            "{}",
            quiet[0].reason
        );

        // Metrics that do not exist: no series, inconclusive.
        let ghost = evaluate(&src, &catalog, "ghost", at).await;
        assert_eq!(ghost[0].verdict, Outcome::Inconclusive);
        assert!(
            ghost[0].reason.contains("returned no series"),
            "{}",
            ghost[0].reason
        );

        // Prometheus slower than the query timeout: inconclusive, naming the timeout.
        let proxy = FaultyProxy::start(&prometheus.url, Fault::Delay(Duration::from_secs(3))).await;
        let slow = source(&proxy.url, Duration::from_millis(500));
        let timed_out = evaluate(&slow, &catalog, "healthy", at).await;
        for st in &timed_out {
            assert_eq!(st.verdict, Outcome::Inconclusive);
            assert!(
                st.reason.contains("did not answer within 0.5s"),
                "{}",
                st.reason
            );
        }
    });

    // The CLI: JSON for machines, exit 0 when every SLO passes.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slos.yaml"), DEFINITIONS).unwrap();
    let url = prometheus.url.clone();
    let cli = |service: &str| {
        Command::new(env!("CARGO_BIN_EXE_slogate"))
            .args([
                "evaluate",
                "--prometheus",
                &url,
                "--service",
                service,
                "--output",
                "json",
            ])
            .arg("--slos")
            .arg(dir.path())
            .arg("--at")
            .arg(Utc.timestamp_opt(at, 0).unwrap().to_rfc3339())
            .output()
            .unwrap()
    };
    let out = cli("healthy");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &json["slos"][0];
    for key in [
        "service",
        "slo",
        "objective",
        "period",
        "sli",
        "error_budget",
        "burn_rate",
        "alerts",
        "verdict",
    ] {
        assert!(first.get(key).is_some(), "missing {key} in {first}");
    }
    let windows: BTreeMap<String, f64> = serde_json::from_value(first["sli"].clone()).unwrap();
    assert!(
        windows.contains_key("1w") && windows.contains_key("5m"),
        "{windows:?}"
    );
    assert_eq!(
        first["error_budget"]["remaining"]
            .as_f64()
            .map(|r| (r * 1e6).round() / 1e6),
        Some(0.8)
    );
    assert_eq!(
        cli("burst").status.code(),
        Some(1),
        "a failing gate exits 1"
    );

    // Prometheus stopped mid-run: every SLO inconclusive, exit 1.
    prometheus.stop();
    let out = cli("healthy");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for slo in json["slos"].as_array().unwrap() {
        assert_eq!(slo["verdict"], "inconclusive");
        assert!(
            slo["reason"]
                .as_str()
                .unwrap()
                .contains("Prometheus is unreachable"),
            "{slo}"
        );
    }
}
