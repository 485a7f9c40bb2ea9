//! Time from a canary taking traffic to the fail verdict, through a real `slogate serve` on a
//! backfilled Prometheus, asked exactly when and how the generated AnalysisTemplate asks (its
//! initialDelay, interval and count at the default pacing; its body with Argo's args filled
//! in, the lookback replaced by the explicit window it stands for, since the data lies in the
//! past). Traffic as the pacing targets state it: 200 requests/s, the canary at 10%, 1%
//! errors on the baseline; latency regressions as p95 shifts of the scenario's histogram.
//! Time is counted in minutes of data, never on a clock. The 10x target (2 minutes) is met
//! from the start. The 2x target (5 minutes) is met once the calibration job has measured the
//! stable version's own noise (`evaluate::canary::noise`); with the default CV-0.5 allowance
//! it is not, see docs/statistics.md.
//!
//! `cargo test --test canary_time_to_fail -- --nocapture` prints the rows of the table in
//! docs/statistics.md ("Pacing").

mod support;

use std::path::PathBuf;

use chrono::Utc;
use serde_json::Value;
use slogate::generate::rollouts::{RolloutSettings, analysis_templates};
use slogate::spec::load_texts;
use support::prometheus::PrometheusGuard;
use support::scenario::{Scenario, Segment, Workload};
use support::slogate::{ServeOptions, SlogateGuard};

const DEFINITION: &str = r#"apiVersion: slogate/v1
kind: ServiceLevels
service: shop
canary:
  metrics:
    - name: error-rate
      errors: sum(increase(http_requests_total{service="shop",code="500"}[{{window}}]))
      total: sum(increase(http_requests_total{service="shop"}[{{window}}]))
      direction: increase
      critical: true
    - name: p95-latency
      query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="shop"}[1m])))
      direction: increase
      critical: true
"#;

/// Minutes of baseline-only traffic before the canary takes its share: the calibration job's
/// backtest of the stable version replays 60 of them against the same version 30 earlier.
const BEFORE: u64 = 100;
/// Minutes of the step replayed after it.
const AFTER: u64 = 15;

/// A version's traffic: `slow_ratio` of its requests above 0.5 s. The scenario's histogram puts
/// the baseline's p95 (1% slow) at 0.4596 s; 5.57% slow puts it at 0.5512 s (1.20x), 30% slow
/// at 0.9167 s (1.99x).
fn workload(
    version: &str,
    rps: f64,
    error_ratio: f64,
    slow_ratio: f64,
    idle_minutes: u64,
) -> Workload {
    let mut segments = Vec::new();
    if idle_minutes > 0 {
        segments.push(Segment {
            seconds: idle_minutes * 60,
            rps: 0.0,
            error_ratio: 0.0,
            slow_ratio: 0.0,
        });
    }
    segments.push(Segment {
        seconds: (BEFORE + AFTER - idle_minutes) * 60,
        rps,
        error_ratio,
        slow_ratio,
    });
    Workload {
        service: "shop".into(),
        version: Some(version.into()),
        segments,
    }
}

