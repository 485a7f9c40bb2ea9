//! The span store: per series (service, version, operation), time buckets of exact span and
//! error counts and a reservoir of durations, under one memory bound.
//!
//! One `Mutex` guards it all: decoding and checking spans (the expensive part) happens in the
//! request's task before the lock, and under it each span costs a hash lookup and a reservoir
//! step, so request tasks hardly wait on each other; one lock also keeps the bound global and
//! eviction exact (oldest bucket first across every series), which shards would not.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::buckets::{Buckets, FlushItem, Limits, pack};
use super::merge::{self, BucketData};
use super::settings::{MAX_FUTURE, SpanSettings};
use super::span::{self, Accepting};

/// The message of spans refused because the store is at its bound.
pub const STORE_FULL: &str = "span store full";

/// What became of the spans of one export request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Server spans stored.
    pub accepted: u64,
    /// Spans refused: the `rejected_spans` of the OTLP partial success.
    pub rejected: u64,
    /// Spans valid but not kept (kinds other than SERVER, services not judged from traces):
    /// accepted as far as the sender is concerned.
    pub ignored: u64,
    /// Why the first refused span was refused (its name and ids included): the partial
    /// success' `error_message`.
    pub first_error: Option<String>,
}

/// What the store holds for one series (or all operations of a version) over a time range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanSample {
    /// Span durations in seconds: every one when no bucket overflowed its reservoir, otherwise
    /// a uniform sample of the range (see [`SpanStore::sample`]).
    pub durations: Vec<f64>,
    /// Spans in the range, exactly.
    pub total: u64,
    /// Of which errors (status ERROR or HTTP status >= 500), exactly.
    pub errors: u64,
    /// Whether `durations` is a sample rather than every duration.
    pub sampled: bool,
}

/// Sizes of the store, for its own metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Series (service, version, operation) with at least one bucket.
    pub series: usize,
    /// Buckets alive, at most `max_buckets`.
    pub buckets: usize,
    /// Buckets dropped before their retention ran out to make room, since the start.
    pub evicted: u64,
    /// [`SpanStore::approx_bytes`].
    pub bytes: usize,
}

/// Thread-safe, memory-bounded windows of server spans. Share it in an `Arc`.
#[derive(Debug)]
pub struct SpanStore {
    /// The settings in force, normalized.
    settings: SpanSettings,
    /// The settings as the buckets use them.
    limits: Limits,
    /// `settings.retention` in nanoseconds: span times are nanoseconds.
    retention_ns: u64,
    /// Everything stored; see the module documentation for why one lock.
    inner: Mutex<Buckets>,
}

