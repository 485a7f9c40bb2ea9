//! The traffic row of a service's dashboard (request rate, error rate, p50/p95/p99): where
//! its queries come from (the spec's `dashboard:`, else the SLIs), the located errors a bad
//! `dashboard:` gives, and the numbers its queries return in a real Prometheus backfilled
//! with traffic whose rates and latency distribution are known in closed form.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use slogate::generate::grafana::{service_dashboard, traffic};
use slogate::spec::{HistogramKind, HistogramRef, ServiceLevels, load_texts};
use support::prometheus::PrometheusGuard;
use support::scenario::{Scenario, Segment, Workload};

// ---------------------------------------------------------------------------------------
// Validation

const HEADER: &str = "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: shop\nalerts:\n  - {name: ShopDown, expr: up == 0, tier: page}\ndashboard:\n";

/// One broken `dashboard:` (lines from 7) and the first error it gives, exactly.
const CASES: &[(&str, &str, &str)] = &[
    (
        "a histogram named with its _bucket suffix",
        "  latency:\n    histogram: http_request_duration_seconds_bucket\n",
        "spec.yaml:8:5: dashboard.latency.histogram: give the histogram's base name, without `_bucket` or `_count` (`http_request_duration_seconds`)",
    ),
    (
        "an unknown histogram type",
        "  latency:\n    histogram: http_request_duration_seconds\n    type: summary\n",
        "spec.yaml:9:5: dashboard.latency.type: unknown histogram type `summary`; expected `classic` or `native`",
    ),
    (
        "a selector without braces",
        "  latency:\n    histogram: http_request_duration_seconds\n    selector: service=\"shop\"\n",
        "spec.yaml:9:5: dashboard.latency.selector: `service=\"shop\"` is not a label selector; write it in braces, e.g. {service=\"api\"}",
    ),
    (
        "a request rate that is not PromQL",
        "  requests: sum(rate(http_requests_total[5m])\n",
        "spec.yaml:7:3: dashboard.requests: invalid PromQL: unclosed left parenthesis",
    ),
    (
        "errors with no request rate to divide by",
        "  errors: sum(rate(http_requests_total{code=~\"5..\"}[5m]))\n",
        "spec.yaml:7:3: dashboard.errors: the error ratio is `errors` over the request rate, and none is known: add `requests` (requests per second) or `latency` (the HTTP histogram)",
    ),
    (
        "a misspelt field",
        "  latency_histogram: http_request_duration_seconds\n",
        "spec.yaml:7:3: dashboard.latency_histogram: unknown field `latency_histogram`, expected one of requests, errors, latency",
    ),
];

