//! Trace ingest: how fast export requests of 512 server spans go into the span store, next to
//! prost's raw decode of the same bodies measured in the same run, and how much memory the
//! store takes while 10 million spans stream through it with the default settings.
//!
//! Run: `cargo bench --bench ingest`. Figures go in docs/benchmarks.md.

#[path = "support/otlp.rs"]
mod otlp;

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use otlp::{int, text};
use prost::Message;
use slogate::source::traces::{
    CensusLimits, DecodeBudget, DecodeLimits, Encoding, ExportTraceServiceRequest, SpanSettings,
    SpanStore, decode,
};

/// The allocator the `slogate` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Spans per export request: the OpenTelemetry SDKs' default batch size.
const BATCH: usize = 512;
/// Timed runs per measurement; the median is reported.
const RUNS: usize = 9;
/// Requests per timed run (about a million spans).
const REQUESTS_PER_RUN: usize = 2_000;
/// Spans streamed through the store for the memory measurement.
const STREAMED: usize = 10_000_000;
/// The attribute that carries the version, as Argo Rollouts labels pods.
const VERSION: &str = "k8s.pod.label.rollouts-pod-template-hash";

const SERVICES: [&str; 6] = [
    "checkout", "payments", "catalog", "search", "accounts", "shipping",
];
const VERSIONS: [&str; 2] = ["6d8f9c7b5d", "77c4b9f8d6"];
const ROUTES: [&str; 5] = [
    "/api/v1/transactions",
    "/api/v1/transactions/{id}",
    "/api/v1/accounts/{id}/balance",
    "/api/v1/cart",
    "/healthz",
];

