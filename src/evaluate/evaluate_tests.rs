//! Evaluation through the narrow interface, without a server: a table of canned answers
//! stands in for Prometheus (the integration tests hold the real one to the same results).
//! Also the status cache's sharing, counted in queries.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;

use super::catalog::{StatusCache, Wanted};
use super::rules::EvaluationMode;
use super::*;
use crate::source::prometheus::Series;
use crate::spec::load_texts;

pub(super) const DEFINITIONS: &str = r#"apiVersion: slogate/v1
kind: ServiceLevels
service: shop
slos:
  - name: availability
    objective: 99
    period: 7d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="shop",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="shop"}[{{window}}]))
  - name: checkout
    objective: 99.5
    period: 7d
    sli:
      events:
        errors: sum(rate(checkouts_total{outcome="error"}[{{window}}]))
        total: sum(rate(checkouts_total[{{window}}]))
"#;

fn catalog() -> Arc<Catalog> {
    let report = load_texts(&[(PathBuf::from("shop.yaml"), DEFINITIONS.to_string())]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    Arc::new(report.catalog)
}

/// Answers every SLO a query names with one error ratio and one event rate, or fails every
/// query as unreachable; counts the queries.
struct Canned {
    /// `None`: Prometheus is down.
    error_ratio: Option<f64>,
    queries: AtomicUsize,
}

impl Canned {
    fn new(error_ratio: Option<f64>) -> Arc<Canned> {
        Arc::new(Canned {
            error_ratio,
            queries: AtomicUsize::new(0),
        })
    }
}

impl QuerySource for Canned {
    fn instant<'a>(
        &'a self,
        query: &'a str,
        _at: i64,
    ) -> BoxFuture<'a, Result<Vec<Sample>, SourceError>> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let answer = match self.error_ratio {
            None => Err(SourceError::Unreachable {
                query: query.to_string(),
                reason: "connection refused".to_string(),
            }),
            Some(ratio) => Ok(["availability", "checkout"]
                .into_iter()
                .filter(|slo| query.contains(&format!("\"{LABEL_SLO}\", \"{slo}\"")))
                .flat_map(|slo| {
                    [("ratio", ratio), ("rate", 50.0)].map(|(part, value)| Sample {
                        labels: [(LABEL_SLO, slo), (LABEL_PART, part)]
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        value,
                    })
                })
                .collect()),
        };
        Box::pin(async move { answer })
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

async fn evaluate(source: &dyn QuerySource, catalog: &Catalog) -> Vec<SloStatus> {
    let shop = catalog.service("shop").unwrap();
    evaluate_service(
        source,
        catalog,
        shop,
        None,
        1_000_000,
        &GatePolicy::default(),
    )
    .await
}

#[tokio::test]
async fn a_healthy_service_passes_with_one_query_per_distinct_window() {
    let catalog = catalog();
    let source = Canned::new(Some(0.0001));
    let statuses = evaluate(source.as_ref(), &catalog).await;
    assert_eq!(statuses.len(), 2);
    for status in &statuses {
        assert_eq!(status.verdict, Outcome::Pass, "{status:?}");
        assert!(status.error_budget.unwrap().remaining > 0.9, "{status:?}");
    }
    let shop = catalog.service("shop").unwrap();
    let windows = plan::plan(&slo::selected(shop, None, &catalog.alert_windows))
        .queries
        .len();
    assert_eq!(source.queries.load(Ordering::SeqCst), windows);
}

#[tokio::test]
async fn an_unreachable_prometheus_is_inconclusive_never_pass() {
    let catalog = catalog();
    let statuses = evaluate(Canned::new(None).as_ref(), &catalog).await;
    for status in &statuses {
        assert_eq!(status.verdict, Outcome::Inconclusive, "{status:?}");
        assert!(status.reason.contains("unreachable"), "{}", status.reason);
    }
    let verdict = slo_gate_verdict("shop", &statuses, Utc::now());
    assert_eq!(verdict.verdict, Outcome::Inconclusive);
}

#[tokio::test]
async fn a_burning_service_fails() {
    let catalog = catalog();
    let statuses = evaluate(Canned::new(Some(0.5)).as_ref(), &catalog).await;
    assert!(
        statuses.iter().all(|s| s.verdict == Outcome::Fail),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn lookups_within_the_ttl_and_at_once_share_one_evaluation() {
    let catalog = catalog();
    let canned = Canned::new(Some(0.0001));
    let source: Arc<dyn QuerySource> = canned.clone();
    let cache = StatusCache::new(Duration::from_secs(3600), EvaluationMode::Raw);
    let policy = GatePolicy::default();
    let now = 1_000_000;
    let (a, b) = tokio::join!(
        cache.statuses(&source, &catalog, policy, Wanted::Latest { now }),
        cache.statuses(&source, &catalog, policy, Wanted::Latest { now }),
    );
    let one = canned.queries.load(Ordering::SeqCst);
    assert!(one > 0);
    assert!(Arc::ptr_eq(&a.unwrap(), &b.unwrap()), "one flight");
    let later = cache
        .statuses(&source, &catalog, policy, Wanted::Latest { now: now + 10 })
        .await
        .unwrap();
    assert_eq!(later.at, now, "ten seconds later, the same evaluation");
    assert_eq!(later.statuses.len(), 2);
    assert_eq!(canned.queries.load(Ordering::SeqCst), one);

    // A given time is its own key; so is a reloaded catalog.
    cache
        .statuses(&source, &catalog, policy, Wanted::At(now - 86_400))
        .await
        .unwrap();
    assert_eq!(canned.queries.load(Ordering::SeqCst), 2 * one);
    cache
        .statuses(&source, &self::catalog(), policy, Wanted::Latest { now })
        .await
        .unwrap();
    assert_eq!(canned.queries.load(Ordering::SeqCst), 3 * one);
}

#[tokio::test]
async fn without_a_ttl_every_lookup_evaluates() {
    let catalog = catalog();
    let canned = Canned::new(Some(0.0001));
    let source: Arc<dyn QuerySource> = canned.clone();
    let cache = StatusCache::new(Duration::ZERO, EvaluationMode::Raw);
    for _ in 0..2 {
        cache
            .statuses(
                &source,
                &catalog,
                GatePolicy::default(),
                Wanted::Latest { now: 5 },
            )
            .await
            .unwrap();
    }
    let shop = catalog.service("shop").unwrap();
    let windows = plan::plan(&slo::selected(shop, None, &catalog.alert_windows))
        .queries
        .len();
    assert_eq!(canned.queries.load(Ordering::SeqCst), 2 * windows);
}
