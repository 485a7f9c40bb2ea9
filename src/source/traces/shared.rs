//! Spans across replicas and restarts: this replica's span store in memory, and the closed
//! buckets every replica writes to the store (`store::spans`).
//!
//! - Flushing: a bucket is due once it ended [`FlushSettings::grace`] ago and took spans since
//!   it was last written; every [`FlushSettings::interval`] the due buckets are written, up to
//!   [`MAX_BATCH`] a transaction, by a background task of `serve`, never on a request's path.
//!   A late span for a bucket already written makes it due again, and the bucket is written
//!   again whole (its row replaced): counts and reservoir stay one uniform sample of all its
//!   spans. On SIGTERM every bucket with unwritten spans is written, the open ones too, so a
//!   graceful restart loses nothing; `kill -9` loses the buckets not yet written: the open one
//!   and those that closed within the last grace and interval.
//! - Memory keeps its bound: written buckets stay in memory (this replica reads its own spans
//!   from there) until the retention or eviction drops them, as before.
//! - Reading ([`SharedSpans::read`]): this replica's buckets from memory, plus every row of the
//!   store for the range except the rows of buckets this replica still holds (a bucket is in
//!   memory or counted from its row, never both). Rows of other replicas, and of this
//!   replica's previous runs (another replica id), count. The merge is [`super::merge`].
//! - A replica id is random per process start (`HOSTNAME` and 48 random bits), so two
//!   replicas never write each other's rows, and a restarted replica's old rows still count.
//!   Rows are pruned after [`super::SpanSettings::retention`].

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::buckets::{FlushItem, series_seed};
use super::merge::{self, BucketData};
use super::settings::FlushSettings;
use super::windows::{SpanSample, SpanStore, boundary_ns, unix_nanos};
use crate::store::{SpanBucketQuery, SpanBucketRow, Store, StoreError};

/// Most buckets written in one transaction: about 4 MiB of full reservoirs (1,024 durations
/// each), so a flush neither doubles the store's memory nor holds SQLite's one connection
/// long.
pub const MAX_BATCH: usize = 500;

/// What can fail when the store is read or written.
#[derive(Debug, thiserror::Error)]
pub enum SharedSpansError {
    /// The store answered with an error.
    #[error("span buckets: {0}")]
    Store(#[from] StoreError),
    /// The blocking task that called the store stopped (a panic, or the runtime shutting down).
    #[error("span buckets: the store task stopped: {0}")]
    Task(String),
}

/// Which buckets a flush writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushScope {
    /// The buckets that ended a grace ago: the periodic flush.
    Closed,
    /// Every bucket with unwritten spans, open ones too: shutdown.
    All,
}

/// What one flush wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Buckets written.
    pub buckets: usize,
    /// Transactions.
    pub batches: usize,
}

/// This replica's name on the rows it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaId(Arc<str>);

