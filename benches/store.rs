//! History writes per second on each backend: `Store::record` of a typical canary verdict with
//! its inputs, each write committed (and, on both backends, fsynced) before the next, from one
//! thread and from 8 at once (the server records from `spawn_blocking`, so concurrent gates
//! write concurrently). SQLite: a file with WAL and `synchronous=FULL`. PostgreSQL: a
//! throwaway local cluster (unix socket) with its default durability (fsync, synchronous
//! commit), started as `nobody` when run as root.
//!
//! Run: `cargo bench --bench store`. Figures go in docs/benchmarks.md.

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres_cluster;

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde_json::json;
use slogate::store::{PostgresConfig, Store, VerdictRecord};
use slogate::verdict::Verdict;

/// Writes per timed run.
const WRITES: usize = 2_000;
/// Writer threads in the concurrent run.
const THREADS: usize = 8;

fn record(i: usize, thread: usize) -> VerdictRecord {
    let verdict: Verdict = serde_json::from_value(json!({
        "id": format!("v-{thread}-{i:08}"), "kind": "canary", "verdict": "pass", "score": 100.0,
        "summary": "checkout: canary passes", "service": "checkout",
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:10:00Z"},
        "checks": [{"name": "error-rate", "source": "prometheus", "verdict": "pass",
            "classification": "pass", "baseline": {"n": 120, "value": 0.01},
            "canary": {"n": 118, "value": 0.012}, "effect": 1.2, "interval": [-0.01, 0.02],
            "p_value": 0.31, "threshold": "allowed increase 1.10",
            "reason": "no significant difference"}],
        "evaluated_at": "2026-01-01T00:10:01Z",
    }))
    .unwrap();
    VerdictRecord {
        inputs: json!({"request": {"service": "checkout", "baseline": {"version": "a"},
            "canary": {"version": "b"}}, "queries": ["sum(rate(http_requests_total[1m]))"]}),
        verdict,
        recorded_at: Utc::now(),
    }
}

/// Writes per second of `WRITES` records, from `threads` threads sharing `store`.
fn rate(store: &Arc<Store>, threads: usize, run: usize) -> f64 {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let store = store.clone();
            scope.spawn(move || {
                for i in 0..WRITES / threads {
                    store.record(&record(i, run * 100 + t)).unwrap();
                }
            });
        }
    });
    WRITES as f64 / start.elapsed().as_secs_f64()
}

fn report(backend: &str, store: Store) {
    let store = Arc::new(store);
    for (run, threads) in [(0, 1), (1, THREADS)] {
        let per_second = rate(&store, threads, run);
        println!("{backend:<10} {threads} writer(s): {per_second:>8.0} history writes/s");
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    report("sqlite", Store::open(&dir.path().join("bench.db")).unwrap());
    let cluster = postgres_cluster::Cluster::start_with(true);
    let config = PostgresConfig {
        pool_size: THREADS as u32,
        ..PostgresConfig::new(cluster.database())
    };
    report("postgres", Store::open_postgres(&config).unwrap());
}