#[test]
fn each_broken_dashboard_field_is_reported_at_its_file_line_and_field() {
    for (name, dashboard, want) in CASES {
        let text = format!("{HEADER}{dashboard}");
        let report = load_texts(&[(PathBuf::from("spec.yaml"), text)]);
        let first = report.first_error().map(ToString::to_string);
        assert_eq!(
            first.as_deref(),
            Some(*want),
            "{name}: {:#?}",
            report.diagnostics
        );
        assert!(report.catalog.service("shop").is_none(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Queries, checked in Prometheus

/// 100 requests/s, 20% answered 500, 10% slower than 500 ms: the scenario's histogram puts
/// 22.5% of requests at or below 50 ms, 45% at 100 ms, 67.5% at 250 ms, 90% at 500 ms and
/// all of them at 1 s.
fn scenario() -> Scenario {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Scenario {
        start: now - 3600,
        step: 15,
        workloads: vec![Workload {
            service: "web".to_string(),
            version: None,
            segments: vec![Segment {
                seconds: 3600,
                rps: 100.0,
                error_ratio: 0.2,
                slow_ratio: 0.1,
            }],
        }],
    }
}

/// Percentiles by linear interpolation inside the bucket holding the rank, as
/// `histogram_quantile` does: p50 lies in (0.1, 0.25] (45% to 67.5%), p95 and p99 in (0.5, 1]
/// (90% to 100%).
const P50: f64 = 0.1 + 0.15 * (0.50 - 0.45) / 0.225;
const P95: f64 = 0.5 + 0.5 * (0.95 - 0.90) / 0.10;
const P99: f64 = 0.5 + 0.5 * (0.99 - 0.90) / 0.10;

const SPEC_START: &str = "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: web\n";

/// The traffic row said in `dashboard:`, with an alert only (no SLI to derive from).
const EXPLICIT: &str = r#"alerts:
  - {name: WebDown, expr: up == 0, tier: page}
dashboard:
  requests: sum(rate(http_requests_total{service="web"}[{{window}}]))
  errors: sum(rate(http_requests_total{service="web",code=~"5.."}[{{window}}]))
  latency:
    histogram: http_request_duration_seconds
    selector: '{service="web"}'
"#;

/// The traffic row derived from an events SLI and a latency SLI.
const DERIVED: &str = r#"slos:
  - name: availability
    objective: 99
    sli:
      events:
        errors: sum(rate(http_requests_total{service="web",code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total{service="web"}[{{window}}]))
  - name: latency
    objective: 95
    sli:
      latency:
        histogram: http_request_duration_seconds
        selector: '{service="web"}'
        threshold: 500ms
"#;

fn service(body: &str) -> ServiceLevels {
    let report = load_texts(&[(PathBuf::from("web.yaml"), format!("{SPEC_START}{body}"))]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    report.catalog.service("web").expect("loaded").clone()
}

/// The traffic row's panels of the service's dashboard: `(title, [(legend, expr)])`.
fn traffic_panels(service: &ServiceLevels) -> Vec<(String, Vec<(String, String)>)> {
    let dashboard = serde_json::to_value(service_dashboard(service)).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let row = panels
        .iter()
        .position(|p| p["type"] == "row" && p["title"] == traffic::ROW_TITLE)
        .expect("a traffic row");
    assert_eq!(row, 0, "the traffic row comes first");
    panels[row + 1..]
        .iter()
        .take_while(|p| p["type"] != "row")
        .map(|p| {
            let targets = p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let text = |k: &str| t[k].as_str().unwrap().to_string();
                    (text("legendFormat"), text("expr"))
                })
                .collect();
            (p["title"].as_str().unwrap().to_string(), targets)
        })
        .collect()
}

/// The single value of an instant query at `time`.
fn query(prometheus: &PrometheusGuard, expr: &str, time: i64) -> f64 {
    let body: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/query", prometheus.url))
        .query(&[("query", expr), ("time", &time.to_string())])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let result = body["data"]["result"].as_array().unwrap_or_else(|| {
        panic!("{expr}: {body}");
    });
    assert_eq!(result.len(), 1, "{expr}: {body}");
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn the_traffic_panels_return_the_request_rate_error_ratio_and_percentiles_of_known_traffic() {
    let scenario = scenario();
    let prometheus = PrometheusGuard::start(&scenario);
    // Well inside the data: the 5m window holds 20 samples of linear counters.
    let at = scenario.end() - 60;
    for (name, body) in [("explicit", EXPLICIT), ("derived", DERIVED)] {
        let panels = traffic_panels(&service(body));
        let titles: Vec<&str> = panels.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            titles,
            [
                traffic::titles::REQUESTS,
                traffic::titles::ERRORS,
                traffic::titles::LATENCY
            ],
            "{name}"
        );
        let want = [
            ("requests", 100.0),
            ("error ratio", 0.2),
            ("p50", P50),
            ("p95", P95),
            ("p99", P99),
        ];
        let got: Vec<(&str, &str)> = panels
            .iter()
            .flat_map(|(_, targets)| targets.iter().map(|(l, e)| (l.as_str(), e.as_str())))
            .collect();
        assert_eq!(got.len(), want.len(), "{name}: {got:#?}");
        for ((legend, expr), (want_legend, want_value)) in got.into_iter().zip(want) {
            assert_eq!(legend, want_legend, "{name}");
            let value = query(&prometheus, expr, at);
            assert!(
                (value - want_value).abs() < 1e-9 * want_value.max(1.0),
                "{name} {legend}: {value} != {want_value}\n{expr}"
            );
        }
    }
}

#[test]
fn the_percentile_queries_are_the_classic_bucket_sum_or_the_native_histogram() {
    let mut histogram = HistogramRef {
        histogram: "http_request_duration_seconds".to_string(),
        matchers: "service=\"web\"".to_string(),
        kind: HistogramKind::Classic,
    };
    assert_eq!(
        histogram.quantile("0.95"),
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service=\"web\"}[5m])))"
    );
    assert_eq!(
        histogram.request_rate(),
        "sum(rate(http_request_duration_seconds_count{service=\"web\"}[5m]))"
    );
    histogram.kind = HistogramKind::Native;
    assert_eq!(
        histogram.quantile("0.95"),
        "histogram_quantile(0.95, sum(rate(http_request_duration_seconds{service=\"web\"}[5m])))"
    );
    assert_eq!(
        histogram.request_rate(),
        "sum(histogram_count(rate(http_request_duration_seconds{service=\"web\"}[5m])))"
    );
}

#[test]
fn a_native_latency_sli_gives_native_percentiles_and_a_raw_ratio_only_service_no_row() {
    let native = service(
        "slos:\n  - name: latency\n    objective: 95\n    sli:\n      latency:\n        histogram: rpc_duration_seconds\n        type: native\n        threshold: 250ms\n",
    );
    let panels = traffic_panels(&native);
    let titles: Vec<&str> = panels.iter().map(|(t, _)| t.as_str()).collect();
    // No events SLI: the request rate is the histogram's count, and no error rate is known.
    assert_eq!(
        titles,
        [traffic::titles::REQUESTS, traffic::titles::LATENCY]
    );
    assert_eq!(
        panels[0].1[0].1,
        "sum(histogram_count(rate(rpc_duration_seconds{}[5m])))"
    );
    assert!(
        panels[1].1[2]
            .1
            .starts_with("histogram_quantile(0.99, sum(rate(rpc_duration_seconds{}[5m])))")
    );

    let raw = service(
        "slos:\n  - name: availability\n    objective: 99\n    sli:\n      raw:\n        error_ratio: sum(rate(e[{{window}}])) / sum(rate(t[{{window}}]))\n",
    );
    let dashboard = serde_json::to_value(service_dashboard(&raw)).unwrap();
    assert!(
        !dashboard.to_string().contains(traffic::ROW_TITLE),
        "nothing to show, so no traffic row"
    );
}
