//! Catalog status from recording rules, through a canned Prometheus that answers recorded
//! metrics by name (and raw SLI queries with a marker value, so the tests can tell which road
//! each SLO took). The real Prometheus agreement is `tests/evaluate_rules.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;

use super::*;
use crate::evaluate::tests::DEFINITIONS; // the evaluation tests' shop: two 7-day SLOs
use crate::source::prometheus::{Series, SourceError};
use crate::spec::load_texts;
use crate::verdict::Outcome;

fn catalog() -> Catalog {
    let report = load_texts(&[(PathBuf::from("shop.yaml"), DEFINITIONS.to_string())]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report.catalog
}

/// Recorded series by metric name; raw queries answer an error ratio of 0.5 (a burning SLO)
/// for every SLO they name, so a status from raw data fails and one from rules passes.
#[derive(Default)]
struct Recordings {
    series: BTreeMap<String, Vec<Sample>>,
    asked: Mutex<Vec<String>>,
}

impl Recordings {
    fn record(&mut self, metric: &str, slo: &str, value: f64) {
        self.series
            .entry(metric.to_string())
            .or_default()
            .push(Sample {
                labels: [
                    (LABEL_SERVICE.to_string(), "shop".to_string()),
                    (LABEL_SLO.to_string(), slo.to_string()),
                ]
                .into(),
                value,
            });
    }

    /// Current rules for `slo`: meta series and a healthy 0.1% error ratio at 40 req/s over
    /// every window the generator records for it (a 7-day period scales the alert windows:
    /// 7m, 14m, ... and `1w`).
    fn rules_for(&mut self, slo: &str, objective: f64) {
        self.record(METRIC_OBJECTIVE, slo, objective);
        self.record(METRIC_PERIOD_DAYS, slo, 7.0);
        let catalog = catalog();
        let shop = catalog.service("shop").unwrap();
        let (definition, windows) = slo::selected(shop, Some(slo), &catalog.alert_windows)
            .pop()
            .unwrap();
        for w in slo::needed_windows(definition, &windows) {
            self.record(&sli_error_ratio_metric(&w.to_string()), slo, 0.001);
        }
        for w in windows.distinct_windows() {
            self.record(&sli_total_rate_metric(&w.to_string()), slo, 40.0);
        }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }

    fn raw_queries(&self) -> usize {
        self.asked()
            .iter()
            .filter(|q| !q.contains("slogate:"))
            .count()
    }
}

impl QuerySource for Recordings {
    fn instant<'a>(
        &'a self,
        query: &'a str,
        _at: i64,
    ) -> BoxFuture<'a, Result<Vec<Sample>, SourceError>> {
        self.asked.lock().unwrap().push(query.to_string());
        // Window queries wrap the recorded metric in `max by (...) (...)`.
        let metric = query
            .strip_prefix("max by (slo_service, slo_name) (")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or(query);
        let answer = if metric.starts_with("slogate:") {
            self.series.get(metric).cloned().unwrap_or_default()
        } else {
            ["availability", "checkout"]
                .into_iter()
                .filter(|slo| {
                    query.contains(&format!(
                        "\"{}\", \"{slo}\"",
                        crate::evaluate::plan::LABEL_SLO
                    ))
                })
                .flat_map(|slo| {
                    [("ratio", 0.5), ("rate", 40.0)].map(|(part, value)| Sample {
                        labels: [
                            (
                                crate::evaluate::plan::LABEL_SLO.to_string(),
                                slo.to_string(),
                            ),
                            (
                                crate::evaluate::plan::LABEL_PART.to_string(),
                                part.to_string(),
                            ),
                        ]
                        .into(),
                        value,
                    })
                })
                .collect()
        };
        Box::pin(async move { Ok(answer) })
    }

    fn range<'a>(
        &'a self,
        _query: &'a str,
        _start: i64,
        _end: i64,
        _step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Series>, SourceError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn url(&self) -> &str {
        "canned://"
    }
}

async fn run(source: &Recordings, mode: EvaluationMode) -> (Vec<SloStatus>, Provenance) {
    evaluate_catalog(source, &catalog(), &GatePolicy::default(), 1_000_000, mode).await
}

fn by_name<'a>(statuses: &'a [SloStatus], slo: &str) -> &'a SloStatus {
    statuses.iter().find(|s| s.slo == slo).unwrap()
}

