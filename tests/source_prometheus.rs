//! `source::prometheus` against a real Prometheus backfilled with known traffic: values in
//! closed form, the shapes of answers (vector, scalar, matrix, empty, NaN), and the failures a
//! gate must survive (bad PromQL, Prometheus gone, slow answers, a 503 on the way), each with
//! the number of HTTP requests it may cost.
//!
//! Tests share one Prometheus while they run side by side (see [`shared`]); only the test that
//! stops its server starts its own.

mod support;

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use slogate::source::prometheus::{PrometheusSettings, PrometheusSource, SourceError};
use support::prometheus::{PrometheusGuard, free_port};
use support::proxy::{Fault, FaultyProxy};
use support::scenario::{Scenario, Segment, Workload};

/// Requests per second of service `a`, 2% of them errors.
const RPS_A: f64 = 12.5;
const ERRORS_A: f64 = 0.02;
/// Requests per second of service `b`, no errors.
const RPS_B: f64 = 3.0;
/// How long the backfilled traffic lasts.
const TRAFFIC: u64 = 2 * 3600;

const RATE_A: &str = r#"sum(rate(http_requests_total{service="a"}[5m]))"#;

/// Two services at constant rates for two hours, ending two hours ago (backfilled data must end
/// at least an hour in the past); minute-aligned so steps land on samples.
fn scenario() -> Scenario {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now - 4 * 3600) / 60 * 60;
    let workload = |service: &str, rps: f64, error_ratio: f64| Workload {
        service: service.to_string(),
        version: None,
        segments: vec![Segment {
            seconds: TRAFFIC,
            rps,
            error_ratio,
            slow_ratio: 0.0,
        }],
    };
    Scenario {
        start,
        step: 15,
        workloads: vec![workload("a", RPS_A, ERRORS_A), workload("b", RPS_B, 0.0)],
    }
}

/// A Prometheus with [`scenario`] in it.
struct Backfilled {
    guard: PrometheusGuard,
    scenario: Scenario,
}

impl Backfilled {
    fn start() -> Backfilled {
        let scenario = scenario();
        Backfilled {
            guard: PrometheusGuard::start(&scenario),
            scenario,
        }
    }

    /// A time in the middle of the traffic, an hour after it began: every window up to an hour
    /// sees only steady traffic.
    fn mid(&self) -> i64 {
        self.scenario.start + 3600
    }
}

/// The Prometheus of the tests running now, started by the first of them. Only a weak reference
/// is kept here: the last test to finish drops the server, so no process outlives the tests
/// (statics are never dropped, so a static guard would leak one).
fn shared() -> Arc<Backfilled> {
    static SHARED: Mutex<Weak<Backfilled>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(running) = slot.upgrade() {
        return running;
    }
    let started = Arc::new(Backfilled::start());
    *slot = Arc::downgrade(&started);
    started
}

/// Patient enough for a loaded CI machine, quick to retry.
fn settings(url: &str) -> PrometheusSettings {
    PrometheusSettings {
        url: url.to_string(),
        query_timeout: Duration::from_secs(5),
        retries: 2,
        backoff: Duration::from_millis(10),
        ..PrometheusSettings::default()
    }
}

fn source(url: &str) -> PrometheusSource {
    PrometheusSource::new(settings(url)).unwrap()
}

fn assert_close(actual: f64, expected: f64) {
    let relative = ((actual - expected) / expected).abs();
    assert!(relative < 1e-9, "{actual} is not {expected}");
}

#[tokio::test]
async fn rate_of_a_steady_counter_is_its_request_rate() {
    let prometheus = shared();
    let source = source(&prometheus.guard.url);

    let total = source.instant(RATE_A, prometheus.mid()).await.unwrap();
    assert_eq!(total.len(), 1, "{total:?}");
    assert!(total[0].labels.is_empty(), "sum() keeps no labels");
    assert_close(total[0].value, RPS_A);

    let by_code = r#"sum by (code) (rate(http_requests_total{service="a"}[5m]))"#;
    let mut rows = source.instant(by_code, prometheus.mid()).await.unwrap();
    rows.sort_by(|x, y| x.labels.cmp(&y.labels));
    let codes: Vec<&str> = rows.iter().map(|s| s.labels["code"].as_str()).collect();
    assert_eq!(codes, ["200", "500"]);
    assert_close(rows[0].value, RPS_A * (1.0 - ERRORS_A));
    assert_close(rows[1].value, RPS_A * ERRORS_A);
}