#[test]
fn a_10x_error_regression_fails_within_2_minutes_and_a_2x_within_the_step_at_the_default_pacing() {
    // The data end a minute ago: the calibration job replays the history up to now.
    let start = Utc::now().timestamp() / 60 * 60 - (BEFORE + AFTER + 1) as i64 * 60;
    let traffic_from = start + BEFORE as i64 * 60;
    let scenario = Scenario {
        start,
        step: 15,
        workloads: vec![
            workload("stable", 180.0, 0.01, 0.01, 0),
            workload("tenfold", 20.0, 0.10, 0.01, BEFORE),
            workload("double", 20.0, 0.02, 0.01, BEFORE),
            workload("same", 20.0, 0.01, 0.01, BEFORE),
            workload("double50", 50.0, 0.02, 0.01, BEFORE),
            workload("slow2x", 20.0, 0.01, 0.30, BEFORE),
            workload("slow20", 20.0, 0.01, 0.0557, BEFORE),
        ],
    };
    let prometheus = PrometheusGuard::start(&scenario);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.yaml"), DEFINITION).unwrap();
    // First with the calibration job off: every analysis starts from the default prior.
    let mut slogate = SlogateGuard::start(&ServeOptions {
        slos: dir.path().to_path_buf(),
        config: "calibration: {every: 0s}\n".into(),
        ..ServeOptions::new(&prometheus.url)
    });

    // The template slogate generates for this profile.
    let report = load_texts(&[(PathBuf::from("shop.yaml"), DEFINITION.to_string())]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let service = &report.catalog.services[0];
    let template = &analysis_templates(service, &RolloutSettings::default())[0];
    let metric = &template.spec.metrics[0];
    let secs = |go: &str| -> i64 {
        let d: slogate::spec::PromDuration = go.parse().unwrap();
        d.as_secs() as i64
    };
    let initial_delay = secs(metric.initial_delay.as_deref().unwrap());
    let interval = secs(metric.interval.as_deref().unwrap());
    let lookback = service.canary.as_ref().unwrap().lookback.as_secs() as i64;
    let body_template = metric.provider.web.body.clone();

    // The minute of the first fail among the template's looks, and how many looks it took.
    let first_fail =
        |slogate: &SlogateGuard, canary: &str, metrics: &str| -> Option<(usize, f64)> {
            let body = body_template
                .replace("{{args.stable-hash}}", "stable")
                .replace("{{args.canary-hash}}", canary)
                .replace("{{args.metrics}}", metrics);
            let mut request: Value = serde_json::from_str(&body).unwrap();
            request.as_object_mut().unwrap().remove("lookback");
            for look in 0..metric.count as i64 {
                let at = traffic_from + initial_delay + look * interval;
                request["window"] = serde_json::json!({
                    "start": (at - lookback).to_string(),
                    "end": at.to_string(),
                });
                let (status, verdict) = slogate.post("/api/v1/gates/canary", &request.to_string());
                assert_eq!(status, 200, "{verdict}");
                if verdict["verdict"] == "fail" {
                    return Some((look as usize + 1, (at - traffic_from) as f64 / 60.0));
                }
            }
            None
        };

    eprintln!("| regression | first failing look | minutes of canary traffic |");
    let mut rows = Vec::new();
    let mut row = |slogate: &SlogateGuard, canary: &str, name: String, by_minutes: f64| {
        let got = first_fail(slogate, canary, "*");
        eprintln!(
            "| {name} | {} | {} |",
            got.map_or("none".into(), |g| g.0.to_string()),
            got.map_or("none".into(), |g| g.1.to_string())
        );
        rows.push((name, got, by_minutes));
    };
    for (canary, name, by_minutes) in [
        ("tenfold", "10x errors", 2.0),
        // The issue's target for a 2x regression is 5 minutes; from the default prior the
        // sequential rate test does not reach it (docs/statistics.md, "Pacing": the CV-0.5
        // overdispersion allowance makes evidence grow with minutes, not with traffic). What
        // is asserted here is what the default gives: a fail within the step's run; the
        // measured prior below meets the target.
        ("double", "2x errors", 10.0),
        ("double50", "2x errors, canary at 50 req/s", 10.0),
        // Measured: 3 and 7 minutes. The shift test's evidence on per-minute p95s grows with
        // the paired minutes; a 2x slowdown needs three (a 10x one fails at the first, in
        // tests/canary_pacing.rs); asserted: within 5 and 10 minutes.
        ("slow2x", "2x latency (p95 0.46 s -> 0.92 s)", 5.0),
        ("slow20", "20% latency (p95 0.46 s -> 0.55 s)", 10.0),
    ] {
        row(&slogate, canary, name.to_string(), by_minutes);
    }
    // An equal canary is never failed on the same schedule.
    assert_eq!(first_fail(&slogate, "same", "*"), None);

    // Then with the job on: one ask (before the canary's traffic, of an analysis not replayed
    // below) names the stable version, the job backtests it (60
    // minutes against the 60 before them, 30 minutes earlier), and new analyses start from
    // the noise it measured. The data are exact rates, so it measures the floor (CV 0.1).
    drop(slogate);
    slogate = SlogateGuard::start(&ServeOptions {
        slos: dir.path().to_path_buf(),
        config: "calibration: {history: 1h, offset: 30m}\n".into(),
        ..ServeOptions::new(&prometheus.url)
    });
    let (status, verdict) = slogate.post(
        "/api/v1/gates/canary",
        &format!(
            r#"{{"service":"shop","baseline":{{"version":"stable"}},"canary":{{"version":"tenfold"}},
                "window":{{"start":"{}","end":"{}"}}}}"#,
            traffic_from - 600,
            traffic_from
        ),
    );
    assert_eq!(status, 200, "{verdict}");
    let backtest = slogate.backtest_of("stable");
    let measured = backtest["metrics"][0]["noise"]["dispersion"]
        .as_f64()
        .unwrap();
    assert!(
        measured < 0.01,
        "exact rates measured as σ² {measured}: {backtest:#}"
    );
    for (canary, name) in [
        ("double", "2x errors, prior measured"),
        ("double50", "2x errors, canary at 50 req/s, prior measured"),
    ] {
        row(&slogate, canary, name.to_string(), 5.0);
    }
    assert_eq!(first_fail(&slogate, "same", "*"), None);
    // The verdict says which prior its evidence was tempered with, and where it came from.
    let (_, verdict) = slogate.post(
        "/api/v1/gates/canary",
        &format!(
            r#"{{"service":"shop","baseline":{{"version":"stable"}},"canary":{{"version":"double"}},
                "window":{{"start":"{}","end":"{}"}}}}"#,
            traffic_from + 300,
            traffic_from + 900
        ),
    );
    assert_eq!(verdict["checks"][0]["name"], "error-rate", "{verdict:#}");
    let reason = verdict["checks"][0]["reason"].as_str().unwrap_or_default();
    eprintln!("the measured prior's fail: {reason}");
    assert!(
        reason.contains("measured by the backtest of version stable"),
        "{verdict:#}"
    );
    for (name, got, by_minutes) in rows {
        let (_, minutes) = got.unwrap_or_else(|| panic!("{name}: never failed"));
        assert!(
            minutes <= by_minutes,
            "{name}: failed after {minutes} minutes"
        );
    }
}
