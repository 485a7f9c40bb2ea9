use std::time::Duration;

use chrono::TimeDelta;

use super::*;
use crate::source::traces::MAX_NAME_BYTES;
use crate::source::traces::testkit::{
    NOW, by_service_version, failed, now, request, server_span, shifted, with,
};

fn store(reservoir: usize, max_buckets: usize) -> SpanStore {
    SpanStore::new(SpanSettings {
        reservoir,
        max_buckets,
        ..SpanSettings::default()
    })
}

fn ingest(
    store: &SpanStore,
    service: &str,
    version: &str,
    spans: Vec<span_::Span>,
) -> IngestOutcome {
    store.ingest(
        &request(service, version, spans),
        &by_service_version,
        now(),
    )
}

/// The last `minutes` minutes, as a gate would ask.
fn last(
    store: &SpanStore,
    service: &str,
    version: &str,
    operation: Option<&str>,
    minutes: i64,
) -> SpanSample {
    store.sample(service, version, operation, NOW - minutes * 60, NOW)
}

mod span_ {
    pub(super) use opentelemetry_proto::tonic::trace::v1::Span;
}

/// `n` spans of `name` ending over the last `seconds` seconds before NOW with durations evenly over [0, 1).
fn spread(name: &str, n: usize, seconds: f64, errors_every: usize) -> Vec<span_::Span> {
    (0..n)
        .map(|i| {
            let span = server_span(
                name,
                seconds * (i + 1) as f64 / n as f64,
                i as f64 / n as f64,
            );
            if errors_every > 0 && i % errors_every == 0 {
                failed(span)
            } else {
                span
            }
        })
        .collect()
}

#[test]
fn counts_and_errors_are_exact_and_durations_all_kept_under_the_cap() {
    let store = store(1024, 1000);
    let outcome = ingest(
        &store,
        "checkout",
        "v1",
        spread("GET /cart", 500, 240.0, 10),
    );
    assert_eq!(
        outcome,
        IngestOutcome {
            accepted: 500,
            ..IngestOutcome::default()
        }
    );
    let sample = last(&store, "checkout", "v1", None, 10);
    assert_eq!(
        (sample.total, sample.errors, sample.sampled),
        (500, 50, false)
    );
    let mut durations = sample.durations;
    durations.sort_by(f64::total_cmp);
    let expected: Vec<f64> = (0..500).map(|i| i as f64 / 500.0).collect();
    assert!(
        durations
            .iter()
            .zip(&expected)
            .all(|(a, b)| (a - b).abs() < 1e-9)
    );
}

#[test]
fn a_busy_bucket_keeps_its_cap_and_a_uniform_sample_with_exact_counts() {
    let store = store(1024, 1000);
    for chunk in spread("GET /cart", 100_000, 50.0, 100).chunks(512) {
        ingest(&store, "checkout", "v1", chunk.to_vec());
    }
    let sample = last(&store, "checkout", "v1", None, 10);
    assert_eq!(
        (sample.total, sample.errors, sample.sampled),
        (100_000, 1000, true)
    );
    assert!(sample.durations.len() <= 1024, "{}", sample.durations.len());
    let mean = sample.durations.iter().sum::<f64>() / sample.durations.len() as f64;
    assert!((mean - 0.5).abs() < 0.05, "mean {mean}");
}

#[test]
fn buckets_are_subsampled_in_proportion_to_their_true_counts() {
    let store = store(100, 1000);
    // One busy minute of fast spans (10,000 of 1 s) and one quiet minute of slow ones (100 of
    // 2 s): slow spans are 1% of all, so about 1% of the sample, not the half that merging the
    // two full reservoirs as they are would give.
    let busy: Vec<_> = (0..10_000).map(|_| server_span("op", 30.0, 1.0)).collect();
    let quiet: Vec<_> = (0..100).map(|_| server_span("op", 90.0, 2.0)).collect();
    ingest(&store, "checkout", "v1", busy);
    ingest(&store, "checkout", "v1", quiet);
    let sample = last(&store, "checkout", "v1", None, 10);
    assert_eq!(sample.total, 10_100);
    assert!(sample.sampled);
    let slow = sample.durations.iter().filter(|d| **d > 1.5).count();
    assert_eq!((sample.durations.len(), slow), (101, 1));
}