#[tokio::test]
async fn instant_all_answers_in_order_with_one_request_each() {
    let prometheus = shared();
    let source = source(&prometheus.guard.url);
    let queries: Vec<String> = [
        RATE_A,
        r#"sum(rate(http_requests_total{service="b"}[30m]))"#,
        r#"sum(rate(http_requests_total{service="a",code="500"}[1h])) / sum(rate(http_requests_total{service="a"}[1h]))"#,
        "scalar(vector(7))",
        r#"sum(rate(http_requests_total{service="a"}[5m]))"#,
    ]
    .map(String::from)
    .to_vec();

    let results = source.instant_all(&queries, prometheus.mid()).await;

    let values: Vec<f64> = results
        .into_iter()
        .map(|r| {
            let samples = r.unwrap();
            assert_eq!(samples.len(), 1, "{samples:?}");
            samples[0].value
        })
        .collect();
    let expected = [RPS_A, RPS_B, ERRORS_A, 7.0, RPS_A];
    for (value, expected) in values.into_iter().zip(expected) {
        assert_close(value, expected);
    }
    assert_eq!(source.round_trips(), queries.len() as u64);
}

#[tokio::test]
async fn instant_all_sends_its_queries_at_once() {
    // The proxy answers nobody until four requests are open at once: sent one after another,
    // the first would wait for its timeout and fail.
    let prometheus = shared();
    let proxy = FaultyProxy::start(&prometheus.guard.url, Fault::Gather(4)).await;
    let source = PrometheusSource::new(PrometheusSettings {
        retries: 0,
        ..settings(&proxy.url)
    })
    .unwrap();
    let queries = vec![RATE_A.to_string(); 4];

    let results = source.instant_all(&queries, prometheus.mid()).await;

    for result in results {
        assert_close(result.unwrap()[0].value, RPS_A);
    }
    assert_eq!(proxy.connections(), 4);
}