impl SpanStore {
    /// An empty store; settings below their minimum are raised to it
    /// ([`SpanSettings::normalized`]).
    pub fn new(settings: SpanSettings) -> Self {
        let settings = settings.normalized();
        let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        SpanStore {
            limits: Limits {
                window_ns: nanos(settings.window),
                reservoir: settings.reservoir,
                max_buckets: settings.max_buckets,
            },
            retention_ns: nanos(settings.retention),
            settings,
            inner: Mutex::new(Buckets::default()),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &SpanSettings {
        &self.settings
    }

    /// Stores the server spans of `request`, each checked whole first, so a refused span leaves
    /// nothing behind. `version_attribute(service)` names the attribute that carries the
    /// service's version, looked up on the span, then on its resource; `None` means the
    /// service is not judged from traces and its spans are ignored.
    ///
    /// Only spans of kind SERVER count: a request's duration and outcome as its server saw them.
    /// UNSPECIFIED is not taken for SERVER (the protocol says to read it as INTERNAL), nor are
    /// CLIENT spans, which would count a call twice and time the network too. A span is an
    /// error when its status is ERROR or an HTTP status attribute (`http.response.status_code`
    /// or `http.status_code`, integer or string) is 500 or above. It is refused without a
    /// `service.name`, without its version attribute (string or integer), without a start
    /// time, ending before it starts, ending before the retention or more than 5 minutes after
    /// `now`, or with a name longer than 256 bytes; also when the store is full (see
    /// [`SpanSettings::max_buckets`]). Spans are bucketed by end time.
    pub fn ingest(
        &self,
        request: &ExportTraceServiceRequest,
        version_attribute: &dyn Fn(&str) -> Option<String>,
        now: DateTime<Utc>,
    ) -> IngestOutcome {
        let now_ns = unix_nanos(now);
        let accepting = Accepting {
            oldest_ns: now_ns.saturating_sub(self.retention_ns),
            newest_ns: now_ns.saturating_add(MAX_FUTURE.as_secs() * 1_000_000_000),
        };
        let mut extracted = span::extract(request, version_attribute, accepting);
        let mut accepted = 0;
        let mut full = 0u64;
        {
            let mut inner = self.lock();
            inner.expire(accepting.oldest_ns, self.limits.window_ns);
            let mut key = Vec::with_capacity(128);
            for facts in &extracted.spans {
                pack(&mut key, facts);
                if inner.add(&key, facts, self.limits).is_some() {
                    accepted += 1;
                } else {
                    full += 1;
                }
            }
        }
        if full > 0 {
            let max = self.settings.max_buckets;
            extracted.rejected += full - 1;
            extracted.reject(|| {
                format!("{STORE_FULL}: {full} spans of new series refused ({max} buckets held, none older than theirs)")
            });
        }
        IngestOutcome {
            accepted,
            rejected: extracted.rejected,
            ignored: extracted.ignored,
            first_error: extracted.first_error,
        }
    }

    /// What is recorded for `service` and `version` (and `operation`, the span name, when
    /// given; all operations otherwise) for spans that ended in `[start, end)`, Unix seconds.
    ///
    /// The range is counted in whole buckets: a bucket belongs to it when the bucket's start
    /// does, after rounding `start` and `end` up to bucket boundaries. So the bucket still
    /// filling at `end = now` is in, and the one cut by `start` is out: with 60 s buckets a
    /// 10-minute lookback covers between 9 and 10 minutes of spans, the latest ones.
    ///
    /// Counts are exact. Durations are all there when no bucket saw more spans than its
    /// reservoir holds; otherwise every span must have the same chance to be in the sample,
    /// whatever bucket it fell in, or a busy minute would be under-represented next to a
    /// quiet one. Bucket `b` keeps `r_b` of its `n_b` durations, so the sample takes
    /// `round(p * n_b)` of them with `p = min_b r_b / n_b` (drawn reproducibly from the
    /// reservoir): each span is in with probability `p`.
    pub fn sample(
        &self,
        service: &str,
        version: &str,
        operation: Option<&str>,
        start: i64,
        end: i64,
    ) -> SpanSample {
        let range = self.range_ns(start, end);
        let views = self.views(&Arc::from(""), service, version, operation, range);
        merge::sample(&views, range)
    }

    /// Copies of the buckets [`SpanStore::sample`] would merge for `range`
    /// ([`SpanStore::range_ns`]), marked as `replica`'s, to merge with buckets of other
    /// replicas.
    pub fn views(
        &self,
        replica: &Arc<str>,
        service: &str,
        version: &str,
        operation: Option<&str>,
        range: (u64, u64),
    ) -> Vec<BucketData> {
        self.lock()
            .views(replica, service, version, operation, range)
    }

    /// `[start, end)` in Unix seconds as the bucket starts it covers, in nanoseconds: both
    /// rounded up to bucket boundaries (see [`SpanStore::sample`]).
    pub fn range_ns(&self, start: i64, end: i64) -> (u64, u64) {
        (self.boundary_ns(start), self.boundary_ns(end))
    }

    /// Up to `limit` buckets to write to the store, oldest first: those that ended by
    /// `closed_by_ns` (`u64::MAX`: open ones too) and took spans since their last write.
    pub fn to_flush(&self, replica: &Arc<str>, closed_by_ns: u64, limit: usize) -> Vec<FlushItem> {
        self.lock()
            .to_flush(replica, self.limits.window_ns, closed_by_ns, limit)
    }

    /// Notes that `items` (from [`SpanStore::to_flush`]) are written.
    pub fn mark_flushed(&self, items: &[FlushItem]) {
        self.lock().mark_flushed(items);
    }

    /// Drops the buckets whose spans all ended before the retention (ingest does it too).
    pub fn expire(&self, now: DateTime<Utc>) {
        let oldest_ns = unix_nanos(now).saturating_sub(self.retention_ns);
        self.lock().expire(oldest_ns, self.limits.window_ns);
    }

    /// Bytes held, counted from lengths and capacities (allocator overhead aside); never more
    /// than [`SpanSettings::memory_bound`].
    pub fn approx_bytes(&self) -> usize {
        self.lock().approx_bytes()
    }

    /// Series, buckets, evictions and bytes, for the store's metrics.
    pub fn stats(&self) -> StoreStats {
        let inner = self.lock();
        StoreStats {
            series: inner.series_count(),
            buckets: inner.bucket_count(),
            evicted: inner.evicted(),
            bytes: inner.approx_bytes(),
        }
    }

    /// The lock; a panic elsewhere while holding it (none is expected: nothing in here
    /// panics) must not take the store down with it.
    fn lock(&self) -> MutexGuard<'_, Buckets> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Unix seconds to nanoseconds, rounded up to a bucket boundary.
    fn boundary_ns(&self, seconds: i64) -> u64 {
        boundary_ns(seconds, self.limits.window_ns)
    }

    /// The bucket width in nanoseconds.
    pub fn window_ns(&self) -> u64 {
        self.limits.window_ns
    }
}

/// Unix seconds to nanoseconds, rounded up to a boundary of buckets `window_ns` wide.
pub(crate) fn boundary_ns(seconds: i64, window_ns: u64) -> u64 {
    let ns = u64::try_from(seconds)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000);
    ns.div_ceil(window_ns).saturating_mul(window_ns)
}

/// `now` in nanoseconds since the Unix epoch, 0 before it and saturated after 2262.
pub(crate) fn unix_nanos(now: DateTime<Utc>) -> u64 {
    let ns = now
        .timestamp_nanos_opt()
        .unwrap_or(if now.timestamp() < 0 { 0 } else { i64::MAX });
    u64::try_from(ns).unwrap_or(0)
}

#[cfg(test)]
#[path = "windows_tests.rs"]
mod tests;
