//! The Prometheus client every evaluator uses: instant and range PromQL queries over the HTTP
//! API (through `prometheus-http-query`), made dependable enough to gate a rollout on.
//!
//! - Every attempt has a deadline ([`PrometheusSettings::query_timeout`]), enforced here and
//!   also passed to Prometheus as its `timeout` parameter, so a slow query is abandoned on both
//!   sides instead of piling up in Prometheus after we gave up on it.
//! - Transient failures (unreachable, timeout, 5xx, an answer that is not the API's JSON) are
//!   retried a bounded number of times with capped exponential backoff; a rejected query (bad
//!   PromQL, 4xx) is not, since it would fail the same way again.
//! - Errors name the failing query and the cause, and never carry credentials: the URL's
//!   `user:password@` becomes a basic-auth header (by reqwest) and is cut from every message.
//! - [`PrometheusSource`] is an `Arc` inside: clone it freely, share it across tasks. It is the
//!   one door to Prometheus: every query of the process, from every clone, first takes a permit
//!   of one [`QueryBudget`] (see [`budget`]), at the priority of the clone that sends it
//!   ([`PrometheusSource::with_priority`]: gates before pages and reports).
//!
//! Queries are sent with POST (a form body, as Grafana does) so that long PromQL (many
//! windows, big regexes) never hits a URL length limit in Prometheus or a proxy in front of it.

mod answer;
pub mod budget;
mod decode;
mod door;
mod error;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_http_query::Client;

use crate::telemetry::names;

pub use budget::{BudgetSettings, Priority, QueryBudget};
pub use door::QuerySource;
pub use error::{SettingsError, SourceError, redact};

/// The longest pause between two attempts, whatever the configured backoff: a gate waits on
/// these queries while Argo or Flagger wait on the gate, so retries must stay short.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How many queries of one [`PrometheusSource::instant_all`] are started at once. Enough to
/// fetch a service's windows in one or two round trips; what bounds the process as a whole is
/// the [`QueryBudget`], which every query passes.
pub const MAX_CONCURRENT_QUERIES: usize = 8;

/// How to reach Prometheus and how patient to be with it.
#[derive(Clone, PartialEq, Eq)]
pub struct PrometheusSettings {
    /// Base URL, e.g. `http://prometheus:9090` or `https://user:password@host/prometheus` (the
    /// credentials go in a basic-auth header and never into a message).
    pub url: String,
    /// Deadline of one attempt (sending, Prometheus' evaluation, reading the answer).
    pub query_timeout: Duration,
    /// Extra attempts after a transient failure; `0` sends each query once.
    pub retries: u32,
    /// Pause before the first retry, doubled for each later one and capped at [`MAX_BACKOFF`].
    pub backoff: Duration,
    /// Queries in flight at most across the process, and how many of them only gates take.
    pub budget: BudgetSettings,
}

impl Default for PrometheusSettings {
    /// A local Prometheus, 4s per attempt, 2 retries 100ms then 200ms apart: a query gives up
    /// after about 12.3s at worst ([`PrometheusSettings::worst_case`]).
    fn default() -> Self {
        PrometheusSettings {
            url: "http://127.0.0.1:9090".to_string(),
            query_timeout: Duration::from_secs(4),
            retries: 2,
            backoff: Duration::from_millis(100),
            budget: BudgetSettings::default(),
        }
    }
}

impl fmt::Debug for PrometheusSettings {
    /// Written by hand so that settings in a log line never show the URL's password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusSettings")
            .field("url", &error::redact(&self.url))
            .field("query_timeout", &self.query_timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("budget", &self.budget)
            .finish()
    }
}

impl PrometheusSettings {
    /// The pause before retry number `retry` (1 for the first): `backoff * 2^(retry-1)`, at
    /// most [`MAX_BACKOFF`].
    pub fn backoff_before(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }

    /// The longest one query can take: every attempt running into its timeout, plus every
    /// pause. Callers with their own deadline (a gate answering Argo) size it from this.
    pub fn worst_case(&self) -> Duration {
        let attempts = self.retries.saturating_add(1);
        let pauses = (1..=self.retries).fold(Duration::ZERO, |total, retry| {
            total.saturating_add(self.backoff_before(retry))
        });
        self.query_timeout
            .saturating_mul(attempts)
            .saturating_add(pauses)
    }
}

/// One series of an instant query's answer (or a scalar, with no labels).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels, `__name__` included when Prometheus kept it; sorted so that output
    /// built from them is deterministic.
    pub labels: BTreeMap<String, String>,
    /// The value as Prometheus computed it: NaN and infinities included, for the caller to judge.
    pub value: f64,
}