#[tokio::test]
async fn range_query_has_one_point_per_step() {
    let prometheus = shared();
    let source = source(&prometheus.guard.url);
    let start = prometheus.mid();
    let end = start + 600;

    let series = source
        .range(RATE_A, start, end, Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(series.len(), 1, "{series:?}");
    let times: Vec<i64> = series[0].points.iter().map(|(t, _)| *t).collect();
    let expected: Vec<i64> = (0..=10).map(|i| start + 60 * i).collect();
    assert_eq!(times, expected);
    for (_, value) in &series[0].points {
        assert_close(*value, RPS_A);
    }
    assert_eq!(source.round_trips(), 1);
}

#[tokio::test]
async fn a_query_matching_nothing_is_an_empty_answer() {
    let prometheus = shared();
    let source = source(&prometheus.guard.url);
    let nothing = r#"sum by (service) (rate(http_requests_total{service="nobody"}[5m]))"#;

    assert_eq!(source.instant(nothing, prometheus.mid()).await.unwrap(), []);
    let range = source
        .range(
            nothing,
            prometheus.mid(),
            prometheus.mid() + 60,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(range, []);
}

#[tokio::test]
async fn zero_divided_by_zero_is_a_nan_sample() {
    let prometheus = shared();
    let source = source(&prometheus.guard.url);

    let samples = source.instant("0/0", prometheus.mid()).await.unwrap();

    assert_eq!(samples.len(), 1, "{samples:?}");
    assert!(samples[0].labels.is_empty());
    assert!(samples[0].value.is_nan(), "{}", samples[0].value);
}

#[tokio::test]
async fn bad_promql_is_rejected_and_not_retried() {
    let prometheus = shared();
    let source = source(&prometheus.guard.url);
    let bad = "sum(rate(http_requests_total[5m])";

    let error = source.instant(bad, prometheus.mid()).await.unwrap_err();

    let SourceError::Rejected { query, message } = &error else {
        panic!("expected a rejection, got {error:?}");
    };
    assert_eq!(query, bad);
    assert!(message.contains("parse error"), "{message}");
    assert!(error.to_string().contains(bad), "{error}");
    assert!(!error.is_transient());
    assert_eq!(source.round_trips(), 1, "a rejection is never retried");
}

#[tokio::test]
async fn a_range_selector_in_an_instant_query_is_rejected() {
    let prometheus = shared();
    let source = source(&prometheus.guard.url);
    let range = r#"http_requests_total{service="a"}[5m]"#;

    let error = source.instant(range, prometheus.mid()).await.unwrap_err();

    assert!(matches!(error, SourceError::Rejected { .. }), "{error:?}");
    assert!(error.to_string().contains("range vector"), "{error}");
    assert_eq!(source.round_trips(), 1);
}

#[tokio::test]
async fn a_stopped_prometheus_is_unreachable_after_every_attempt() {
    // Its own server: stopping the shared one would break the other tests.
    let mut prometheus = Backfilled::start();
    let settings = settings(&prometheus.guard.url);
    let source = PrometheusSource::new(settings.clone()).unwrap();
    source.instant(RATE_A, prometheus.mid()).await.unwrap();
    prometheus.guard.stop();

    let error = source.instant(RATE_A, prometheus.mid()).await.unwrap_err();

    let SourceError::Unreachable { query, reason } = &error else {
        panic!("expected unreachable, got {error:?}");
    };
    assert_eq!(query, RATE_A);
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
    assert!(error.is_transient());
    assert_eq!(source.round_trips(), 1 + 1 + u64::from(settings.retries));
}

#[tokio::test]
async fn a_slow_answer_times_out_naming_the_query() {
    let prometheus = shared();
    let settings = PrometheusSettings {
        query_timeout: Duration::from_millis(300),
        retries: 1,
        ..settings("")
    };
    // Far beyond the timeout; the proxy (and the answers it holds) goes when the test ends.
    let proxy =
        FaultyProxy::start(&prometheus.guard.url, Fault::Delay(Duration::from_secs(60))).await;
    let source = PrometheusSource::new(PrometheusSettings {
        url: proxy.url.clone(),
        ..settings.clone()
    })
    .unwrap();

    let started = Instant::now();
    let error = source.instant(RATE_A, prometheus.mid()).await.unwrap_err();
    let took = started.elapsed();

    let SourceError::Timeout { query, after } = &error else {
        panic!("expected a timeout, got {error:?}");
    };
    assert_eq!(query, RATE_A);
    assert_eq!(*after, settings.query_timeout);
    assert!(error.to_string().contains(RATE_A), "{error}");
    assert_eq!(source.round_trips(), 1 + u64::from(settings.retries));
    assert_eq!(proxy.connections(), 2, "a timed-out attempt is not reused");
    // Timers never fire early, so every attempt took its full timeout; the upper bound leaves
    // seconds of slack for a loaded machine but is far below the proxy's 60s delay.
    assert!(took >= settings.query_timeout * 2, "{took:?}");
    assert!(
        took < settings.worst_case() + Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_503_is_retried_and_the_query_succeeds() {
    let prometheus = shared();
    let proxy = FaultyProxy::start(&prometheus.guard.url, Fault::Unavailable { first: 1 }).await;
    let source = source(&proxy.url);

    let samples = source.instant(RATE_A, prometheus.mid()).await.unwrap();

    assert_close(samples[0].value, RPS_A);
    assert_eq!(source.round_trips(), 2);
    assert_eq!(proxy.connections(), 2);
}

#[tokio::test]
async fn a_lasting_503_fails_after_every_attempt() {
    let prometheus = shared();
    let proxy = FaultyProxy::start(
        &prometheus.guard.url,
        Fault::Unavailable { first: usize::MAX },
    )
    .await;
    let settings = settings(&proxy.url);
    let source = PrometheusSource::new(settings.clone()).unwrap();

    let error = source.instant(RATE_A, prometheus.mid()).await.unwrap_err();

    let SourceError::Failed { query, message } = &error else {
        panic!("expected a failure, got {error:?}");
    };
    assert_eq!(query, RATE_A);
    assert!(message.contains("503"), "{message}");
    assert_eq!(source.round_trips(), 1 + u64::from(settings.retries));
}

#[tokio::test]
async fn credentials_in_the_url_never_reach_a_message() {
    // Prometheus ignores the basic-auth header they become; an error must still not show them.
    let prometheus = shared();
    let with_password = |url: &str| url.replace("http://", "http://slogate:hunter2@");
    let source = source(&with_password(&prometheus.guard.url));
    let rejected = source.instant("sum(", prometheus.mid()).await.unwrap_err();
    let answered = source.instant(RATE_A, prometheus.mid()).await.unwrap();
    assert_close(answered[0].value, RPS_A);

    let nobody = format!("http://127.0.0.1:{}", free_port());
    let unreachable = PrometheusSource::new(PrometheusSettings {
        retries: 0,
        ..settings(&with_password(&nobody))
    })
    .unwrap();
    let refused = unreachable.instant(RATE_A, 0).await.unwrap_err();
    assert!(
        matches!(refused, SourceError::Unreachable { .. }),
        "{refused:?}"
    );

    for error in [rejected, refused] {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    for source in [source, unreachable] {
        let shown = format!("{source:?} {}", source.url());
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
