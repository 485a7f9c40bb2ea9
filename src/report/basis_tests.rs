//! The catalog-wide basis of a report run through a canned Prometheus: the figures follow
//! from the recorded means, SLOs not read from rules are left to the per-service road, and the
//! number of queries does not grow with the SLOs.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;

use super::*;
use crate::analysis::slo::GatePolicy;
use crate::evaluate::catalog::StatusCache;
use crate::source::prometheus::QuerySource;
use crate::spec::load_texts;

fn definitions(services: usize) -> String {
    (0..services)
        .map(|i| {
            format!(
                r#"apiVersion: slogate/v1
kind: ServiceLevels
service: shop-{i}
slos:
  - name: availability
    objective: 99
    period: 7d
    sli:
      events:
        errors: sum(rate(http_requests_total{{service="shop",code="500"}}[{{{{window}}}}]))
        total: sum(rate(http_requests_total{{service="shop"}}[{{{{window}}}}]))
  - name: ratio
    objective: 99.5
    period: 7d
    sli:
      raw:
        error_ratio: avg(rate(errors_ratio[{{{{window}}}}]))
"#
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Recording rules loaded for `with_rules` (their meta series: objective and period); every
/// recorded metric answers for every SLO. Means: error rate 0.02/s of 20/s (SLI 0.999), error
/// ratio 0.004 (SLI 0.996); the recorded period ratio 0.0005 at every hour; no alerts.
#[derive(Default)]
struct Recordings {
    services: usize,
    with_rules: BTreeSet<(String, String)>,
    asked: Mutex<Vec<String>>,
}

impl Recordings {
    fn rows(&self, value: f64) -> Vec<Sample> {
        self.rows_of(value, |_| true)
    }

    fn rows_of(&self, value: f64, keep: impl Fn(&(String, String)) -> bool) -> Vec<Sample> {
        (0..self.services)
            .flat_map(|i| ["availability", "ratio"].map(move |slo| (format!("shop-{i}"), slo)))
            .map(|(s, slo)| (s, slo.to_string()))
            .filter(|key| keep(key))
            .map(|(service, slo)| Sample {
                value: match slo.as_str() {
                    _ if value >= 0.0 => value,
                    // The meta series: each SLO's own objective.
                    "availability" => 0.99,
                    _ => 0.995,
                },
                labels: [
                    (LABEL_SERVICE.to_string(), service),
                    (LABEL_SLO.to_string(), slo),
                ]
                .into(),
            })
            .collect()
    }
}

impl QuerySource for Recordings {
    fn instant<'a>(
        &'a self,
        query: &'a str,
        _at: i64,
    ) -> BoxFuture<'a, Result<Vec<Sample>, SourceError>> {
        self.asked.lock().unwrap().push(query.to_string());
        let rows = if query == "slogate:objective:ratio" {
            self.rows_of(-1.0, |k| self.with_rules.contains(k))
        } else if query == "slogate:time_period:days" {
            self.rows_of(7.0, |k| self.with_rules.contains(k))
        } else if !query.contains("slogate:") {
            Vec::new() // raw SLI queries: no data
        } else if query.contains(":sli_errors:") {
            self.rows(0.02)
        } else if query.contains(":sli_total:") {
            self.rows(20.0)
        } else {
            self.rows(0.004)
        };
        Box::pin(async move { Ok(rows) })
    }

    fn range<'a>(
        &'a self,
        query: &'a str,
        start: i64,
        end: i64,
        step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Series>, SourceError>> {
        self.asked.lock().unwrap().push(query.to_string());
        let series = if query.starts_with("ALERTS") {
            Vec::new()
        } else {
            self.rows(0.0)
                .into_iter()
                .map(|s| Series {
                    labels: s.labels,
                    points: (start..=end)
                        .step_by(step.as_secs() as usize)
                        .map(|t| (t, 0.0005))
                        .collect(),
                })
                .collect()
        };
        Box::pin(async move { Ok(series) })
    }

    fn url(&self) -> &str {
        "canned://"
    }
}

async fn basis_of(services: usize, from_rules: &[(&str, &str)]) -> (Arc<WeekBasis>, usize) {
    let report = load_texts(&[(PathBuf::from("shop.yaml"), definitions(services))]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let catalog = Arc::new(report.catalog);
    let source = Arc::new(Recordings {
        services,
        with_rules: from_rules
            .iter()
            .map(|(s, n)| (s.to_string(), n.to_string()))
            .collect(),
        ..Recordings::default()
    });
    let sources = Sources {
        prometheus: source.clone(),
        store: None,
        policy: GatePolicy::default(),
        status_cache: Arc::new(StatusCache::new(Duration::ZERO, Default::default())),
        basis: Default::default(),
    };
    let week: IsoWeek = "2026-W40".parse().unwrap();
    let tz: Tz = "UTC".parse().unwrap();
    let basis = sources
        .basis
        .get(&sources, &catalog, week, tz)
        .await
        .unwrap();
    // A second team's report of the same run asks nothing more.
    let asked = source.asked.lock().unwrap().len();
    sources
        .basis
        .get(&sources, &catalog, week, tz)
        .await
        .unwrap();
    assert_eq!(source.asked.lock().unwrap().len(), asked);
    (basis, asked)
}

#[tokio::test]
async fn figures_follow_from_the_recorded_means() {
    let (basis, _) = basis_of(1, &[("shop-0", "availability"), ("shop-0", "ratio")]).await;
    let week_secs = 7.0 * 86_400.0;
    let events = &basis.recorded[&("shop-0".to_string(), "availability".to_string())];
    assert!(
        (events.week.sli.unwrap() - 0.999).abs() < 1e-12,
        "{events:?}"
    );
    assert!((events.week.events.unwrap() - 20.0 * week_secs).abs() < 1e-6);
    assert!((events.previous.sli.unwrap() - 0.999).abs() < 1e-12);
    assert!((events.period_events.unwrap() - 20.0 * week_secs).abs() < 1e-6);
    // Hourly from Monday to Monday, inclusive: 169 points, each 1 - 0.0005/0.01.
    assert_eq!(events.burn_down.len(), 169);
    assert!(
        events
            .burn_down
            .iter()
            .all(|(_, r)| (r - 0.95).abs() < 1e-12)
    );
    let ratio = &basis.recorded[&("shop-0".to_string(), "ratio".to_string())];
    assert!((ratio.week.sli.unwrap() - 0.996).abs() < 1e-12, "{ratio:?}");
    assert_eq!(ratio.week.events, None, "a raw ratio counts no events");
}

#[tokio::test]
async fn only_slos_read_from_rules_are_gathered_and_queries_do_not_grow_with_slos() {
    let (basis, _) = basis_of(1, &[("shop-0", "availability")]).await;
    assert_eq!(
        basis.recorded.len(),
        1,
        "the ratio SLO keeps the per-service road"
    );
    assert_eq!(basis.at_end.provenance.source_of("shop-0", "ratio"), "raw");
    let (_, asked) = basis_of(1, &[("shop-0", "availability"), ("shop-0", "ratio")]).await;
    let all: Vec<(String, String)> = (0..50)
        .flat_map(|i| {
            [
                (format!("shop-{i}"), "availability"),
                (format!("shop-{i}"), "ratio"),
            ]
        })
        .map(|(s, n)| (s, n.to_string()))
        .collect();
    let keys: Vec<(&str, &str)> = all.iter().map(|(s, n)| (s.as_str(), n.as_str())).collect();
    let (many, asked_many) = basis_of(50, &keys).await;
    assert_eq!(many.recorded.len(), 100);
    // The catalog at the week's end from rules (2 meta queries, then the ratio over 8 windows
    // and the event rate over 7), then ALERTS, per shortest window 3 means x 2 weeks, the
    // period's events and the period's burn-down: 26 queries for two SLOs or a hundred.
    assert_eq!(asked, 26);
    assert_eq!(asked_many, 26);
}
