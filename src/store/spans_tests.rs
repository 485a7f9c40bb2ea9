use super::*;
use crate::store::outbox::tests::at;
use crate::store::testing::each_backend;

/// A row of `replica`'s bucket of checkout/v1/`operation` starting at minute `minute`.
fn row(replica: &str, operation: &str, minute: i64, total: u64) -> SpanBucketRow {
    SpanBucketRow {
        replica: replica.to_string(),
        incarnation: minute as u64,
        service: "checkout".to_string(),
        version: "v1".to_string(),
        operation: operation.to_string(),
        start_ms: 1_767_225_600_000 + minute * 60_000,
        total,
        errors: total / 2,
        sampled_from: total,
        // Values no decimal text would keep exactly: the blob must.
        durations: (0..total.min(4)).map(|i| 0.1 + i as f64 / 3.0).collect(),
    }
}

fn query(operation: Option<&str>, from_minute: i64, to_minute: i64) -> SpanBucketQuery<'_> {
    SpanBucketQuery {
        service: "checkout",
        version: "v1",
        operation,
        start_ms: 1_767_225_600_000 + from_minute * 60_000,
        end_ms: 1_767_225_600_000 + to_minute * 60_000,
        durations: true,
        limit: 100,
    }
}

#[test]
fn buckets_written_in_one_batch_read_back_bit_for_bit_by_range_and_operation() {
    each_backend(|store| {
        let rows = vec![
            row("a", "GET /cart", 0, 7),
            row("a", "GET /cart", 1, 3),
            row("b", "GET /cart", 1, 5),
            row("a", "POST /pay", 1, 2),
            row("a", "GET /cart", 2, 1),
        ];
        store.save_span_buckets(&rows, at(0)).unwrap();
        let cart = store.span_buckets(&query(Some("GET /cart"), 1, 2)).unwrap();
        assert_eq!(cart, vec![rows[1].clone(), rows[2].clone()]);
        let all = store.span_buckets(&query(None, 0, 3)).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all.iter().map(|r| r.total).sum::<u64>(), 18);
        // Ordered by start, then operation, replica and incarnation.
        assert_eq!(all[3], rows[3]);
        let counts_only = store
            .span_buckets(&SpanBucketQuery {
                durations: false,
                ..query(None, 0, 3)
            })
            .unwrap();
        assert!(counts_only.iter().all(|r| r.durations.is_empty()));
        assert_eq!(
            counts_only.iter().map(|r| r.errors).sum::<u64>(),
            3 + 1 + 2 + 1
        );
        assert!(
            store
                .span_buckets(&SpanBucketQuery {
                    version: "v2",
                    ..query(None, 0, 3)
                })
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn a_bucket_written_again_replaces_its_row_and_other_replicas_rows_stay() {
    each_backend(|store| {
        store
            .save_span_buckets(
                &[row("a", "GET /cart", 0, 3), row("b", "GET /cart", 0, 4)],
                at(0),
            )
            .unwrap();
        // Late spans: replica a writes the same bucket again, whole.
        let mut later = row("a", "GET /cart", 0, 30);
        later.errors = 5;
        store.save_span_buckets(&[later.clone()], at(1)).unwrap();
        // The same start in another incarnation (the first was evicted) is another row.
        let mut again = row("a", "GET /cart", 0, 2);
        again.incarnation = 99;
        store.save_span_buckets(&[again.clone()], at(2)).unwrap();
        let read = store.span_buckets(&query(Some("GET /cart"), 0, 1)).unwrap();
        assert_eq!(read, vec![later, again, row("b", "GET /cart", 0, 4)]);
        assert_eq!(read.iter().map(|r| r.total).sum::<u64>(), 36);
    });
}

#[test]
fn a_read_past_its_limit_is_refused_and_pruning_keeps_the_recent_buckets() {
    each_backend(|store| {
        let rows: Vec<_> = (0..6).map(|m| row("a", "GET /cart", m, 2)).collect();
        store.save_span_buckets(&rows, at(0)).unwrap();
        let limited = SpanBucketQuery {
            limit: 5,
            ..query(None, 0, 6)
        };
        let err = store.span_buckets(&limited).unwrap_err();
        assert!(
            matches!(err, StoreError::TooManySpanBuckets { limit: 5, .. }),
            "{err}"
        );
        assert_eq!(
            store
                .span_buckets(&SpanBucketQuery {
                    limit: 6,
                    ..limited
                })
                .unwrap()
                .len(),
            6
        );
        // `at(s)` is seconds after the first bucket's start: minutes 0 to 3 start before 200 s.
        assert_eq!(store.prune_span_buckets(at(200)).unwrap(), 4);
        let left = store.span_buckets(&query(None, 0, 6)).unwrap();
        assert_eq!(left, rows[4..].to_vec());
    });
}

#[test]
fn a_reservoir_that_is_not_whole_floats_is_reported_corrupt_with_its_bucket() {
    assert_eq!(
        decode_durations(&encode_durations(&[1.5, f64::MIN_POSITIVE, 1e300])).unwrap(),
        vec![1.5, f64::MIN_POSITIVE, 1e300]
    );
    assert!(decode_durations(&[0; 9]).is_err());
    let raw = RawRow {
        service: "checkout".into(),
        version: "v1".into(),
        operation: "GET /cart".into(),
        start_ms: 0,
        replica: "a".into(),
        incarnation: 1,
        total: 2,
        errors: 3,
        sampled_from: 2,
        durations: Some(vec![]),
    };
    let err = raw.decode().unwrap_err();
    assert!(
        matches!(&err, StoreError::CorruptSpans { key, .. } if key.contains("checkout/v1/GET /cart")),
        "{err}"
    );
}
