use chrono::TimeDelta;

use super::*;
use crate::source::traces::SpanSettings;
use crate::source::traces::testkit::{NOW, by_service_version, failed, now, request, server_span};
use crate::store::testing::postgres_store;

/// Runs `test` on an in-memory SQLite store, then on a new PostgreSQL database. The stores
/// are opened and closed outside the runtime: the PostgreSQL client blocks on its own.
fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Arc<Store>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for store in [
        Arc::new(Store::open_in_memory().unwrap()),
        Arc::new(postgres_store()),
    ] {
        runtime.block_on(test(store.clone()));
    }
}

fn replica(store: &Arc<Store>, id: &str, reservoir: usize, max_buckets: usize) -> SharedSpans {
    let memory = SpanStore::new(SpanSettings {
        reservoir,
        max_buckets,
        ..SpanSettings::default()
    });
    SharedSpans::new(
        memory,
        Some(store.clone()),
        ReplicaId::new(id),
        FlushSettings::default(),
    )
}

/// `n` spans of checkout `version` GET /cart ending in the minute `minutes_ago` minutes before
/// NOW (1 is the minute that ends at NOW), every `errors_every`-th an error (0: none).
fn send(spans: &SharedSpans, version: &str, minutes_ago: i64, n: usize, errors_every: usize) {
    let batch = (0..n)
        .map(|i| {
            let ago = (minutes_ago - 1) as f64 * 60.0 + 59.0 * (i + 1) as f64 / n as f64;
            let span = server_span("GET /cart", ago, 0.01 + i as f64 / 1000.0);
            if errors_every > 0 && i % errors_every == 0 {
                failed(span)
            } else {
                span
            }
        })
        .collect();
    let outcome = spans.memory().ingest(
        &request("checkout", version, batch),
        &by_service_version,
        now(),
    );
    assert_eq!(outcome.accepted, n as u64);
}

/// The last ten minutes of checkout `version`, as a gate reads them.
async fn last_ten(spans: &SharedSpans, version: &str) -> SpanSample {
    spans
        .read(
            "checkout",
            version,
            Some("GET /cart"),
            (NOW - 600, NOW),
            true,
        )
        .await
        .unwrap()
        .sample(NOW - 600, NOW)
}

/// A minute after NOW: the minute that ended at NOW is past its grace.
fn later() -> DateTime<Utc> {
    now() + TimeDelta::seconds(60)
}

#[test]
fn two_replicas_count_every_span_once_whichever_is_asked_and_late_spans_too() {
    on_each_backend(|store| async move {
        let a = replica(&store, "a", 1024, 1000);
        let b = replica(&store, "b", 1024, 1000);
        send(&a, "v1", 3, 300, 10);
        send(&a, "v1", 2, 200, 0);
        send(&b, "v1", 2, 250, 5);
        send(&b, "v1", 1, 40, 0);
        // Nothing written yet: each replica sees its own spans.
        assert_eq!(last_ten(&a, "v1").await.total, 500);
        assert_eq!(last_ten(&b, "v1").await.total, 290);

        let written = a.flush(later(), FlushScope::Closed).await.unwrap();
        assert_eq!(
            written,
            FlushReport {
                buckets: 2,
                batches: 1
            }
        );
        b.flush(later(), FlushScope::Closed).await.unwrap();
        for spans in [&a, &b] {
            let seen = last_ten(spans, "v1").await;
            assert_eq!(
                (seen.total, seen.errors),
                (790, 30 + 50),
                "{}",
                spans.replica().as_str()
            );
            assert_eq!(seen.durations.len(), 790, "every duration, once");
        }
        // Nothing new: the next flush writes nothing.
        assert_eq!(
            a.flush(later(), FlushScope::Closed).await.unwrap().buckets,
            0
        );

        // Late spans for a bucket `a` wrote: `a` counts them at once, `b` once `a` wrote the
        // bucket again, and nobody twice.
        send(&a, "v1", 2, 7, 1);
        assert_eq!(last_ten(&a, "v1").await.total, 797);
        assert_eq!(last_ten(&b, "v1").await.total, 790);
        assert_eq!(
            a.flush(later(), FlushScope::Closed).await.unwrap().buckets,
            1
        );
        let (seen_a, seen_b) = (last_ten(&a, "v1").await, last_ten(&b, "v1").await);
        assert_eq!((seen_b.total, seen_b.errors), (797, 87));
        // Both replicas merge the same buckets: the same sample, bit for bit.
        assert_eq!(seen_a, seen_b);
        // Another version is another series.
        assert_eq!(last_ten(&b, "v2").await.total, 0);
    });
}

#[test]
fn a_restarted_replica_reads_what_its_previous_run_wrote_at_shutdown() {
    on_each_backend(|store| async move {
        let first = replica(&store, "a-1", 1024, 1000);
        send(&first, "v1", 2, 120, 4);
        // The minute still open at shutdown is written too.
        send(&first, "v1", 1, 30, 0);
        assert_eq!(
            first
                .flush(now(), FlushScope::Closed)
                .await
                .unwrap()
                .buckets,
            1,
            "the minute that ended a minute ago; the last one is still open"
        );
        let written = first.flush(now(), FlushScope::All).await.unwrap();
        assert_eq!(written.buckets, 1);
        drop(first);
        let second = replica(&store, "a-2", 1024, 1000);
        let seen = last_ten(&second, "v1").await;
        assert_eq!((seen.total, seen.errors), (150, 30));
        // Error metrics read the counts only.
        let counts = second
            .read("checkout", "v1", None, (NOW - 600, NOW), false)
            .await
            .unwrap()
            .sample(NOW - 600, NOW);
        assert_eq!((counts.total, counts.errors), (150, 30));
        assert!(counts.durations.is_empty());
    });
}

#[test]
fn a_bucket_evicted_after_its_flush_still_counts_once_and_rows_are_pruned() {
    on_each_backend(|store| async move {
        // Room for two buckets: a third minute evicts the oldest.
        let a = replica(&store, "a", 64, 2);
        send(&a, "v1", 3, 100, 0);
        send(&a, "v1", 2, 100, 0);
        a.flush(later(), FlushScope::Closed).await.unwrap();
        send(&a, "v1", 1, 10, 0);
        assert_eq!(a.memory().stats().evicted, 1);
        // Sampled now (reservoirs of 64): the evicted minute comes from its row.
        let seen = last_ten(&a, "v1").await;
        assert_eq!(seen.total, 210);
        assert!(seen.sampled);
        // Two hours and a minute later, every row is past the retention.
        let pruned = a.prune(now() + TimeDelta::minutes(122)).await.unwrap();
        assert_eq!(pruned, 2);
    });
}

#[tokio::test]
async fn without_a_store_nothing_is_written_and_memory_answers_alone() {
    let alone = SharedSpans::new(
        SpanStore::new(SpanSettings::default()),
        None,
        ReplicaId::new("solo"),
        FlushSettings::default(),
    );
    send(&alone, "v1", 2, 50, 0);
    assert_eq!(
        alone.flush(later(), FlushScope::All).await.unwrap().buckets,
        0
    );
    assert_eq!(last_ten(&alone, "v1").await.total, 50);
    assert_eq!(alone.prune(later()).await.unwrap(), 0);
    let id = ReplicaId::generate();
    assert_ne!(id, ReplicaId::generate(), "random per process start");
}
