//! The cost of sharing spans between replicas: one flush of 1,000 series' closed buckets, each
//! reservoir full (1,024 durations, 8 KiB a row), written to SQLite (a file, WAL,
//! `synchronous=FULL`) and to PostgreSQL (a throwaway local cluster with its default
//! durability, as `benches/store.rs` starts it); and a gate's read of one side of a latency
//! metric: ten minutes of one series from three other replicas (30 rows with full
//! reservoirs) read and merged into one sample.
//!
//! Run: `cargo bench --bench span_flush`. Figures go in docs/benchmarks.md.

#[path = "support/otlp.rs"]
mod otlp;
#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres_cluster;

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otlp::text;
use slogate::source::traces::{
    ExportTraceServiceRequest, FlushScope, FlushSettings, ReplicaId, SharedSpans, SpanSettings,
    SpanStore,
};
use slogate::store::{PostgresConfig, Store};

/// Series flushed at once (one bucket each).
const SERIES: usize = 1_000;
/// Spans per bucket: more than the reservoir holds, so every reservoir is full.
const SPANS_PER_BUCKET: usize = 1_100;
/// Timed flushes per backend (each of a new replica's buckets: inserts, as every minute);
/// the median is reported.
const RUNS: usize = 5;
/// Timed reads per backend; the median is reported.
const READS: usize = 21;

/// `n` SERVER spans of checkout v1 `operation`, ending over the minute that starts at
/// `minute_ns`, with durations from 1 ms to 1.1 s.
fn request(operation: &str, minute_ns: u64, n: usize) -> ExportTraceServiceRequest {
    let spans = (0..n as u64)
        .map(|i| {
            let end = minute_ns + i * 50_000_000;
            Span {
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
                name: operation.to_string(),
                kind: SpanKind::Server as i32,
                start_time_unix_nano: end - 1_000_000 * (1 + i % 1_100),
                end_time_unix_nano: end,
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", "checkout"),
                    text("service.version", "v1"),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// The start of the minute `ago` minutes before now, in nanoseconds.
fn minute_ns(ago: i64) -> u64 {
    let now = Utc::now().timestamp();
    ((now.div_euclid(60) - ago) * 60) as u64 * 1_000_000_000
}

fn replica(store: &Arc<Store>, id: &str) -> SharedSpans {
    SharedSpans::new(
        SpanStore::new(SpanSettings::default()),
        Some(store.clone()),
        ReplicaId::new(id),
        FlushSettings::default(),
    )
}

fn version(_service: &str) -> Option<String> {
    Some("service.version".to_string())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn report(backend: &str, store: Store, runtime: &tokio::runtime::Runtime) {
    let store = Arc::new(store);
    let closed = minute_ns(2);
    let mut flushes = Vec::new();
    for run in 0..RUNS {
        let spans = replica(&store, &format!("flush-{run}"));
        for s in 0..SERIES {
            let outcome = spans.memory().ingest(
                &request(&format!("GET /api/v1/op/{s}"), closed, SPANS_PER_BUCKET),
                &version,
                Utc::now(),
            );
            assert_eq!(outcome.accepted, SPANS_PER_BUCKET as u64);
        }
        let start = Instant::now();
        let written = runtime
            .block_on(spans.flush(Utc::now(), FlushScope::Closed))
            .unwrap();
        flushes.push(start.elapsed().as_secs_f64());
        assert_eq!(written.buckets, SERIES);
    }
    let flush = median(flushes);
    println!(
        "{backend:<10} flush of {SERIES} full buckets: {:>7.1} ms ({:.0} us a bucket)",
        flush * 1e3,
        flush * 1e6 / SERIES as f64
    );

    // Three other replicas wrote ten minutes of GET /cart; a fourth one's gate reads them.
    for r in 0..3 {
        let spans = replica(&store, &format!("writer-{r}"));
        for ago in 1..=10 {
            spans.memory().ingest(
                &request("GET /cart", minute_ns(ago), SPANS_PER_BUCKET),
                &version,
                Utc::now(),
            );
        }
        runtime
            .block_on(spans.flush(Utc::now() + TimeDelta::minutes(2), FlushScope::All))
            .unwrap();
    }
    let reader = replica(&store, "reader");
    let now = Utc::now().timestamp();
    let window = (now - 600, now);
    let mut reads = Vec::new();
    let mut size = 0;
    for _ in 0..READS {
        let start = Instant::now();
        let sample = runtime
            .block_on(reader.read("checkout", "v1", Some("GET /cart"), window, true))
            .unwrap()
            .sample(window.0, window.1);
        reads.push(start.elapsed().as_secs_f64());
        size = sample.durations.len();
        assert!(
            sample.total >= 27 * SPANS_PER_BUCKET as u64,
            "{}",
            sample.total
        );
    }
    println!(
        "{backend:<10} gate read of 10 min x 3 replicas (30 full rows): {:>6.2} ms, {size} durations merged",
        median(reads) * 1e3
    );
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    report(
        "sqlite",
        Store::open(&dir.path().join("bench.db")).unwrap(),
        &runtime,
    );
    let cluster = postgres_cluster::Cluster::start_with(true);
    let config = PostgresConfig::new(cluster.database());
    report("postgres", Store::open_postgres(&config).unwrap(), &runtime);
}
