//! What a gate request costs inside slogate, on each store backend: the real `slogate serve`
//! answers the SLO gate (`POST /api/v1/gates/slo`, reconciliation-backend: its queries, its
//! verdict recorded in the history) at a steady 200 requests a second, open loop (each request
//! sent on schedule whether or not the previous ones were answered), against a stand-in
//! Prometheus that answers every query at once with the same synthetic result. Prometheus'
//! time is then constant (near zero), so the latency is slogate's overhead: parsing, planning,
//! the HTTP round trips to the stand-in, judging, and recording the verdict (SQLite: a file
//! with WAL and `synchronous=FULL`; PostgreSQL: a throwaway local cluster with its default
//! durability).
//!
//! Run: `cargo bench --bench gate_overhead`. Figures go in docs/benchmarks.md.

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres_cluster;
#[path = "../tests/support/serve.rs"]
#[allow(dead_code)]
mod serve;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::Uri;
use serde_json::{Value, json};

/// Requests a second, sent on schedule.
const RATE: f64 = 200.0;
/// Requests measured per backend (after the warm-up).
const MEASURED: usize = 4_000;
/// Requests sent first and not measured (connections, caches, the first plans).
const WARM_UP: usize = 400;
const TOKEN: &str = "bench-token-0123456789abcdef";

/// The stand-in Prometheus: every instant query gets one sample, every range query one
/// sample a step; an error-counting query (a `5..` code matcher) gets a small value, others a
/// large one, so the SLO's error ratio is small and the gate passes.
fn replay() -> serve::Served {
    async fn answer(uri: Uri, body: Bytes) -> axum::Json<Value> {
        let text = format!(
            "{}&{}",
            uri.query().unwrap_or(""),
            String::from_utf8_lossy(&body)
        );
        let value = if text.contains("5..") || text.contains("5%2E%2E") {
            "0.02"
        } else {
            "20"
        };
        let param = |name: &str| {
            text.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse::<f64>().ok())
        };
        let now = param("time").unwrap_or(1.7e9);
        if uri.path().ends_with("query_range") {
            let (start, end) = (param("start").unwrap_or(now), param("end").unwrap_or(now));
            let step = param("step").unwrap_or(60.0).max(1.0);
            let points: Vec<Value> = (0..)
                .map(|i| start + step * f64::from(i))
                .take_while(|t| *t <= end)
                .take(11_000)
                .map(|t| json!([t, value]))
                .collect();
            return axum::Json(json!({"status": "success", "data": {"resultType": "matrix",
                "result": [{"metric": {}, "values": points}]}}));
        }
        if uri.path().ends_with("buildinfo") {
            return axum::Json(json!({"status": "success", "data": {"version": "2.53.0"}}));
        }
        axum::Json(json!({"status": "success", "data": {"resultType": "vector",
            "result": [{"metric": {}, "value": [now, value]}]}}))
    }
    serve::Served::start(Router::new().fallback(answer))
}

/// `slogate serve` on `db`, with the stand-in as Prometheus; killed on drop.
struct Slogate {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Slogate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Slogate {
    fn start(prometheus: &str, db: &str) -> Slogate {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("slogate.yaml");
        // The rate limit is per token: raised above the bench's rate.
        std::fs::write(&config, "rate_limit: {per_second: 2000, burst: 2000}\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let db = if db.is_empty() {
            dir.path().join("history.db").display().to_string()
        } else {
            db.to_string()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_slogate"))
            .args(["serve", "--config"])
            .arg(&config)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--prometheus",
                prometheus,
            ])
            .arg("--slos")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/slo-definitions"))
            .args(["--db", &db])
            .env("SLOGATE_API_TOKENS", TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the slogate binary");
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !client
            .get(format!("{url}/readyz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "slogate did not get ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        Slogate {
            child,
            url,
            _dir: dir,
        }
    }
}

/// Sends `WARM_UP + MEASURED` gate requests at [`RATE`], open loop; the measured latencies,
/// sorted, and how many were not 200.
fn load(url: &str) -> (Vec<Duration>, usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let period = Duration::from_secs_f64(1.0 / RATE);
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for i in 0..WARM_UP + MEASURED {
            tokio::time::sleep_until(start + period * i as u32).await;
            let request = client
                .post(format!("{url}/api/v1/gates/slo"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(r#"{"service":"reconciliation-backend"}"#);
            tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                let ok = match request.send().await {
                    Ok(r) => r.status().as_u16() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                (sent.elapsed(), ok)
            }));
        }
        let mut latencies = Vec::new();
        let mut failed = 0;
        for (i, task) in tasks.into_iter().enumerate() {
            let (took, ok) = task.await.unwrap();
            if i >= WARM_UP {
                latencies.push(took);
                failed += usize::from(!ok);
            }
        }
        latencies.sort();
        (latencies, failed)
    })
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    // `cargo test --benches` runs benches with `--bench` absent: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let prometheus = replay();
    let cluster = postgres_cluster::Cluster::start_with(true);
    let pg_url = cluster.database_url();
    let mut p50 = Vec::new();
    for (backend, db) in [("sqlite", ""), ("postgres", pg_url.as_str())] {
        let slogate = Slogate::start(&prometheus.url, db);
        let (latencies, failed) = load(&slogate.url);
        let (median, p99, max) = (
            quantile(&latencies, 0.5),
            quantile(&latencies, 0.99),
            latencies[latencies.len() - 1],
        );
        println!(
            "gate_overhead/{backend}: {} requests at {RATE}/s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {failed} not 200",
            latencies.len(),
            median.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
        );
        p50.push((median, p99));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "gate_overhead: postgres minus sqlite: p50 {:+.2} ms, p99 {:+.2} ms",
        ms(p50[1].0) - ms(p50[0].0),
        ms(p50[1].1) - ms(p50[0].1)
    );
}
