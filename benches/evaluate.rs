//! Does an SLO evaluation fan its queries out? On a 30-day scenario in a real Prometheus, the
//! wall time of one evaluation (all windows of two SLOs) is compared with the slowest of its
//! queries run alone. Fanned out, the ratio is close to 1; summed, it would be near the number
//! of queries.
//!
//! Run: `cargo bench --bench evaluate` (needs `prometheus` and `promtool`). Figures go in
//! docs/benchmarks.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use slogate::analysis::slo::{GatePolicy, selected};
use slogate::evaluate::evaluate_service;
use slogate::evaluate::plan::plan;
use slogate::source::{PrometheusSettings, PrometheusSource};
use slogate::spec::load_texts;
use support::prometheus::PrometheusGuard;
use support::scenario::{Scenario, Segment, Workload};

const DEFINITIONS: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: shop
slos:
  - name: availability
    objective: 99.9
    period: 30d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="shop",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="shop"}[{{window}}]))
  - name: latency
    objective: 95
    period: 30d
    sli:
      latency:
        histogram: http_request_duration_seconds
        selector: '{service="shop"}'
        threshold: 500ms
"#;

const RUNS: usize = 15;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let day = 86_400;
    let end = (chrono::Utc::now().timestamp() - 7200) / 60 * 60;
    let scenario = Scenario {
        start: end - 31 * day,
        step: 60,
        workloads: vec![Workload {
            service: "shop".into(),
            version: None,
            segments: vec![Segment {
                seconds: 31 * day as u64,
                rps: 50.0,
                error_ratio: 0.0005,
                slow_ratio: 0.02,
            }],
        }],
    };
    let backfill = Instant::now();
    let prometheus = PrometheusGuard::start(&scenario);
    println!(
        "backfilled and started Prometheus in {:?}",
        backfill.elapsed()
    );

    let report = load_texts(&[(PathBuf::from("shop.yaml"), DEFINITIONS.to_string())]);
    let catalog = report.catalog;
    let service = catalog.service("shop").unwrap();
    let plan = plan(&selected(service, None, &catalog.alert_windows));
    let source = PrometheusSource::new(PrometheusSettings {
        url: prometheus.url.clone(),
        query_timeout: Duration::from_secs(30),
        ..PrometheusSettings::default()
    })
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // Warm Prometheus' caches once, so neither side pays for the first read of the blocks.
        evaluate_service(
            &source,
            &catalog,
            service,
            None,
            end,
            &GatePolicy::default(),
        )
        .await;

        let mut per_query: Vec<(String, Duration)> = Vec::new();
        for (window, query) in &plan.queries {
            let mut times = Vec::new();
            for _ in 0..RUNS {
                let t = Instant::now();
                source.instant(query, end).await.unwrap();
                times.push(t.elapsed());
            }
            per_query.push((window.to_string(), median(times)));
        }
        let mut evaluations = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            evaluate_service(
                &source,
                &catalog,
                service,
                None,
                end,
                &GatePolicy::default(),
            )
            .await;
            evaluations.push(t.elapsed());
        }
        let evaluation = median(evaluations);
        let (slowest_window, slowest) = per_query.iter().max_by_key(|(_, d)| *d).unwrap().clone();
        let summed: Duration = per_query.iter().map(|(_, d)| *d).sum();
        for (window, d) in &per_query {
            println!("query {window:>6}: median {d:?}");
        }
        println!("queries per evaluation: {}", plan.queries.len());
        println!("slowest single query ({slowest_window}): {slowest:?}");
        println!("sum of the queries: {summed:?}");
        println!("evaluation (median of {RUNS}): {evaluation:?}");
        println!(
            "evaluation / slowest query = {:.2}",
            evaluation.as_secs_f64() / slowest.as_secs_f64()
        );
    });
}