impl ReplicaId {
    /// A new id: `HOSTNAME` (the pod's name; `slogate` without it, at most 64 bytes) and 48
    /// random bits, so a pod restarted under the same name is still another writer.
    pub fn generate() -> ReplicaId {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "slogate".to_string());
        let host: String = host.chars().take(64).collect();
        let random = uuid::Uuid::new_v4().simple().to_string();
        ReplicaId(Arc::from(format!("{host}-{}", &random[..12])))
    }

    /// A given id (tests, benches).
    pub fn new(id: &str) -> ReplicaId {
        ReplicaId(Arc::from(id))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The buckets of one side of a gate over a range: what [`SharedSpans::read`] found.
#[derive(Debug, Clone, Default)]
pub struct SpanBuckets {
    /// Bucket width, to round sub-ranges as the store does.
    window_ns: u64,
    /// From memory and from the store, each bucket once.
    buckets: Vec<BucketData>,
}

impl SpanBuckets {
    /// The merged sample of `[start, end)` (Unix seconds, rounded up to bucket boundaries as
    /// [`SpanStore::sample`] does), a sub-range of the range read.
    pub fn sample(&self, start: i64, end: i64) -> SpanSample {
        let window = self.window_ns.max(1);
        merge::sample(
            &self.buckets,
            (boundary_ns(start, window), boundary_ns(end, window)),
        )
    }

    /// The buckets, each once.
    pub fn buckets(&self) -> &[BucketData] {
        &self.buckets
    }
}

/// This replica's span store and the store every replica writes its closed buckets to.
#[derive(Debug)]
pub struct SharedSpans {
    /// Spans this process received: ingest goes here.
    memory: SpanStore,
    /// Where buckets are written and read; `None`: this process alone (memory only).
    store: Option<Arc<Store>>,
    /// This process's name on its rows.
    replica: ReplicaId,
    /// When buckets are written.
    flush: FlushSettings,
    /// One flush at a time: two at once could commit an older copy of a bucket after a newer
    /// one (the periodic flush racing the one at shutdown).
    flushing: tokio::sync::Mutex<()>,
}

impl SharedSpans {
    /// `memory` shared through `store` (`None`: not shared) under the name `replica`.
    pub fn new(
        memory: SpanStore,
        store: Option<Arc<Store>>,
        replica: ReplicaId,
        flush: FlushSettings,
    ) -> SharedSpans {
        SharedSpans {
            memory,
            store,
            replica,
            flush,
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// The spans in memory (ingest, stats, expiry).
    pub fn memory(&self) -> &SpanStore {
        &self.memory
    }

    /// This replica's id.
    pub fn replica(&self) -> &ReplicaId {
        &self.replica
    }

    /// The flush settings in force.
    pub fn flush_settings(&self) -> FlushSettings {
        self.flush
    }

    /// Every bucket of `service`/`version` (and `operation`, when given) starting in
    /// `[start, end)` (Unix seconds, rounded as [`SpanStore::sample`] does), each once: this
    /// replica's from memory, the others' (and previous runs') from the store. Without
    /// `durations` only the counts of stored rows are read (error metrics).
    ///
    /// A bucket of this replica still in memory is counted from there even when its row was
    /// read too: memory holds every span the row holds, and more if late spans came since.
    /// Memory is read first, so a bucket written or dropped meanwhile is still counted once.
    pub async fn read(
        &self,
        service: &str,
        version: &str,
        operation: Option<&str>,
        (start, end): (i64, i64),
        durations: bool,
    ) -> Result<SpanBuckets, SharedSpansError> {
        let range = self.memory.range_ns(start, end);
        let replica = &self.replica.0;
        let mut buckets = self
            .memory
            .views(replica, service, version, operation, range);
        let window_ns = self.memory.window_ns();
        let Some(store) = self.store.clone() else {
            return Ok(SpanBuckets { window_ns, buckets });
        };
        let held: HashSet<u64> = buckets.iter().map(|b| b.incarnation).collect();
        let (service, version) = (service.to_string(), version.to_string());
        let operation = operation.map(str::to_string);
        let millis = |ns: u64| i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX);
        // As many buckets as memory may hold: a read never takes more than the bound.
        let limit = self.memory.settings().max_buckets;
        let rows = blocking(move || {
            store.span_buckets(&SpanBucketQuery {
                service: &service,
                version: &version,
                operation: operation.as_deref(),
                start_ms: millis(range.0),
                end_ms: millis(range.1),
                durations,
                limit,
            })
        })
        .await?;
        buckets.extend(
            rows.into_iter()
                .filter(|r| !(*r.replica == **replica && held.contains(&r.incarnation)))
                .map(from_row),
        );
        Ok(SpanBuckets { window_ns, buckets })
    }

    /// Writes the buckets due (see the module documentation) at `now`; nothing without a
    /// store, or with one opened read-only (the start said so once; a warning every flush
    /// would add nothing). Stops at the first failure: what was not written stays due for the
    /// next flush.
    pub async fn flush(
        &self,
        now: DateTime<Utc>,
        scope: FlushScope,
    ) -> Result<FlushReport, SharedSpansError> {
        let Some(store) = self.store.as_ref().filter(|s| s.writable()) else {
            return Ok(FlushReport::default());
        };
        let _one = self.flushing.lock().await;
        let grace_ns = u64::try_from(self.flush.grace.as_nanos()).unwrap_or(u64::MAX);
        let closed_by = match scope {
            FlushScope::Closed => unix_nanos(now).saturating_sub(grace_ns),
            FlushScope::All => u64::MAX,
        };
        let mut report = FlushReport::default();
        // Spans arriving all along could keep buckets due forever: one pass over the most
        // buckets memory can hold is the most one flush does.
        let most_batches = self.memory.settings().max_buckets.div_ceil(MAX_BATCH) + 1;
        while report.batches < most_batches {
            let mut items = self.memory.to_flush(&self.replica.0, closed_by, MAX_BATCH);
            if items.is_empty() {
                break;
            }
            let rows: Vec<SpanBucketRow> = items.iter_mut().map(to_row).collect();
            let written = rows.len();
            let store = store.clone();
            blocking(move || store.save_span_buckets(&rows, now)).await?;
            self.memory.mark_flushed(&items);
            report.buckets += written;
            report.batches += 1;
            if written < MAX_BATCH {
                break;
            }
        }
        Ok(report)
    }

    /// Deletes the rows of buckets that ended before the retention; returns how many (none
    /// without a store, or with one opened read-only).
    pub async fn prune(&self, now: DateTime<Utc>) -> Result<usize, SharedSpansError> {
        let Some(store) = self.store.clone().filter(|s| s.writable()) else {
            return Ok(0);
        };
        let settings = self.memory.settings();
        let kept = chrono::Duration::from_std(settings.retention + settings.window)
            .unwrap_or(chrono::Duration::MAX);
        let cutoff = now.checked_sub_signed(kept).unwrap_or(DateTime::UNIX_EPOCH);
        blocking(move || store.prune_span_buckets(cutoff)).await
    }
}

/// Runs a store call on the blocking pool (the PostgreSQL client must not run on a runtime
/// thread, and SQLite's fsync would stall one).
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SharedSpansError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| SharedSpansError::Task(e.to_string()))?
        .map_err(SharedSpansError::from)
}

/// The row of a bucket to write; its durations move into the row (the item keeps what
/// marking it written needs).
fn to_row(item: &mut FlushItem) -> SpanBucketRow {
    let bucket = &mut item.bucket;
    SpanBucketRow {
        replica: bucket.replica.to_string(),
        incarnation: bucket.incarnation,
        service: item.service.clone(),
        version: item.version.clone(),
        operation: bucket.operation.clone(),
        start_ms: i64::try_from(bucket.start_ns / 1_000_000).unwrap_or(i64::MAX),
        total: bucket.total,
        errors: bucket.errors,
        sampled_from: bucket.sampled_from,
        durations: std::mem::take(&mut bucket.durations),
    }
}

/// A stored row as the merge reads it.
fn from_row(row: SpanBucketRow) -> BucketData {
    BucketData {
        series_seed: series_seed(&row.service, &row.version, &row.operation),
        operation: row.operation,
        start_ns: u64::try_from(row.start_ms)
            .unwrap_or(0)
            .saturating_mul(1_000_000),
        replica: Arc::from(row.replica),
        incarnation: row.incarnation,
        total: row.total,
        errors: row.errors,
        sampled_from: row.sampled_from,
        durations: row.durations,
    }
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
