//! The narrow interface evaluation and reporting see of Prometheus: an instant query, a range
//! query, and the URL for messages. [`PrometheusSource`] is the one implementation that talks
//! to a server (with the query budget, timeouts and retries); a test can hand `evaluate` a
//! table of canned answers instead, and another engine (VictoriaMetrics, Thanos, Mimir) would be
//! one more implementation here, in one place.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};

use super::{MAX_CONCURRENT_QUERIES, PrometheusSource, Sample, Series, SourceError};

/// Instant and range PromQL queries. Object-safe (boxed futures), so `evaluate` and `report`
/// take `&dyn QuerySource` and the server holds one behind an `Arc`.
pub trait QuerySource: Send + Sync {
    /// One instant query at `at` (unix seconds); scalars become one sample without labels.
    fn instant<'a>(
        &'a self,
        query: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Vec<Sample>, SourceError>>;

    /// A range query from `start` to `end` (unix seconds, both included) every `step`.
    fn range<'a>(
        &'a self,
        query: &'a str,
        start: i64,
        end: i64,
        step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Series>, SourceError>>;

    /// Where the answers come from, without credentials (for reasons and inputs).
    fn url(&self) -> &str;

    /// Many instant queries at once (at most [`MAX_CONCURRENT_QUERIES`] started together);
    /// results in input order.
    fn instant_all<'a>(
        &'a self,
        queries: &'a [String],
        at: i64,
    ) -> BoxFuture<'a, Vec<Result<Vec<Sample>, SourceError>>> {
        // Each future owns its query: a future borrowing it through a closure's argument
        // would have to work for every lifetime of that borrow, which rustc cannot prove Send.
        let owned = queries.iter().cloned();
        Box::pin(
            stream::iter(owned.map(move |query| async move { self.instant(&query, at).await }))
                .buffered(MAX_CONCURRENT_QUERIES)
                .collect(),
        )
    }
}

impl QuerySource for PrometheusSource {
    fn instant<'a>(
        &'a self,
        query: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Vec<Sample>, SourceError>> {
        Box::pin(PrometheusSource::instant(self, query, at))
    }

    fn range<'a>(
        &'a self,
        query: &'a str,
        start: i64,
        end: i64,
        step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Series>, SourceError>> {
        Box::pin(PrometheusSource::range(self, query, start, end, step))
    }

    fn url(&self) -> &str {
        PrometheusSource::url(self)
    }
}