#[tokio::test]
async fn current_rules_are_read_and_missing_ones_fall_back_to_raw_queries_with_the_reason() {
    let mut source = Recordings::default();
    source.rules_for("availability", 0.99);
    let (statuses, provenance) = run(&source, EvaluationMode::Auto).await;

    let availability = by_name(&statuses, "availability");
    assert_eq!(availability.verdict, Outcome::Pass, "{availability:?}");
    // 0.1% errors against a 1% budget: a tenth of the budget spent.
    let budget = availability.error_budget.unwrap();
    assert!((budget.consumed - 0.1).abs() < 1e-12, "{budget:?}");
    assert_eq!(provenance.source_of("shop", "availability"), "rules");

    let checkout = by_name(&statuses, "checkout");
    assert_eq!(
        checkout.verdict,
        Outcome::Fail,
        "raw data burns: {checkout:?}"
    );
    assert_eq!(provenance.source_of("shop", "checkout"), "raw");
    let note = provenance.note_of("shop", "checkout").unwrap();
    assert!(note.contains("no recording rules"), "{note}");
    assert_eq!(
        statuses.iter().map(|s| s.slo.as_str()).collect::<Vec<_>>(),
        ["availability", "checkout"],
        "catalog order"
    );
    assert!(source.raw_queries() > 0);
    let summary = provenance.summary(statuses.len());
    assert!(
        summary.starts_with("1 SLOs from recording rules, 1 from raw queries"),
        "{summary}"
    );
}

#[tokio::test]
async fn with_every_slo_recorded_no_raw_query_is_sent_and_queries_do_not_grow_with_slos() {
    let mut source = Recordings::default();
    source.rules_for("availability", 0.99);
    source.rules_for("checkout", 0.995);
    let (statuses, provenance) = run(&source, EvaluationMode::Auto).await;
    assert!(
        statuses.iter().all(|s| s.verdict == Outcome::Pass),
        "{statuses:?}"
    );
    assert_eq!(provenance.from_rules.len(), 2);
    assert_eq!(source.raw_queries(), 0);
    // Two meta queries, then per distinct window the ratio, and the event rate for the seven
    // alert windows (the period's total is not recorded).
    assert_eq!(source.asked().len(), 2 + 8 + 7, "{:?}", source.asked());
    let mut body = serde_json::json!({"slos": [{"service": "shop", "slo": "checkout"}]});
    provenance.annotate(&mut body);
    assert_eq!(body["slos"][0]["evaluated_from"], "rules");
    assert_eq!(body["evaluation"]["mode"], "auto");
    assert_eq!(body["evaluation"]["from_rules"], 2);
}

#[tokio::test]
async fn rules_out_of_date_or_recorded_twice_are_not_trusted() {
    let mut source = Recordings::default();
    // The definition says 99.5%; the deployed rules still record 99%.
    source.rules_for("checkout", 0.99);
    source.rules_for("availability", 0.99);
    source.record(METRIC_OBJECTIVE, "availability", 0.99);
    let (_, provenance) = run(&source, EvaluationMode::Auto).await;
    let stale = provenance.note_of("shop", "checkout").unwrap();
    assert!(
        stale.contains("out of date (objective 99% there, 99.5% in the definition)"),
        "{stale}"
    );
    let twice = provenance.note_of("shop", "availability").unwrap();
    assert!(twice.contains("several recorded series"), "{twice}");
    assert!(provenance.from_rules.is_empty());
}

#[tokio::test]
async fn rules_mode_never_falls_back_to_raw_queries() {
    let mut source = Recordings::default();
    source.rules_for("availability", 0.99);
    let (statuses, provenance) = run(&source, EvaluationMode::Rules).await;
    let checkout = by_name(&statuses, "checkout");
    assert_eq!(checkout.verdict, Outcome::Inconclusive);
    assert!(
        checkout
            .reason
            .starts_with("not evaluated (evaluation: rules): no recording rules"),
        "{}",
        checkout.reason
    );
    assert_eq!(by_name(&statuses, "availability").verdict, Outcome::Pass);
    assert_eq!(source.raw_queries(), 0);
    assert!(provenance.summary(2).contains("1 not evaluated"));
}

#[tokio::test]
async fn raw_mode_asks_no_recorded_metric() {
    let mut source = Recordings::default();
    source.rules_for("availability", 0.99);
    let (statuses, provenance) = run(&source, EvaluationMode::Raw).await;
    assert!(statuses.iter().all(|s| s.verdict == Outcome::Fail));
    assert!(source.asked().iter().all(|q| !q.contains("slogate:")));
    assert!(provenance.from_rules.is_empty());
}