/// Deterministic pseudo-random numbers in [0, 1) (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One SDK batch as a service instance exports it: a resource with the attributes the SDK and
/// the Kubernetes detector set, and 512 SERVER spans over the five routes, with the HTTP
/// semantic-convention attributes, log-normal durations around 80 ms, 1% of them 5xx, all
/// ending in the minute before `end`.
fn batch(
    service: &str,
    version: &str,
    end: DateTime<Utc>,
    rng: &mut Rng,
) -> ExportTraceServiceRequest {
    let end_ns = end.timestamp_nanos_opt().unwrap_or_default() as u64;
    let spans = (0..BATCH)
        .map(|i| {
            let route = ROUTES[i % ROUTES.len()];
            let status = if rng.next() < 0.01 { 503 } else { 200 };
            let seconds = 0.08 * (0.6 * (rng.next() - 0.5) * 3.4).exp();
            let stop = end_ns - (rng.next() * 59e9) as u64;
            let id = (rng.next() * 1e18) as u64;
            Span {
                trace_id: [id.to_be_bytes(), (!id).to_be_bytes()].concat(),
                span_id: id.to_le_bytes().to_vec(),
                parent_span_id: (!id).to_le_bytes().to_vec(),
                name: format!("GET {route}"),
                kind: 2,
                start_time_unix_nano: stop - (seconds * 1e9) as u64,
                end_time_unix_nano: stop,
                attributes: vec![
                    text("http.request.method", "GET"),
                    text("http.route", route),
                    int("http.response.status_code", status),
                    text(
                        "url.path",
                        &route.replace("{id}", &(id % 100_000).to_string()),
                    ),
                    text("url.scheme", "https"),
                    text(
                        "server.address",
                        &format!("{service}.prod.svc.cluster.local"),
                    ),
                    int("server.port", 8080),
                    text("network.protocol.version", "1.1"),
                    text("client.address", "10.42.7.19"),
                    text("user_agent.original", "okhttp/4.12.0"),
                ],
                status: (status >= 500).then(|| Status {
                    message: "upstream unavailable".to_string(),
                    code: 2,
                }),
                flags: 0x101,
                ..Span::default()
            }
        })
        .collect();
    let resource = Resource {
        attributes: vec![
            text("service.name", service),
            text("service.namespace", "shop"),
            text(
                "service.instance.id",
                "2f1c9a4e-7b3d-4c11-9f0e-5a6b7c8d9e0f",
            ),
            text("telemetry.sdk.name", "opentelemetry"),
            text("telemetry.sdk.language", "java"),
            text("telemetry.sdk.version", "1.44.1"),
            text("k8s.namespace.name", "shop"),
            text("k8s.pod.name", &format!("{service}-{version}-x7k2p")),
            text(VERSION, version),
            text("host.name", "ip-10-0-12-34.eu-west-1.compute.internal"),
        ],
        ..Resource::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// The receiver's default per-export limits and decode budget.
fn decode_limits() -> (DecodeLimits, DecodeBudget) {
    let limits = DecodeLimits {
        max_inflated: 64 << 20,
        census: CensusLimits {
            max_spans: 100_000,
            max_attributes: 1_000_000,
        },
    };
    (limits, DecodeBudget::new(128 << 20))
}

fn version_attribute(_service: &str) -> Option<String> {
    Some(VERSION.to_string())
}

/// Spans per second of one run of [`REQUESTS_PER_RUN`] requests.
fn spans_per_second(bodies: &[Vec<u8>], mut handle: impl FnMut(&[u8])) -> f64 {
    let start = Instant::now();
    for body in bodies.iter().cycle().take(REQUESTS_PER_RUN) {
        handle(body);
    }
    (REQUESTS_PER_RUN * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// VmRSS and VmHWM from /proc/self/status, in bytes (0 where unavailable).
fn rss() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn throughput() {
    let now = DateTime::from_timestamp(1_795_348_800, 0).unwrap_or_default();
    let mut rng = Rng(7);
    let bodies: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let service = SERVICES[i % SERVICES.len()];
            batch(service, VERSIONS[i / SERVICES.len() % 2], now, &mut rng).encode_to_vec()
        })
        .collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "{} distinct bodies of {BATCH} spans, {:.0} bytes per span; median of {RUNS} runs of {} spans",
        bodies.len(),
        bytes as f64 / (bodies.len() * BATCH) as f64,
        REQUESTS_PER_RUN * BATCH
    );
    let store = SpanStore::new(SpanSettings::default());
    let (limits, budget) = decode_limits();
    // Raw decode and ingest take turns, so both see the same machine (it is shared, and its
    // speed drifts); the ratio is taken within each turn.
    let (mut raw, mut ingest, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let raw_run = || {
        spans_per_second(&bodies, |body| {
            black_box(ExportTraceServiceRequest::decode(black_box(body)).ok());
        })
    };
    let ingest_run = || {
        spans_per_second(&bodies, |body| {
            if let Ok(decoded) =
                decode(black_box(body), Encoding::Protobuf, false, &limits, &budget)
            {
                black_box(store.ingest(&decoded.request, &version_attribute, now));
            }
        })
    };
    // One untimed turn warms the caches, the allocator and the store's buckets.
    raw_run();
    ingest_run();
    for turn in 0..RUNS {
        // Which goes first alternates, so neither always runs on the other's leftovers.
        let (decoded, stored) = if turn % 2 == 0 {
            let decoded = raw_run();
            (decoded, ingest_run())
        } else {
            let stored = ingest_run();
            (raw_run(), stored)
        };
        raw.push(decoded);
        ingest.push(stored);
        ratio.push(stored / decoded);
    }
    let range = |values: &[f64]| {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(0.0, f64::max);
        format!("{low:.0} - {high:.0}")
    };
    println!(
        "raw prost decode           {:>9.0} spans/s (runs {})",
        median(raw.clone()),
        range(&raw)
    );
    println!(
        "decode + SpanStore::ingest {:>9.0} spans/s (runs {})",
        median(ingest.clone()),
        range(&ingest)
    );
    println!(
        "ingest / raw decode, median of the {RUNS} turns: {:.0}% (turns {:.0}% - {:.0}%)",
        100.0 * median(ratio.clone()),
        100.0 * ratio.iter().copied().fold(f64::INFINITY, f64::min),
        100.0 * ratio.iter().copied().fold(0.0, f64::max)
    );
}

/// Streams [`STREAMED`] spans over 150 simulated minutes (past the 2 h retention): 6 services
/// x 2 versions x 5 routes = 60 series, about 1,100 spans per series and minute, so every
/// reservoir fills and the buckets offered (9,000) exceed the default bound.
fn memory() {
    let settings = SpanSettings::default();
    let bound = settings.memory_bound();
    let store = SpanStore::new(settings.clone());
    let (limits, budget) = decode_limits();
    let (rss_before, _) = rss();
    let start = DateTime::from_timestamp(1_795_348_800, 0).unwrap_or_default();
    let requests = STREAMED.div_ceil(BATCH);
    let minutes = 150;
    let mut rng = Rng(11);
    let (mut peak_rss, mut peak_bytes, mut accepted, mut rejected) = (0, 0, 0u64, 0u64);
    let began = Instant::now();
    for r in 0..requests {
        let minute = (r * minutes / requests) as i64;
        let now = start + TimeDelta::minutes(minute + 1);
        let pair = r % (SERVICES.len() * VERSIONS.len());
        let body = batch(SERVICES[pair / 2], VERSIONS[pair % 2], now, &mut rng).encode_to_vec();
        if let Ok(decoded) = decode(&body, Encoding::Protobuf, false, &limits, &budget) {
            let outcome = store.ingest(&decoded.request, &version_attribute, now);
            accepted += outcome.accepted;
            rejected += outcome.rejected;
        }
        if r % 64 == 0 || r + 1 == requests {
            peak_rss = peak_rss.max(rss().0);
            peak_bytes = peak_bytes.max(store.approx_bytes());
        }
    }
    let (rss_after, hwm) = rss();
    let stats = store.stats();
    println!(
        "streamed {} spans in {:.1} s: {accepted} stored, {rejected} refused; at the end {} series, {} buckets, {} evicted early",
        requests * BATCH,
        began.elapsed().as_secs_f64(),
        stats.series,
        stats.buckets,
        stats.evicted
    );
    println!(
        "bound (memory_bound, max_buckets {}): {:.1} MiB; approx_bytes peak {:.1} MiB",
        settings.max_buckets,
        mib(bound),
        mib(peak_bytes)
    );
    println!(
        "process RSS: {:.1} MiB before the stream, peak {:.1} MiB (growth {:.1} MiB), {:.1} MiB at the end; VmHWM {:.1} MiB",
        mib(rss_before),
        mib(peak_rss),
        mib(peak_rss.saturating_sub(rss_before)),
        mib(rss_after),
        mib(hwm)
    );
}

/// Set in the child process that runs [`memory`].
const MEMORY_PHASE: &str = "SLOGATE_BENCH_INGEST_MEMORY";

fn main() {
    if std::env::var_os(MEMORY_PHASE).is_some() {
        memory();
        return;
    }
    throughput();
    // The memory phase runs in a fresh process of its own, so that its RSS and high-water mark
    // are the stream's, not what the throughput runs left in the allocator.
    let child = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .env(MEMORY_PHASE, "1")
            .status()
    });
    match child {
        Ok(status) if status.success() => {}
        other => eprintln!("the memory phase failed: {other:?}"),
    }
}
