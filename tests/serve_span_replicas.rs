//! Spans across replicas and restarts: two `slogate serve` on one PostgreSQL database each
//! receive some of a service's spans, and the canary gate on either counts every span exactly
//! once; one `slogate serve` on SQLite stopped with SIGTERM and started again still judges the
//! spans it received before, the minute still open at the stop included.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::examples::CHECKOUT_TRACES as DEFINITION;
use support::postgres::Cluster;
use support::slogate::{ServeOptions, SlogateGuard};

/// Buckets are flushed every second here (5 s by default), so the test waits less.
const CONFIG: &str = "traces:\n  flush_interval: 1s\n";

fn options(dir: &tempfile::TempDir) -> ServeOptions {
    let slos = dir.path().join("checkout.yaml");
    std::fs::write(&slos, DEFINITION).unwrap();
    ServeOptions {
        slos,
        config: CONFIG.to_string(),
        // No Prometheus: the trace metrics need none.
        ..ServeOptions::new("http://127.0.0.1:9")
    }
}

/// The start of the current minute, Unix seconds.
fn this_minute() -> i64 {
    chrono::Utc::now().timestamp().div_euclid(60) * 60
}

/// Sends `n` SERVER spans of `version`, every `errors_every`-th with status ERROR, ending
/// evenly over `[from, to)` (Unix seconds), as one OTLP/JSON export.
fn send(slogate: &SlogateGuard, version: &str, n: u64, errors_every: u64, (from, to): (i64, i64)) {
    let spans: Vec<Value> = (0..n)
        .map(|i| {
            let end_ns = from as u128 * 1_000_000_000
                + (to - from) as u128 * 1_000_000_000 * u128::from(i) / u128::from(n);
            let duration_ns = 20_000_000 + 100_000 * u128::from(i % 50);
            let code = if i % errors_every == 0 { 2 } else { 1 };
            json!({
                "traceId": format!("{:032x}", u128::from(i) + 1),
                "spanId": format!("{:016x}", i + 1),
                "name": "GET /api/v1/orders",
                "kind": 2,
                "startTimeUnixNano": (end_ns - duration_ns).to_string(),
                "endTimeUnixNano": end_ns.to_string(),
                "status": {"code": code},
            })
        })
        .collect();
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "checkout"}},
            {"key": "service.version", "value": {"stringValue": version}},
        ]},
        "scopeSpans": [{"spans": spans}],
    }]});
    let (status, answer) = slogate.post("/v1/traces", &body.to_string());
    assert_eq!(status, 200, "{answer:#}");
    assert!(answer.get("partialSuccess").is_none(), "{answer:#}");
}

/// `slogate_span_buckets_flushed_total` now.
fn flushed(slogate: &SlogateGuard) -> u64 {
    let (_, metrics) = slogate.request("GET", "/metrics", None, None, &[]);
    metrics
        .as_str()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("slogate_span_buckets_flushed_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Waits until `slogate` wrote at least `buckets` span buckets (bounded: 30 s).
fn wait_flushed(slogate: &SlogateGuard, buckets: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while flushed(slogate) < buckets {
        assert!(
            Instant::now() < deadline,
            "{} of {buckets} buckets written after 30 s:\n{}",
            flushed(slogate),
            slogate.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The canary gate: v2 against v1 over the last ten minutes.
fn gate(slogate: &SlogateGuard) -> Value {
    let body = r#"{"service":"checkout","baseline":{"version":"v1"},"canary":{"version":"v2"},
                   "lookback":"10m"}"#;
    let (status, verdict) = slogate.post("/api/v1/gates/canary", body);
    assert_eq!(status, 200, "{verdict:#}");
    verdict
}

/// `(n, value)` of each side of check `name`.
fn sides(verdict: &Value, name: &str) -> [(u64, f64); 2] {
    let check = verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {verdict:#}"));
    ["baseline", "canary"].map(|side| {
        (
            check[side]["n"]
                .as_u64()
                .unwrap_or_else(|| panic!("{verdict:#}")),
            check[side]["value"].as_f64().unwrap_or(f64::NAN),
        )
    })
}

#[test]
fn two_replicas_on_one_postgres_gate_on_every_span_once() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let options = ServeOptions {
        db: Some(cluster.database_url().into()),
        ..options(&dir)
    };
    let a = SlogateGuard::start(&options);
    let b = SlogateGuard::start(&options);
    // Three whole minutes, ending two minutes ago: closed, so written at the next flush.
    let minute = this_minute();
    let closed = (minute - 300, minute - 120);
    send(&a, "v1", 300, 10, closed);
    send(&a, "v2", 200, 10, closed);
    send(&b, "v1", 250, 10, closed);
    send(&b, "v2", 350, 5, closed);
    // Each replica holds three minutes of each version.
    wait_flushed(&a, 6);
    wait_flushed(&b, 6);

    let (from_a, from_b) = (gate(&a), gate(&b));
    for verdict in [&from_a, &from_b] {
        // v1: 30 + 25 errors of 550 spans; v2: 20 + 70 of 550.
        let [baseline, canary] = sides(verdict, "errors");
        assert_eq!(baseline.0, 550, "{verdict:#}");
        assert_eq!(canary.0, 550, "{verdict:#}");
        assert!((baseline.1 - 55.0 / 550.0).abs() < 1e-9, "{verdict:#}");
        assert!((canary.1 - 90.0 / 550.0).abs() < 1e-9, "{verdict:#}");
        // No bucket overflowed its reservoir: every duration, once.
        let [baseline, canary] = sides(verdict, "latency");
        assert_eq!((baseline.0, canary.0), (550, 550), "{verdict:#}");
    }
    // Both replicas judged the same spans: the same numbers.
    assert_eq!(sides(&from_a, "latency"), sides(&from_b, "latency"));
    assert_eq!(sides(&from_a, "errors"), sides(&from_b, "errors"));
}

#[test]
fn a_replica_stopped_with_sigterm_and_started_again_still_judges_its_spans() {
    let dir = tempfile::tempdir().unwrap();
    let options = options(&dir);
    let mut first = SlogateGuard::start(&options);
    let minute = this_minute();
    send(&first, "v1", 120, 4, (minute - 240, minute - 60));
    send(&first, "v2", 90, 3, (minute - 240, minute - 60));
    // Spans of the minute still open: only the shutdown flush writes them.
    let now = chrono::Utc::now().timestamp();
    send(&first, "v1", 10, 5, (now - 2, now));
    first.signal("TERM");
    assert!(first.wait_exit().success(), "{}", first.log());
    assert!(
        first.log().contains("span buckets written at shutdown"),
        "{}",
        first.log()
    );

    // The same directory, so the same SQLite file; a new process, so another replica id.
    let again = SlogateGuard::start_in(first.into_dir(), &options);
    let verdict = gate(&again);
    let [baseline, canary] = sides(&verdict, "errors");
    assert_eq!(baseline.0, 130, "{verdict:#}");
    assert_eq!(canary.0, 90, "{verdict:#}");
    assert!(
        (baseline.1 - (30.0 + 2.0) / 130.0).abs() < 1e-9,
        "{verdict:#}"
    );
    assert!((canary.1 - 30.0 / 90.0).abs() < 1e-9, "{verdict:#}");
}
