//! `slogate serve` under sustained load on loopback, next to the raw Prometheus queries its gates
//! stand on, in the same run.
//!
//! A real Prometheus (backfilled with the example scenario) and a real `slogate serve` process
//! (release binary, token auth, its history in SQLite with `synchronous=FULL`, so every verdict
//! is an fsynced commit before it is answered) are started. Then, for each rate of a ladder:
//!
//! 1. the raw baseline: the exact PromQL queries the gate sends, through the same client code
//!    (`PrometheusSource`, the server's timeout and retry settings), at that rate;
//! 2. the gate itself over HTTP, as the generated AnalysisTemplate sends it (plus the evaluation
//!    time, pinned to the end of the backfilled data so that every request gets the same
//!    verdict and costs Prometheus the same), at that rate.
//!
//! Load is open-loop: request `i` is due at `start + i / rate` whether or not earlier ones were
//! answered, each in its own task, and its latency runs from when it was *due* (not when it was
//! sent), so a stalled server cannot hide its queue (no coordinated omission). The ladder stops
//! at the first rate not held: fewer than 90% of the due answers per second, p99 over 1 s, or
//! more than 1% of requests failed (an error, or a verdict other than the scenario's `pass`).
//! Each gate's ladder runs on a fresh slogate, so one ladder's overload does not carry over.
//!
//! Each SLO gate request costs Prometheus 8 instant queries, so on 2 shared cores the real
//! Prometheus runs out of CPU long before slogate does. The ladders are therefore run twice:
//!
//! - `prometheus`: against the real Prometheus (what the machine holds end to end);
//! - `replay`: against a stand-in in this process that answers each query with the body the
//!   real Prometheus gave for it (recorded once at start), so slogate's own cost and limit
//!   show at rates Prometheus cannot serve here. The raw baseline then goes to the stand-in too.
//!
//! Last, the history alone: sequential `Store::record` calls of a verdict as the server stored
//! it, the fsync per verdict without HTTP or Prometheus.
//!
//! Overhead is a difference of percentiles at the same rate (gate p99 - raw p99), not a
//! per-request difference: the two runs are different requests.
//!
//! Run: `cargo bench --bench load` (needs `prometheus` and `promtool`). Environment:
//! `LOAD_SECONDS` per run (default 10), `LOAD_RATES` against Prometheus (default
//! `10,25,50,75,100,150,200`), `LOAD_REPLAY_RATES` (default
//! `100,200,400,600,800,1000,1200,1600`), `LOAD_GATES` (default `slo,canary`), `LOAD_MODES`
//! (default `prometheus,replay`), `LOAD_HISTORY_WRITES` (default 3000). Figures go in
//! docs/benchmarks.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Form;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::future::join_all;
use serde_json::{Value, json};
use slogate::analysis::slo::selected;
use slogate::evaluate::canary::VALUES_STEP;
use slogate::evaluate::describe;
use slogate::evaluate::plan::plan;
use slogate::source::{PrometheusSettings, PrometheusSource};
use slogate::spec::query::with_label_matcher;
use slogate::spec::{CanaryMeasure, Catalog, PromDuration, load_paths};
use slogate::store::{Store, VerdictRecord};
use slogate::verdict::new_id;
use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard, TOKEN, example_scenario};
use tokio::sync::oneshot;

/// The healthy service of the example scenario: its error-budget gate should always pass.
const SLO_SERVICE: &str = "reconciliation-backend";
/// The service with a canary profile, and two of its versions that do not differ.
const CANARY_SERVICE: &str = "financeanalyst-api";
const BASELINE: &str = "stable-7d9f";
const CANARY: &str = "good-5c8b";
/// The lookback the generated canary template asks for: the canary window ends at the
/// evaluation time and is this long.
const LOOKBACK: &str = "10m";
/// The verdict every gate request of this scenario should get; anything else is a failure.
const EXPECTED: &str = "pass";

/// Argo's `timeoutSeconds` in the generated templates: an answer later than this is a failed
/// measurement for Argo, so it is an error here too.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The server's Prometheus settings (`slogate.yaml` defaults), so the raw baseline gives up and
/// retries exactly as the gate does.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
const QUERY_RETRIES: u32 = 1;
/// slogate's readiness probe query: the replay stand-in must answer it too.
const PROBE_QUERY: &str = "vector(1)";

/// When a rate counts as held (the issue's "highest rate the machine holds").
const MIN_ACHIEVED_SHARE: f64 = 0.9;
const MAX_P99: Duration = Duration::from_secs(1);
const MAX_FAILED_SHARE: f64 = 0.01;

/// Pause after each run, so one run's stragglers and Prometheus' work do not spill into the
/// next.
const SETTLE: Duration = Duration::from_secs(2);
/// How often slogate's resident memory is read during a gate run (its peak is reported).
const RSS_SAMPLE: Duration = Duration::from_millis(100);
/// Sequential requests of each kind before a ladder, not recorded.
const WARM_UP: usize = 20;