/// One series of a range query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels, sorted as in [`Sample::labels`].
    pub labels: BTreeMap<String, String>,
    /// `(unix seconds, value)` in time order, one per step where the series had a value.
    pub points: Vec<(i64, f64)>,
}

/// A Prometheus HTTP API client with timeouts, retries and a request count. Cheap to clone:
/// clones share the connection pool and the count.
#[derive(Clone)]
pub struct PrometheusSource {
    /// Shared so that a server can hand one source to every request handler.
    inner: Arc<Inner>,
    /// Which permits this clone's queries take ([`Priority::Status`] unless a gate asked for
    /// its own clone): the one thing clones do not share.
    priority: Priority,
}

struct Inner {
    /// The HTTP client, holding the connection pool (and the credentials, as a header).
    client: Client,
    /// Timeouts and retry policy, read on every query.
    settings: PrometheusSettings,
    /// The base URL without credentials, for messages and `Debug`.
    display_url: String,
    /// Requests sent so far (retries included), so callers and tests can bound round trips.
    round_trips: AtomicU64,
    /// The permits every query of every clone takes first.
    budget: QueryBudget,
}

impl fmt::Debug for PrometheusSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusSource")
            .field("settings", &self.inner.settings)
            .field("round_trips", &self.round_trips())
            .field("priority", &self.priority)
            .finish()
    }
}