#[test]
fn the_same_input_gives_the_same_sample() {
    let spans = spread("GET /cart", 20_000, 100.0, 0);
    let samples: Vec<SpanSample> = (0..2)
        .map(|_| {
            let store = store(256, 1000);
            for chunk in spans.chunks(512) {
                ingest(&store, "checkout", "v1", chunk.to_vec());
            }
            last(&store, "checkout", "v1", None, 10)
        })
        .collect();
    assert!(samples[0].sampled);
    assert_eq!(samples[0], samples[1]);
}

#[test]
fn samples_select_by_version_and_operation_and_round_the_range_to_buckets() {
    let store = store(1024, 1000);
    ingest(
        &store,
        "checkout",
        "v1",
        vec![
            server_span("GET /a", 10.0, 0.1),
            server_span("GET /b", 10.0, 0.2),
        ],
    );
    ingest(
        &store,
        "checkout",
        "v2",
        vec![server_span("GET /a", 10.0, 0.3)],
    );
    ingest(
        &store,
        "payments",
        "v1",
        vec![server_span("GET /a", 10.0, 0.4)],
    );
    assert_eq!(last(&store, "checkout", "v1", None, 10).total, 2);
    assert_eq!(
        last(&store, "checkout", "v1", Some("GET /b"), 10).durations,
        [0.2]
    );
    assert_eq!(last(&store, "checkout", "v2", None, 10).durations, [0.3]);
    assert_eq!(
        last(&store, "checkout", "v3", None, 10),
        SpanSample::default()
    );
    // A span that ended 10 s before NOW (a minute boundary) is in the bucket [NOW-60, NOW):
    // in [NOW-60, NOW) and [NOW-61, NOW-59) (rounded up to [NOW-60, NOW)), not in [NOW-59, NOW).
    let count = |start: i64, end: i64| store.sample("payments", "v1", None, start, end).total;
    assert_eq!(
        (
            count(NOW - 60, NOW),
            count(NOW - 61, NOW - 59),
            count(NOW - 59, NOW)
        ),
        (1, 1, 0)
    );
}

#[test]
fn buckets_expire_after_the_retention() {
    let store = store(1024, 1000);
    ingest(&store, "checkout", "v1", vec![server_span("op", 10.0, 0.1)]);
    store.expire(now() + TimeDelta::minutes(119));
    assert_eq!(store.stats().buckets, 1);
    store.expire(now() + TimeDelta::minutes(121));
    assert_eq!(
        store.stats(),
        StoreStats {
            bytes: store.approx_bytes(),
            ..StoreStats::default()
        }
    );
    assert_eq!(last(&store, "checkout", "v1", None, 10).total, 0);
    // Ingest expires lazily too.
    ingest(&store, "checkout", "v1", vec![server_span("op", 10.0, 0.1)]);
    let later = request("checkout", "v1", vec![]);
    store.ingest(&later, &by_service_version, now() + TimeDelta::hours(3));
    assert_eq!(store.stats().buckets, 0);
}

#[test]
fn memory_stays_under_the_bound_whatever_streams_in() {
    let settings = SpanSettings {
        reservoir: 64,
        max_buckets: 200,
        ..SpanSettings::default()
    };
    let bound = settings.memory_bound();
    let store = SpanStore::new(settings);
    let long = "o".repeat(MAX_NAME_BYTES);
    // Two hours of one-minute steps, 50 series (long names) with 100 spans each per step:
    // 6,000 buckets' worth offered for 200 places.
    for step in 0..120i64 {
        let at = now() - TimeDelta::minutes(120) + TimeDelta::minutes(step);
        for series in 0..50 {
            let spans = (0..100)
                .map(|i| {
                    server_span(
                        &format!("{long:.250}{series}"),
                        1.0 + f64::from(i % 50),
                        0.01,
                    )
                })
                .map(|span| shifted(span, (at - now()).num_seconds()))
                .collect();
            let request = request("checkout", "v1", spans);
            let outcome = store.ingest(&request, &by_service_version, at);
            assert_eq!(outcome.accepted + outcome.rejected, 100);
            let bytes = store.approx_bytes();
            assert!(bytes <= bound, "step {step}: {bytes} > {bound}");
        }
        assert!(store.stats().buckets <= 200);
    }
    let stats = store.stats();
    assert_eq!(stats.buckets, 200);

    assert!(stats.evicted > 0);
    // The most recent minutes are what was kept.
    assert!(last(&store, "checkout", "v1", None, 2).total > 0);
}