/// What to run, from the environment.
struct LoadConfig {
    /// Length of each run (raw and gate each take this long per rate).
    seconds: u64,
    /// Rates to try against the real Prometheus, in requests per second, in order.
    rates: Vec<u32>,
    /// Rates to try against the replay stand-in.
    replay_rates: Vec<u32>,
    /// Which gates to load (`slo`, `canary`).
    gates: Vec<String>,
    /// Which backends (`prometheus`, `replay`).
    modes: Vec<String>,
    /// How many verdicts the history-alone probe writes.
    history_writes: usize,
}

impl LoadConfig {
    fn from_env() -> LoadConfig {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or(default.to_string());
        let list = |name: &str, default: &str| -> Vec<String> {
            var(name, default)
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let rates = |name: &str, default: &str| -> Vec<u32> {
            list(name, default)
                .iter()
                .map(|r| r.parse().expect("rates: requests per second"))
                .collect()
        };
        LoadConfig {
            seconds: var("LOAD_SECONDS", "10")
                .parse()
                .expect("LOAD_SECONDS: whole seconds"),
            rates: rates("LOAD_RATES", "10,25,50,75,100,150,200"),
            replay_rates: rates("LOAD_REPLAY_RATES", "100,200,400,600,800,1000,1200,1600"),
            gates: list("LOAD_GATES", "slo,canary"),
            modes: list("LOAD_MODES", "prometheus,replay"),
            history_writes: var("LOAD_HISTORY_WRITES", "3000")
                .parse()
                .expect("LOAD_HISTORY_WRITES: a count"),
        }
    }

    fn command(&self) -> String {
        let join = |rates: &[u32]| {
            let text: Vec<String> = rates.iter().map(u32::to_string).collect();
            text.join(",")
        };
        format!(
            "LOAD_SECONDS={} LOAD_RATES={} LOAD_REPLAY_RATES={} LOAD_GATES={} LOAD_MODES={} \
             cargo bench --bench load",
            self.seconds,
            join(&self.rates),
            join(&self.replay_rates),
            self.gates.join(","),
            self.modes.join(","),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The gates and the Prometheus work behind each.

/// A gate under test: the request slogate gets, and the raw Prometheus work behind it.
struct Gate {
    /// For the report.
    name: &'static str,
    /// Path on slogate.
    path: &'static str,
    /// JSON body, as the generated AnalysisTemplate sends it.
    body: String,
    /// The queries the gate sends to Prometheus for this body.
    raw: Arc<RawWork>,
}

/// What one gate request asks of Prometheus, taken from the library's own planning so that
/// the baseline sends byte for byte the queries slogate sends.
enum RawWork {
    /// The error-budget gate: one instant query per distinct window, all at once, at `at`.
    Slo { queries: Vec<String>, at: i64 },
    /// The canary gate: per metric, either four instant queries (events of each version) at
    /// `end` or two range queries (values of each version) over `[start, end]`; all metrics
    /// at once.
    Canary {
        fetches: Vec<Fetch>,
        start: i64,
        end: i64,
    },
}

enum Fetch {
    Instant(Vec<String>),
    Range(String, String),
}

/// The error-budget gate of [`SLO_SERVICE`] at `at`, with the queries `evaluate_service`
/// plans.
fn slo_gate(catalog: &Catalog, at: i64) -> Gate {
    let service = catalog.service(SLO_SERVICE).expect("the example service");
    let selected = selected(service, None, &catalog.alert_windows);
    let queries = plan(&selected)
        .queries
        .into_iter()
        .map(|(_, q)| q)
        .collect();
    Gate {
        name: "SLO gate",
        path: "/api/v1/gates/slo",
        body: json!({"service": SLO_SERVICE, "at": at.to_string()}).to_string(),
        raw: Arc::new(RawWork::Slo { queries, at }),
    }
}

/// The canary gate of [`CANARY_SERVICE`] over the [`LOOKBACK`] before `end`, with the queries
/// `evaluate_canary` builds (the version matcher added through the syntax tree, the window
/// rendered as the lookback).
fn canary_gate(catalog: &Catalog, end: i64) -> Gate {
    let service = catalog
        .service(CANARY_SERVICE)
        .expect("the example service");
    let profile = service.canary.as_ref().expect("a canary profile");
    let lookback = PromDuration::parse(LOOKBACK).unwrap();
    let window = lookback.to_string();
    let start = end - lookback.as_secs() as i64;
    let label = &profile.version_label;
    let for_version = |query: &str, version: &str| {
        with_label_matcher(query, label, version).expect("the profile's queries parse")
    };
    let fetches = profile
        .metrics
        .iter()
        .filter_map(|metric| match &metric.measure {
            CanaryMeasure::PrometheusEvents {
                counted_query,
                total,
                ..
            } => {
                let queries = [BASELINE, CANARY]
                    .iter()
                    .flat_map(|v| {
                        [counted_query, total].map(|q| for_version(&q.render(&window), v))
                    })
                    .collect();
                Some(Fetch::Instant(queries))
            }
            CanaryMeasure::PrometheusValues { query } => {
                let rendered = query.render(&window);
                Some(Fetch::Range(
                    for_version(&rendered, BASELINE),
                    for_version(&rendered, CANARY),
                ))
            }
            // Trace metrics are answered without asking anyone (not supported yet).
            CanaryMeasure::TraceLatency { .. } | CanaryMeasure::TraceErrors { .. } => None,
        })
        .collect();
    Gate {
        name: "canary gate",
        path: "/api/v1/gates/canary",
        body: json!({
            "service": CANARY_SERVICE,
            "baseline": {"version": BASELINE},
            "canary": {"version": CANARY},
            "window": {"start": start.to_string(), "end": end.to_string()},
        })
        .to_string(),
        raw: Arc::new(RawWork::Canary {
            fetches,
            start,
            end,
        }),
    }
}

impl RawWork {
    /// One raw request: what the gate asks Prometheus for the same body.
    async fn run(&self, source: &PrometheusSource) -> Answer {
        let failed = match self {
            RawWork::Slo { queries, at } => source
                .instant_all(queries, *at)
                .await
                .into_iter()
                .find_map(Result::err),
            RawWork::Canary {
                fetches,
                start,
                end,
            } => {
                let (start, end) = (*start, *end);
                let each = fetches.iter().map(|fetch| async move {
                    match fetch {
                        Fetch::Instant(queries) => source
                            .instant_all(queries, end)
                            .await
                            .into_iter()
                            .find_map(Result::err),
                        Fetch::Range(b, c) => {
                            let (rb, rc) = futures::join!(
                                source.range(b, start, end, VALUES_STEP),
                                source.range(c, start, end, VALUES_STEP)
                            );
                            rb.err().or(rc.err())
                        }
                    }
                });
                join_all(each).await.into_iter().flatten().next()
            }
        };
        match failed {
            None => Answer::Raw,
            // The verdict's words for it, without the (long) query text.
            Some(e) => Answer::Error(describe(&e)),
        }
    }
}

/// How one request ended.
enum Answer {
    /// The gate answered 200 with this verdict.
    Verdict(String),
    /// Every raw query answered.
    Raw,
    /// Anything else (status, transport error, timeout, failed query), in a few words.
    Error(String),
}

/// One gate request over HTTP, as Argo sends it.
async fn call_gate(client: reqwest::Client, url: Arc<str>, body: Arc<str>) -> Answer {
    let sent = client
        .post(&*url)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Answer::Error("timeout".into()),
        Err(e) => return Answer::Error(format!("transport: {e}")),
    };
    let status = response.status().as_u16();
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) if e.is_timeout() => return Answer::Error("timeout".into()),
        Err(e) => return Answer::Error(format!("transport: {e}")),
    };
    if status != 200 {
        return Answer::Error(format!("HTTP {status}"));
    }
    let verdict: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    match verdict["verdict"].as_str() {
        Some(v) => Answer::Verdict(v.to_string()),
        None => Answer::Error("no verdict in the answer".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The replay stand-in for Prometheus.

/// Recorded answers by (API path, query text): the time parameters are ignored, so every
/// request gets what Prometheus answered once.
type Answers = Arc<HashMap<(String, String), Bytes>>;

/// One request to record: the API path, the PromQL, and the time parameters.
struct ToRecord<'a> {
    path: &'static str,
    query: &'a str,
    params: Vec<(&'static str, String)>,
}

/// Asks the real Prometheus every query the gates send (and slogate's readiness probe) once,
/// and keeps the bodies it answered.
async fn record_answers(prometheus: &str, gates: &[Gate]) -> Answers {
    let instant = |query, at: i64| ToRecord {
        path: "/api/v1/query",
        query,
        params: vec![("time", at.to_string())],
    };
    let mut wanted = vec![instant(PROBE_QUERY, Utc::now().timestamp())];
    for gate in gates {
        match &*gate.raw {
            RawWork::Slo { queries, at } => wanted.extend(queries.iter().map(|q| instant(q, *at))),
            RawWork::Canary {
                fetches,
                start,
                end,
            } => {
                for fetch in fetches {
                    match fetch {
                        Fetch::Instant(queries) => {
                            wanted.extend(queries.iter().map(|q| instant(q, *end)));
                        }
                        Fetch::Range(b, c) => wanted.extend([b, c].map(|q| ToRecord {
                            path: "/api/v1/query_range",
                            query: q,
                            params: vec![
                                ("start", start.to_string()),
                                ("end", end.to_string()),
                                ("step", VALUES_STEP.as_secs().to_string()),
                            ],
                        })),
                    }
                }
            }
        }
    }
    let client = reqwest::Client::new();
    let mut answers = HashMap::new();
    for ToRecord {
        path,
        query,
        params,
    } in wanted
    {
        let mut url = reqwest::Url::parse(&format!("{prometheus}{path}")).unwrap();
        url.query_pairs_mut()
            .append_pair("query", query)
            .extend_pairs(params);
        let body = client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("Prometheus answers the recorded query");
        let body = body.bytes().await.expect("Prometheus' answer");
        let parsed: Value = serde_json::from_slice(&body).expect("Prometheus' JSON");
        assert_eq!(parsed["status"], "success", "{query}: {parsed}");
        answers.insert((path.to_string(), query.to_string()), body);
    }
    Arc::new(answers)
}

/// `POST /api/v1/query` and `/api/v1/query_range` of the stand-in: the recorded body, or
/// Prometheus' error shape for a query nobody recorded (it shows as an error in the report).
async fn replay(
    State(answers): State<Answers>,
    uri: Uri,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let query = form.get("query").cloned().unwrap_or_default();
    match answers.get(&(uri.path().to_string(), query)) {
        Some(body) => ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"error","errorType":"bad_data","error":"not recorded"}"#,
        )
            .into_response(),
    }
}

/// Serves the recorded answers on a free loopback port (on the bench's runtime, until the
/// process ends); its URL.
async fn start_replay(answers: Answers) -> String {
    let app = axum::Router::new()
        .route("/api/v1/query", axum::routing::post(replay))
        .route("/api/v1/query_range", axum::routing::post(replay))
        .with_state(answers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

// ---------------------------------------------------------------------------------------------
// Open-loop load.

/// What one run at one rate measured.
struct RunStats {
    /// Requests due over the run.
    requests: usize,
    /// Answers that were not errors, per second, from the first due time to the last answer.
    achieved: f64,
    /// Latency percentiles from the due time (all requests, errors included).
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    /// Errors by kind.
    errors: BTreeMap<String, usize>,
    /// Gate verdicts by outcome.
    verdicts: BTreeMap<String, usize>,
    /// How late the load generator itself was in sending (a check on the measurement).
    send_lag: Duration,
}

impl RunStats {
    /// Errors, and verdicts other than the scenario's truth (an `inconclusive` because
    /// Prometheus did not answer in time fails Argo's measurement just the same).
    fn failed(&self) -> usize {
        let wrong: usize = self
            .verdicts
            .iter()
            .filter(|(v, _)| *v != EXPECTED)
            .map(|(_, n)| n)
            .sum();
        self.errors.values().sum::<usize>() + wrong
    }
}

type Request = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// Sends `rate` requests a second for `seconds`, open-loop: each one at its due time in its
/// own task, whatever happened to the earlier ones.
async fn open_loop(rate: u32, seconds: u64, make: impl Fn() -> Request) -> RunStats {
    let count = rate as usize * seconds as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(count);
    let mut send_lag = Duration::ZERO;
    for i in 0..count {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        send_lag = send_lag.max(due.elapsed());
        let request = make();
        tasks.push(tokio::spawn(async move {
            let answer = request.await;
            (due, Instant::now(), answer)
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    let mut errors = BTreeMap::new();
    let mut verdicts = BTreeMap::new();
    let mut last = start;
    let mut answered = 0;
    for task in tasks {
        let (due, done, answer) = task.await.expect("a request task");
        latencies.push(done - due);
        last = last.max(done);
        match answer {
            Answer::Verdict(v) => {
                answered += 1;
                *verdicts.entry(v).or_insert(0) += 1;
            }
            Answer::Raw => answered += 1,
            Answer::Error(e) => *errors.entry(e).or_insert(0) += 1,
        }
    }
    latencies.sort();
    RunStats {
        requests: count,
        achieved: answered as f64 / (last - start).as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p90: percentile(&latencies, 0.90),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
        errors,
        verdicts,
        send_lag,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// Memory, CPU and disk of the processes under test.

/// `VmRSS` and `VmHWM` (peak) of a process, in kB, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Default)]
struct Memory {
    rss_kb: u64,
    hwm_kb: u64,
    /// OS threads: tokio's workers plus its blocking pool, where history writes wait.
    threads: u64,
}

impl Memory {
    fn of(pid: u32) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kb| kb.parse().ok())
                .unwrap_or(0)
        };
        Memory {
            rss_kb: field("VmRSS:"),
            hwm_kb: field("VmHWM:"),
            threads: field("Threads:"),
        }
    }
}

/// Reads slogate's RSS and thread count every [`RSS_SAMPLE`] until told to stop; returns the
/// largest of each seen.
async fn peak_memory(pid: u32, mut stop: oneshot::Receiver<()>) -> Memory {
    let mut peak = Memory::default();
    let mut ticks = tokio::time::interval(RSS_SAMPLE);
    loop {
        let last = tokio::select! {
            _ = ticks.tick() => false,
            _ = &mut stop => true,
        };
        let now = Memory::of(pid);
        peak.rss_kb = peak.rss_kb.max(now.rss_kb);
        peak.threads = peak.threads.max(now.threads);
        if last {
            return peak;
        }
    }
}

/// CPU seconds (user + system) used so far by the processes that share the 2 cores: slogate,
/// Prometheus, this load generator (with the replay stand-in), and the whole machine (busy
/// time, other users' work included: the machine is shared).
#[derive(Clone, Copy)]
struct Cpu {
    at: Instant,
    slogate: f64,
    prometheus: Option<f64>,
    generator: f64,
    machine_busy: f64,
}

/// Use of each over a run, in cores.
struct CpuUse {
    slogate: f64,
    prometheus: Option<f64>,
    generator: f64,
    machine_busy: f64,
}

/// Where to read CPU times.
struct Pids {
    slogate: u32,
    /// None when no Prometheus takes part (the replay runs).
    prometheus: Option<u32>,
    ticks_per_second: f64,
}

impl Pids {
    fn snapshot(&self) -> Cpu {
        let process = |pid: &str| -> f64 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The command name (in parentheses) may hold spaces: count fields after the `)`.
            // utime and stime are fields 14 and 15 of the line, 12th and 13th after it.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = after.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / self.ticks_per_second
        };
        // `cpu user nice system idle iowait irq softirq steal ...` in ticks; busy is all but
        // idle and iowait.
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let all: Vec<f64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let total: f64 = all.iter().take(8).sum();
        let idle = all.get(3).unwrap_or(&0.0) + all.get(4).unwrap_or(&0.0);
        Cpu {
            at: Instant::now(),
            slogate: process(&self.slogate.to_string()),
            prometheus: self.prometheus.map(|p| process(&p.to_string())),
            generator: process("self"),
            machine_busy: (total - idle) / self.ticks_per_second,
        }
    }
}

impl Cpu {
    fn since(&self, before: &Cpu) -> CpuUse {
        let wall = (self.at - before.at).as_secs_f64();
        CpuUse {
            slogate: (self.slogate - before.slogate) / wall,
            prometheus: self
                .prometheus
                .zip(before.prometheus)
                .map(|(now, then)| (now - then) / wall),
            generator: (self.generator - before.generator) / wall,
            machine_busy: (self.machine_busy - before.machine_busy) / wall,
        }
    }
}

/// The Prometheus process listening on `url`'s port (the guard keeps its child private).
fn prometheus_pid(url: &str) -> Option<u32> {
    let flag = format!("--web.listen-address={}", url.trim_start_matches("http://"));
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.split('\0').any(|arg| arg == flag).then_some(pid)
        })
}

/// Clock ticks per second of `/proc/*/stat` (`getconf CLK_TCK`, 100 on Linux in practice).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Bytes of the history on disk: the database and its WAL.
fn history_bytes(db: &Path) -> u64 {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(PathBuf::from(name)).map_or(0, |m| m.len())
    };
    with("") + with("-wal")
}

// ---------------------------------------------------------------------------------------------
// The ladder.

/// One rate of the ladder: raw, then the gate, and what slogate used meanwhile.
struct Step {
    rate: u32,
    raw: RunStats,
    gate: RunStats,
    raw_cpu: CpuUse,
    gate_cpu: CpuUse,
    /// slogate's largest RSS and thread count seen during the gate run.
    peak: Memory,
    /// slogate's peak RSS since it started, read after the gate run.
    hwm_kb: u64,
    /// The history (database and WAL) after the gate run.
    history_bytes: u64,
}

impl Step {
    /// Why this rate was not held, if it was not.
    fn not_held(&self) -> Option<String> {
        let g = &self.gate;
        let failed_share = g.failed() as f64 / g.requests as f64;
        if g.achieved < MIN_ACHIEVED_SHARE * f64::from(self.rate) {
            Some(format!("answered {:.0}/s of {}/s", g.achieved, self.rate))
        } else if g.p99 > MAX_P99 {
            Some(format!("p99 {} over 1 s", ms(g.p99)))
        } else if failed_share > MAX_FAILED_SHARE {
            Some(format!(
                "{:.1}% failed ({}; {})",
                100.0 * failed_share,
                counts(&g.errors),
                counts(&g.verdicts)
            ))
        } else {
            None
        }
    }
}

/// One gate's ladder: the steps run, and why it stopped (None: every rate held).
struct Ladder {
    gate: &'static str,
    steps: Vec<Step>,
    stop: Option<String>,
    /// slogate's memory when ready, before any request, and 5 s after the last run.
    idle: Memory,
    idle_after: Memory,
    /// The newest verdict of [`SLO_SERVICE`] as the server stored it (with its inputs), for
    /// timing history writes alone.
    stored: Option<VerdictRecord>,
}

/// Everything about one backend's runs.
struct ModeReport {
    /// `real Prometheus` or `replayed answers`.
    backend: &'static str,
    ladders: Vec<Ladder>,
}

/// The load generator's side of one backend: the slogate under test and the clients.
struct Bench<'a> {
    config: &'a LoadConfig,
    slogate: &'a SlogateGuard,
    pids: Pids,
    /// The baseline's client: the server's own client code and settings.
    source: PrometheusSource,
    /// The gates' client: one pool of keep-alive connections, as Argo's controller holds.
    client: reqwest::Client,
}

impl<'a> Bench<'a> {
    fn new(
        config: &'a LoadConfig,
        slogate: &'a SlogateGuard,
        prometheus_url: &str,
        prometheus_pid: Option<u32>,
    ) -> Bench<'a> {
        Bench {
            config,
            slogate,
            pids: Pids {
                slogate: slogate.pid(),
                prometheus: prometheus_pid,
                ticks_per_second: clock_ticks(),
            },
            source: PrometheusSource::new(PrometheusSettings {
                url: prometheus_url.to_string(),
                query_timeout: QUERY_TIMEOUT,
                retries: QUERY_RETRIES,
                ..PrometheusSettings::default()
            })
            .expect("the Prometheus URL"),
            client: reqwest::Client::builder()
                .timeout(CLIENT_TIMEOUT)
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Climbs the ladder of rates for one gate until a rate is not held; the steps run, and
    /// why it stopped (None: every rate held).
    async fn ladder(&self, gate: &Gate, rates: &[u32]) -> (Vec<Step>, Option<String>) {
        self.warm_up(gate).await;
        let mut steps = Vec::new();
        for &rate in rates {
            let step = self.step(gate, rate).await;
            let stop = step.not_held();
            eprintln!(
                "{} {rate}/s: raw p99 {}, gate p99 {}, answered {:.0}/s, failed {}",
                gate.name,
                ms(step.raw.p99),
                ms(step.gate.p99),
                step.gate.achieved,
                step.gate.failed()
            );
            steps.push(step);
            if let Some(why) = stop {
                return (steps, Some(format!("at {rate}/s: {why}")));
            }
        }
        (steps, None)
    }

    /// A few sequential requests of each kind, unrecorded: connections opened, Prometheus'
    /// caches and slogate's first-use allocations warm before anything is timed.
    async fn warm_up(&self, gate: &Gate) {
        let request = self.gate_request(gate);
        for _ in 0..WARM_UP {
            if let Answer::Error(e) = gate.raw.run(&self.source).await {
                panic!("{} raw warm-up failed: {e}", gate.name);
            }
            match request().await {
                Answer::Verdict(v) if v == EXPECTED => {}
                Answer::Verdict(v) => panic!("{} warm-up answered {v}", gate.name),
                Answer::Raw => unreachable!("a gate request answers a verdict"),
                Answer::Error(e) => {
                    panic!("{} warm-up failed: {e}\n{}", gate.name, self.slogate.log())
                }
            }
        }
    }

    /// The raw baseline at `rate`, then the gate at `rate`.
    async fn step(&self, gate: &Gate, rate: u32) -> Step {
        let seconds = self.config.seconds;
        let before = self.pids.snapshot();
        let raw = open_loop(rate, seconds, || {
            let (work, source) = (gate.raw.clone(), self.source.clone());
            Box::pin(async move { work.run(&source).await })
        })
        .await;
        let raw_cpu = self.pids.snapshot().since(&before);
        tokio::time::sleep(SETTLE).await;

        let pid = self.slogate.pid();
        let (stop, stopped) = oneshot::channel();
        let sampler = tokio::spawn(peak_memory(pid, stopped));
        let before = self.pids.snapshot();
        let answers = open_loop(rate, seconds, self.gate_request(gate)).await;
        let gate_cpu = self.pids.snapshot().since(&before);
        let _ = stop.send(());
        let peak = sampler.await.expect("the memory sampler");
        let step = Step {
            rate,
            raw,
            gate: answers,
            raw_cpu,
            gate_cpu,
            peak,
            hwm_kb: Memory::of(pid).hwm_kb,
            history_bytes: history_bytes(&self.slogate.db),
        };
        tokio::time::sleep(SETTLE).await;
        step
    }

    /// A maker of gate requests (cheap clones of the client, URL and body per request).
    fn gate_request(&self, gate: &Gate) -> impl Fn() -> Request + use<> {
        let client = self.client.clone();
        let url: Arc<str> = format!("{}{}", self.slogate.url, gate.path).into();
        let body: Arc<str> = gate.body.as_str().into();
        move || Box::pin(call_gate(client.clone(), url.clone(), body.clone()))
    }
}

/// Where the gates are loaded: the backend slogate and the baseline query.
struct Backend<'a> {
    /// `real Prometheus` or `replayed answers`.
    name: &'static str,
    url: &'a str,
    /// Prometheus' process, for its CPU; None for the replay stand-in (in this process).
    pid: Option<u32>,
    rates: &'a [u32],
}

/// Every gate's ladder against one backend.
fn run_mode(
    runtime: &tokio::runtime::Runtime,
    config: &LoadConfig,
    gates: &[Gate],
    backend: &Backend,
) -> ModeReport {
    ModeReport {
        backend: backend.name,
        ladders: gates
            .iter()
            .map(|gate| run_ladder(runtime, config, gate, backend))
            .collect(),
    }
}

/// One gate's ladder on a fresh `slogate serve` (so that one ladder's overload does not carry
/// into the next, and each starts from idle). Blocking, as the harness' guard is: it runs
/// outside the runtime and enters it for the load.
fn run_ladder(
    runtime: &tokio::runtime::Runtime,
    config: &LoadConfig,
    gate: &Gate,
    backend: &Backend,
) -> Ladder {
    let mut slogate = SlogateGuard::start(&ServeOptions::new(backend.url));
    slogate.wait_for("/readyz", 200);
    // Idle: started, definitions loaded, Prometheus answered once; no gate request yet.
    let idle = Memory::of(slogate.pid());
    let (steps, stop) = runtime.block_on(async {
        let bench = Bench::new(config, &slogate, backend.url, backend.pid);
        let ladder = bench.ladder(gate, backend.rates).await;
        // Idle again: does memory go back once the load is gone?
        tokio::time::sleep(Duration::from_secs(5)).await;
        ladder
    });
    Ladder {
        gate: gate.name,
        steps,
        stop,
        idle,
        idle_after: Memory::of(slogate.pid()),
        stored: stored_verdict(&slogate),
    }
}

/// The newest verdict of [`SLO_SERVICE`] in slogate's history, with its inputs.
fn stored_verdict(slogate: &SlogateGuard) -> Option<VerdictRecord> {
    let (_, page) = slogate.get(&format!("/api/v1/verdicts?service={SLO_SERVICE}&limit=1"));
    let id = page["verdicts"][0]["id"].as_str()?;
    let (_, detail) = slogate.get(&format!("/api/v1/verdicts/{id}"));
    Some(VerdictRecord {
        verdict: serde_json::from_value(detail["verdict"].clone()).ok()?,
        inputs: detail["inputs"].clone(),
        recorded_at: Utc::now(),
    })
}

// ---------------------------------------------------------------------------------------------
// The history alone.

/// Sequential `Store::record` calls, each an fsynced commit.
struct WriteStats {
    writes: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// Bytes of one stored verdict (its JSON and its inputs' JSON).
    record_bytes: usize,
}

/// Writes `writes` copies of `record` (fresh ids) one after another to a new history file in
/// a temp directory, on the file system slogate's history was on: the cost of the fsync per
/// verdict without HTTP or Prometheus. The server's history is one connection behind a mutex,
/// so this sequential rate is also the ceiling of verdicts per second it can store.
fn history_alone(record: &VerdictRecord, writes: usize) -> WriteStats {
    let dir = tempfile::tempdir().expect("a temp directory");
    let store = Store::open(&dir.path().join("history.db")).expect("a new history");
    let record_bytes = serde_json::to_string(&record.verdict).map_or(0, |j| j.len())
        + serde_json::to_string(&record.inputs).map_or(0, |j| j.len());
    let mut times = Vec::with_capacity(writes);
    let started = Instant::now();
    for _ in 0..writes {
        let mut copy = record.clone();
        copy.verdict.id = new_id();
        copy.recorded_at = Utc::now();
        let t = Instant::now();
        store.record(&copy).expect("a history write");
        times.push(t.elapsed());
    }
    let per_second = writes as f64 / started.elapsed().as_secs_f64();
    times.sort();
    WriteStats {
        writes,
        per_second,
        p50: percentile(&times, 0.50),
        p99: percentile(&times, 0.99),
        max: times.last().copied().unwrap_or_default(),
        record_bytes,
    }
}

// ---------------------------------------------------------------------------------------------
// The report.

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn counts(map: &BTreeMap<String, usize>) -> String {
    if map.is_empty() {
        return "0".to_string();
    }
    let parts: Vec<String> = map.iter().map(|(k, n)| format!("{k} {n}")).collect();
    parts.join(", ")
}

/// Signed difference of two percentiles.
fn diff(gate: Duration, raw: Duration) -> String {
    let d = gate.as_secs_f64() - raw.as_secs_f64();
    format!("{:+.1} ms", d * 1000.0)
}

fn cores(c: Option<f64>) -> String {
    c.map_or("-".to_string(), |c| format!("{c:.2}"))
}

/// One backend's figures as markdown tables (stdout), for docs/benchmarks.md.
fn print_mode(report: &ModeReport, seconds: u64) {
    println!();
    println!("### Against {}", report.backend);
    println!();
    println!(
        "Latency from each request's due time, {seconds} s per run; overhead = gate percentile \
         - raw percentile at the same rate."
    );
    println!();
    println!("| rate/s | run | answered/s | p50 | p90 | p99 | max | errors | verdicts |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for ladder in &report.ladders {
        for s in &ladder.steps {
            for (what, run) in [("raw queries", &s.raw), (ladder.gate, &s.gate)] {
                println!(
                    "| {} | {what} | {:.0} | {} | {} | {} | {} | {} | {} |",
                    s.rate,
                    run.achieved,
                    ms(run.p50),
                    ms(run.p90),
                    ms(run.p99),
                    ms(run.max),
                    counts(&run.errors),
                    counts(&run.verdicts),
                );
            }
            println!(
                "| {} | **overhead** | | **{}** | **{}** | **{}** | | | |",
                s.rate,
                diff(s.gate.p50, s.raw.p50),
                diff(s.gate.p90, s.raw.p90),
                diff(s.gate.p99, s.raw.p99),
            );
        }
    }
    println!();
    println!(
        "CPU in cores (of 2) over each run (gate run / raw run); slogate's RSS sampled every \
         {} ms during the gate run.",
        RSS_SAMPLE.as_millis()
    );
    println!();
    println!(
        "| rate/s | gate | slogate CPU | Prometheus CPU | load generator CPU | machine busy | \
         slogate RSS peak | VmHWM | slogate threads | history on disk | send lag |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for ladder in &report.ladders {
        for s in &ladder.steps {
            println!(
                "| {} | {} | {:.2} | {} / {} | {:.2} / {:.2} | {:.2} / {:.2} | {} | {} | {} | {:.1} MB | {} / {} |",
                s.rate,
                ladder.gate,
                s.gate_cpu.slogate,
                cores(s.gate_cpu.prometheus),
                cores(s.raw_cpu.prometheus),
                s.gate_cpu.generator,
                s.raw_cpu.generator,
                s.gate_cpu.machine_busy,
                s.raw_cpu.machine_busy,
                mb(s.peak.rss_kb),
                mb(s.hwm_kb),
                s.peak.threads,
                s.history_bytes as f64 / 1e6,
                ms(s.gate.send_lag),
                ms(s.raw.send_lag),
            );
        }
    }
    println!();
    for ladder in &report.ladders {
        println!(
            "{}: slogate RSS idle (ready, before any request) {} (VmHWM {}); 5 s after the \
             load {} (VmHWM {}).",
            ladder.gate,
            mb(ladder.idle.rss_kb),
            mb(ladder.idle.hwm_kb),
            mb(ladder.idle_after.rss_kb),
            mb(ladder.idle_after.hwm_kb),
        );
        match &ladder.stop {
            Some(why) => println!("{}: not held {why}.", ladder.gate),
            None => println!("{}: every rate of the ladder held.", ladder.gate),
        }
    }
}

fn main() {
    let config = LoadConfig::from_env();
    let definitions = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slo-definitions");
    let catalog = load_paths(&[definitions]).catalog;
    let scenario = example_scenario();
    // Every request evaluates at the end of the backfilled data (`at`, and a canary `window`
    // ending there, where the templates leave both to default to "now"): the data stops there,
    // so a 10m canary window ending at "now" would run out of samples minutes into the run.
    // Pinned, every request gets the same verdict and costs Prometheus the same work.
    let at = scenario.end();
    let gates: Vec<Gate> = config
        .gates
        .iter()
        .map(|name| match name.as_str() {
            "slo" => slo_gate(&catalog, at),
            "canary" => canary_gate(&catalog, at),
            other => panic!("LOAD_GATES: {other:?} is not slo or canary"),
        })
        .collect();
    let prometheus = PrometheusGuard::start(&scenario);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");

    let mut reports = Vec::new();
    for mode in &config.modes {
        let report = match mode.as_str() {
            "prometheus" => {
                let backend = Backend {
                    name: "real Prometheus",
                    url: &prometheus.url,
                    pid: prometheus_pid(&prometheus.url),
                    rates: &config.rates,
                };
                run_mode(&runtime, &config, &gates, &backend)
            }
            "replay" => {
                // Recorded from the real Prometheus, served from this process: slogate's own
                // limits, with Prometheus' CPU out of the picture.
                let url = runtime.block_on(async {
                    start_replay(record_answers(&prometheus.url, &gates).await).await
                });
                let backend = Backend {
                    name: "replayed answers",
                    url: &url,
                    pid: None,
                    rates: &config.replay_rates,
                };
                run_mode(&runtime, &config, &gates, &backend)
            }
            other => panic!("LOAD_MODES: {other:?} is not prometheus or replay"),
        };
        reports.push(report);
    }
    let stored = reports
        .iter()
        .flat_map(|r| &r.ladders)
        .find_map(|l| l.stored.clone());
    let writes = stored.map(|record| history_alone(&record, config.history_writes));

    println!();
    println!("Command: `{}`", config.command());
    for report in &reports {
        print_mode(report, config.seconds);
    }
    if let Some(w) = writes {
        println!();
        println!(
            "History alone: {} sequential writes of a stored SLO verdict ({} bytes of JSON), \
             each an fsynced commit: {:.0} writes/s, p50 {}, p99 {}, max {}.",
            w.writes,
            w.record_bytes,
            w.per_second,
            ms(w.p50),
            ms(w.p99),
            ms(w.max)
        );
    }
}