impl PrometheusSource {
    /// A source for `settings`; checks the URL and the timeout, sends nothing yet.
    pub fn new(settings: PrometheusSettings) -> Result<Self, SettingsError> {
        let display_url = error::redact(&settings.url);
        let invalid = |reason: String| SettingsError::InvalidUrl {
            url: display_url.clone(),
            reason,
        };
        let url = reqwest::Url::parse(&settings.url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "the scheme is {:?}; it must be http or https",
                url.scheme()
            )));
        }
        if settings.query_timeout < Duration::from_millis(1) {
            // Prometheus' `timeout` parameter counts milliseconds: less would mean "none".
            return Err(SettingsError::Timeout {
                timeout: settings.query_timeout,
            });
        }
        let http = reqwest::Client::builder()
            // The pool may go on connecting after the attempt that asked for the connection
            // timed out; this bounds that too, so no connect to a black-holed address lingers.
            .connect_timeout(settings.query_timeout)
            .build()
            .map_err(|e| SettingsError::Client {
                reason: error::redact(&error::causes(&e)),
            })?;
        // The library appends `/api/v1/...` to the base path with a `/`: a trailing one in the
        // setting would double it, which proxies in front of Prometheus may not forgive.
        let base = settings.url.trim_end_matches('/');
        let client =
            Client::from(http, base).map_err(|e| invalid(error::redact(&e.to_string())))?;
        if let Some((setting, message)) = settings.budget.problem() {
            return Err(SettingsError::Budget { setting, message });
        }
        let budget = QueryBudget::new(settings.budget);
        Ok(PrometheusSource {
            inner: Arc::new(Inner {
                client,
                settings,
                display_url,
                round_trips: AtomicU64::new(0),
                budget,
            }),
            // Anything not marked as a gate waits behind gates: the safe side to forget on.
            priority: Priority::Status,
        })
    }

    /// A clone whose queries take permits at `priority` (same connection pool, budget and
    /// count).
    pub fn with_priority(&self, priority: Priority) -> Self {
        PrometheusSource {
            inner: self.inner.clone(),
            priority,
        }
    }

    /// The budget every clone's queries share (its permits in flight, for metrics and tests).
    pub fn budget(&self) -> &QueryBudget {
        &self.inner.budget
    }

    /// One instant query at `at` (unix seconds). Scalars become one Sample with no labels. NaN
    /// values are returned as they are (the caller decides).
    pub async fn instant(&self, query: &str, at: i64) -> Result<Vec<Sample>, SourceError> {
        let timeout_ms = self.timeout_ms();
        let result = self
            .with_retries(query, || {
                self.inner
                    .client
                    .query(query)
                    .at(at)
                    .timeout(timeout_ms)
                    .post_raw()
            })
            .await?;
        decode::instant(query, result)
    }

    /// Many instant queries at once (concurrently, not one after another, at most
    /// [`MAX_CONCURRENT_QUERIES`] started together); results in input order.
    pub async fn instant_all(
        &self,
        queries: &[String],
        at: i64,
    ) -> Vec<Result<Vec<Sample>, SourceError>> {
        QuerySource::instant_all(self, queries, at).await
    }

    /// A range query from `start` to `end` (unix seconds, both included) every `step`; canary
    /// analysis uses it. Timestamps are whole seconds, so use whole-second steps.
    pub async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: Duration,
    ) -> Result<Vec<Series>, SourceError> {
        let timeout_ms = self.timeout_ms();
        let result = self
            .with_retries(query, || {
                self.inner
                    .client
                    .query_range(query, start, end, step.as_secs_f64())
                    .timeout(timeout_ms)
                    .post_raw()
            })
            .await?;
        decode::range(query, result)
    }

    /// HTTP requests sent since creation (retries included, summed over clones), so callers and
    /// tests can bound round trips.
    pub fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    /// The Prometheus URL without its credentials, for messages.
    pub fn url(&self) -> &str {
        &self.inner.display_url
    }

    /// The attempt timeout as Prometheus' `timeout` parameter (milliseconds).
    fn timeout_ms(&self) -> i64 {
        i64::try_from(self.inner.settings.query_timeout.as_millis()).unwrap_or(i64::MAX)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent; each attempt
    /// is one HTTP request under the query timeout.
    async fn with_retries<F, Fut>(
        &self,
        query: &str,
        attempt: F,
    ) -> Result<answer::Data, SourceError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<reqwest::Response, prometheus_http_query::Error>>,
    {
        let settings = &self.inner.settings;
        let mut retry = 0;
        loop {
            // Per attempt, not across the pause before a retry: a waiting permit is one a gate
            // could use. The wait is not part of the attempt's timeout (Prometheus is not
            // slow; slogate is busy), and callers bound it with their own deadline.
            let permit = self.inner.budget.acquire(self.priority).await;
            let in_flight = metrics::gauge!(names::PROMETHEUS_IN_FLIGHT);
            in_flight.set(self.inner.budget.in_flight() as f64);
            self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
            let started = std::time::Instant::now();
            let answered = async {
                let response = attempt()
                    .await
                    .map_err(|e| error::classify(query, e, settings.query_timeout))?;
                answer::read(query, response, settings.query_timeout).await
            };
            let outcome = match tokio::time::timeout(settings.query_timeout, answered).await {
                Ok(answer) => answer,
                Err(_elapsed) => Err(SourceError::Timeout {
                    query: query.to_string(),
                    after: settings.query_timeout,
                }),
            };
            let result = if outcome.is_ok() { "ok" } else { "error" };
            metrics::histogram!(names::PROMETHEUS_QUERY_DURATION, "outcome" => result)
                .record(started.elapsed().as_secs_f64());
            drop(permit);
            in_flight.set(self.inner.budget.in_flight() as f64);
            match outcome {
                Err(e) if e.is_transient() && retry < settings.retries => {
                    retry += 1;
                    tokio::time::sleep(settings.backoff_before(retry)).await;
                }
                // The last attempt's error is the one reported: it is the freshest news.
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let settings = PrometheusSettings::default();
        let pauses: Vec<u128> = (1..=6)
            .map(|r| settings.backoff_before(r).as_millis())
            .collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(settings.backoff_before(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn worst_case_counts_every_attempt_and_pause() {
        let settings = PrometheusSettings::default();
        assert_eq!(
            settings.worst_case(),
            Duration::from_millis(3 * 4000 + 100 + 200)
        );
        let once = PrometheusSettings {
            retries: 0,
            ..settings
        };
        assert_eq!(once.worst_case(), Duration::from_secs(4));
    }

    #[test]
    fn settings_debug_hides_the_password() {
        let settings = PrometheusSettings {
            url: "https://slogate:hunter2@prometheus.example/prom".into(),
            ..PrometheusSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let source = PrometheusSource::new(settings).unwrap();
        let shown = format!("{source:?} {}", source.url());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("prometheus.example/prom"), "{shown}");
    }

    #[test]
    fn bad_settings_are_refused_without_the_password() {
        for (url, timeout) in [
            ("ftp://u:hunter2@host", Duration::from_secs(1)),
            ("http://u:hunter2@[::1", Duration::from_secs(1)),
            ("not a url", Duration::from_secs(1)),
            ("http://u:hunter2@host", Duration::ZERO),
        ] {
            let settings = PrometheusSettings {
                url: url.into(),
                query_timeout: timeout,
                ..PrometheusSettings::default()
            };
            let error = PrometheusSource::new(settings).unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
        }
    }
}