#[test]
fn the_worst_case_comes_near_the_bound_and_stays_under_it() {
    // Every bucket its own series, every name as long as allowed, every reservoir full: the
    // shape the bound is computed for. 1,000 series are offered for 200 places.
    let settings = SpanSettings {
        reservoir: 64,
        max_buckets: 200,
        ..SpanSettings::default()
    };
    let bound = settings.memory_bound();
    let store = SpanStore::new(settings);
    let long = |prefix: usize| format!("{prefix:0>width$}", width = MAX_NAME_BYTES);
    let mut refused = 0;
    for series in 0..1000 {
        let spans = (0..64)
            .map(|_| server_span(&long(series), 10.0, 0.1))
            .collect();
        refused += ingest(&store, &long(series), &long(series), spans).rejected;
    }
    assert_eq!(refused, 800 * 64);
    let bytes = store.approx_bytes();
    assert!(
        bytes <= bound && bytes * 10 > bound * 8,
        "{bytes} of {bound}"
    );
}

#[test]
fn a_full_store_refuses_new_series_and_keeps_counting_the_existing_ones() {
    let store = store(8, 3);
    for op in ["a", "b", "c"] {
        assert_eq!(
            ingest(&store, "checkout", "v1", vec![server_span(op, 10.0, 0.1)]).accepted,
            1
        );
    }
    let outcome = ingest(
        &store,
        "checkout",
        "v1",
        vec![
            server_span("d", 10.0, 0.1),
            server_span("e", 10.0, 0.1),
            server_span("a", 10.0, 0.1),
        ],
    );
    assert_eq!((outcome.accepted, outcome.rejected), (1, 2));
    let message = outcome.first_error.unwrap_or_default();
    assert!(message.starts_with("span store full: 2 spans"), "{message}");
    assert_eq!(last(&store, "checkout", "v1", Some("a"), 10).total, 2);
    // A newer minute makes room by evicting the oldest bucket.
    let later = request(
        "checkout",
        "v1",
        vec![shifted(server_span("d", 10.0, 0.1), 60)],
    );
    let outcome = store.ingest(&later, &by_service_version, now() + TimeDelta::minutes(1));
    assert_eq!((outcome.accepted, store.stats().evicted), (1, 1));
}

#[test]
fn refused_spans_are_counted_with_the_first_reason_and_nothing_of_them_is_stored() {
    let store = store(1024, 1000);
    let mut backwards = server_span("op", 10.0, 0.1);
    backwards.start_time_unix_nano = backwards.end_time_unix_nano + 5;
    let spans = vec![
        backwards,
        server_span("op", 9000.0, 0.1),
        with(server_span("op", 10.0, 0.5), vec![]),
    ];
    let outcome = ingest(&store, "checkout", "v1", spans);
    assert_eq!((outcome.accepted, outcome.rejected), (1, 2));
    assert!(
        outcome
            .first_error
            .unwrap_or_default()
            .contains("ends before it starts")
    );
    assert_eq!(last(&store, "checkout", "v1", None, 10).durations, [0.5]);
}

#[test]
fn concurrent_ingest_counts_every_span() {
    let store = std::sync::Arc::new(store(64, 1000));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = std::sync::Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..50 {
                    ingest(
                        &store,
                        "checkout",
                        "v1",
                        spread(&format!("op{}", t % 2), 100, 100.0, 4),
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        assert!(thread.join().is_ok());
    }
    let sample = last(&store, "checkout", "v1", None, 10);
    assert_eq!((sample.total, sample.errors), (20_000, 5_000));
    assert!(store.settings().window == Duration::from_secs(60));
}
