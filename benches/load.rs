//! `slogate serve` under sustained load on loopback, next to the raw Prometheus queries its gates
//! stand on, in the same run.
//!
//! A real Prometheus (backfilled with the example scenario) and a real `slogate serve` process
//! (release binary, token auth, its history in SQLite with `synchronous=FULL`, so every verdict
//! is an fsynced commit before it is answered) are started. Then, for each rate of a ladder:
//!
//! 1. the raw baseline: the exact PromQL queries the gate sends, through the same client code
//!    (`PrometheusSource::instant_all`), at that rate;
//! 2. the gate itself over HTTP, at that rate.
//!
//! Load is open-loop: request `i` is due at `start + i / rate` whether or not earlier ones were
//! answered, each in its own task, and its latency runs from when it was *due* (not when it was
//! sent), so a stalled server cannot hide its queue (no coordinated omission). The ladder stops
//! at the first rate the gate does not hold: fewer than 90% of the due answers per second, p99
//! over 1 s, or more than 1% errors.
//!
//! Overhead is a difference of percentiles at the same rate (gate p99 - raw p99), not a
//! per-request difference: the two runs are different requests.
//!
//! Run: `cargo bench --bench load` (needs `prometheus` and `promtool`). Environment:
//! `LOAD_SECONDS` per step (default 10), `LOAD_RATES` (default `50,100,200,400,800,1600`),
//! `LOAD_GATES` (default `slo,canary`). Figures go in docs/benchmarks.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;
use serde_json::{Value, json};
use slogate::analysis::slo::{plan, selected};
use slogate::evaluate::canary::VALUES_STEP;
use slogate::source::{PrometheusSettings, PrometheusSource};
use slogate::spec::query::with_label_matcher;
use slogate::spec::{CanaryMeasure, Catalog, PromDuration, load_paths};
use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard, TOKEN, example_scenario};
use tokio::sync::oneshot;

/// The healthy service of the example scenario: its error-budget gate should always pass.
const SLO_SERVICE: &str = "reconciliation-backend";
/// The service with a canary profile, and two of its versions that do not differ.
const CANARY_SERVICE: &str = "financeanalyst-api";
const BASELINE: &str = "stable-7d9f";
const CANARY: &str = "good-5c8b";
/// The lookback the generated canary template asks for.
const LOOKBACK: &str = "10m";

/// Argo's `timeoutSeconds` in the generated templates: an answer later than this is a failed
/// measurement for Argo, so it is an error here too.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The server's Prometheus settings (`slogate.yaml` defaults), so the raw baseline retries and
/// gives up exactly as the gate does.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
const QUERY_RETRIES: u32 = 1;

/// When a rate counts as held (the "highest rate the machine holds").
const MIN_ACHIEVED_SHARE: f64 = 0.9;
const MAX_P99: Duration = Duration::from_secs(1);
const MAX_ERROR_SHARE: f64 = 0.01;

/// Pause between runs, so one run's stragglers and Prometheus' work do not spill into the next.
const SETTLE: Duration = Duration::from_secs(2);
/// How often slogate's resident memory is read during a gate run (its peak is reported).
const RSS_SAMPLE: Duration = Duration::from_millis(100);

/// What to run, from the environment.
struct LoadConfig {
    /// Length of each run (raw and gate each take this long per rate).
    seconds: u64,
    /// Rates to try, in requests per second, in order.
    rates: Vec<u32>,
    /// Which gates to load (`slo`, `canary`).
    gates: Vec<String>,
}

impl LoadConfig {
    fn from_env() -> LoadConfig {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or(default.to_string());
        let list = |text: String| -> Vec<String> {
            text.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        LoadConfig {
            seconds: var("LOAD_SECONDS", "10")
                .parse()
                .expect("LOAD_SECONDS: whole seconds"),
            rates: list(var("LOAD_RATES", "50,100,200,400,800,1600"))
                .iter()
                .map(|r| r.parse().expect("LOAD_RATES: requests per second"))
                .collect(),
            gates: list(var("LOAD_GATES", "slo,canary")),
        }
    }
}

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
    /// The error-budget gate: one instant query per distinct window, all at once.
    Slo { queries: Vec<String> },
    /// The canary gate: per metric, either four instant queries (events of each version) or
    /// two range queries (values of each version); all metrics at once.
    Canary { fetches: Vec<Fetch>, lookback: i64 },
}

enum Fetch {
    Instant(Vec<String>),
    Range(String, String),
}

/// The error-budget gate of [`SLO_SERVICE`], with the queries `evaluate_service` plans.
fn slo_gate(catalog: &Catalog) -> Gate {
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
        body: json!({"service": SLO_SERVICE}).to_string(),
        raw: Arc::new(RawWork::Slo { queries }),
    }
}

/// The canary gate of [`CANARY_SERVICE`], with the queries `evaluate_canary` builds (the
/// version matcher added through the syntax tree, the window rendered as the lookback).
fn canary_gate(catalog: &Catalog) -> Gate {
    let service = catalog
        .service(CANARY_SERVICE)
        .expect("the example service");
    let profile = service.canary.as_ref().expect("a canary profile");
    let lookback = PromDuration::parse(LOOKBACK).unwrap();
    let window = lookback.to_string();
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
            "lookback": LOOKBACK,
        })
        .to_string(),
        raw: Arc::new(RawWork::Canary {
            fetches,
            lookback: lookback.as_secs() as i64,
        }),
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

impl RawWork {
    /// One raw request: what the gate asks Prometheus, at "now" as the gate would.
    async fn run(&self, source: &PrometheusSource) -> Answer {
        let now = Utc::now().timestamp();
        let failed = match self {
            RawWork::Slo { queries } => source
                .instant_all(queries, now)
                .await
                .into_iter()
                .find_map(Result::err)
                .map(|e| e.to_string()),
            RawWork::Canary { fetches, lookback } => {
                let (start, end) = (now - lookback, now);
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
                join_all(each)
                    .await
                    .into_iter()
                    .flatten()
                    .next()
                    .map(|e| e.to_string())
            }
        };
        match failed {
            None => Answer::Raw,
            Some(e) => Answer::Error(format!("query: {e}")),
        }
    }
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
    fn error_count(&self) -> usize {
        self.errors.values().sum()
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

/// `VmRSS` and `VmHWM` (peak) of a process, in kB, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Default)]
struct Memory {
    rss_kb: u64,
    hwm_kb: u64,
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
        }
    }
}

/// Reads slogate's RSS every [`RSS_SAMPLE`] until told to stop; returns the largest seen.
async fn peak_rss(pid: u32, mut stop: oneshot::Receiver<()>) -> u64 {
    let mut peak = 0;
    let mut ticks = tokio::time::interval(RSS_SAMPLE);
    loop {
        tokio::select! {
            _ = ticks.tick() => peak = peak.max(Memory::of(pid).rss_kb),
            _ = &mut stop => return peak.max(Memory::of(pid).rss_kb),
        }
    }
}

/// CPU time used so far (user + system, seconds) by the processes that share the 2 cores:
/// slogate, Prometheus, this load generator, and the whole machine (busy and total).
#[derive(Clone, Copy)]
struct Cpu {
    at: Instant,
    slogate: f64,
    prometheus: f64,
    generator: f64,
    machine_busy: f64,
}

/// Per-second use of each, over a run, in cores.
struct CpuUse {
    slogate: f64,
    prometheus: f64,
    generator: f64,
    machine_busy: f64,
}

struct Pids {
    slogate: u32,
    prometheus: Option<u32>,
    ticks_per_second: f64,
}

impl Pids {
    fn snapshot(&self) -> Cpu {
        let process = |pid: &str| -> f64 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command name (which may hold spaces) in parentheses; utime and
            // stime are fields 14 and 15 of the line, 12 and 13 after the `)`.
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
            prometheus: self.prometheus.map_or(0.0, |p| process(&p.to_string())),
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
            prometheus: (self.prometheus - before.prometheus) / wall,
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

/// One rate of the ladder: raw, then the gate, and what slogate used meanwhile.
struct Step {
    rate: u32,
    raw: RunStats,
    gate: RunStats,
    raw_cpu: CpuUse,
    gate_cpu: CpuUse,
    /// slogate's largest RSS seen during the gate run, and its peak since start after it.
    rss_peak_kb: u64,
    hwm_kb: u64,
    history_bytes: u64,
}

impl Step {
    /// Why this rate was not held, if it was not.
    fn not_held(&self) -> Option<String> {
        let g = &self.gate;
        let target = f64::from(self.rate);
        let error_share = g.error_count() as f64 / g.requests as f64;
        if g.achieved < MIN_ACHIEVED_SHARE * target {
            Some(format!("achieved {:.0}/s of {}/s", g.achieved, self.rate))
        } else if g.p99 > MAX_P99 {
            Some(format!("p99 {} over 1 s", ms(g.p99)))
        } else if error_share > MAX_ERROR_SHARE {
            Some(format!("{:.1}% errors", 100.0 * error_share))
        } else {
            None
        }
    }
}

/// Everything the load generator shares across runs.
struct Bench<'a> {
    config: &'a LoadConfig,
    slogate: &'a SlogateGuard,
    pids: Pids,
    /// The baseline's client: the server's own client code and settings.
    source: PrometheusSource,
    /// The gates' client: one pool of keep-alive connections, as Argo's controller holds.
    client: reqwest::Client,
}

impl Bench<'_> {
    /// Climbs the ladder of rates for one gate until a rate is not held.
    async fn ladder(&self, gate: &Gate) -> (Vec<Step>, Option<String>) {
        self.warm_up(gate).await;
        let mut steps = Vec::new();
        for &rate in &self.config.rates {
            let step = self.step(gate, rate).await;
            let stop = step
                .not_held()
                .map(|why| format!("{} at {rate}/s: {why}", gate.name));
            eprintln!(
                "{} {rate}/s: raw p99 {}, gate p99 {}, achieved {:.0}/s, errors {}",
                gate.name,
                ms(step.raw.p99),
                ms(step.gate.p99),
                step.gate.achieved,
                step.gate.error_count()
            );
            steps.push(step);
            if stop.is_some() {
                return (steps, stop);
            }
        }
        (steps, None)
    }

    /// A few sequential requests of each kind, unrecorded: connections opened, Prometheus'
    /// caches and slogate's first-use allocations warm before anything is timed.
    async fn warm_up(&self, gate: &Gate) {
        for _ in 0..20 {
            let _ = gate.raw.run(&self.source).await;
            let answer = self.gate_request(gate)().await;
            if let Answer::Error(e) = answer {
                panic!("{} warm-up failed: {e}\n{}", gate.name, self.slogate.log());
            }
        }
    }

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
        let sampler = tokio::spawn(peak_rss(pid, stopped));
        let before = self.pids.snapshot();
        let answers = open_loop(rate, seconds, self.gate_request(gate)).await;
        let gate_cpu = self.pids.snapshot().since(&before);
        let _ = stop.send(());
        let rss_peak_kb = sampler.await.expect("the RSS sampler");
        tokio::time::sleep(SETTLE).await;
        Step {
            rate,
            raw,
            gate: answers,
            raw_cpu,
            gate_cpu,
            rss_peak_kb,
            hwm_kb: Memory::of(pid).hwm_kb,
            history_bytes: history_bytes(&self.slogate.db),
        }
    }

    /// A maker of gate requests (cheap clones of the client, URL and body per request).
    fn gate_request(&self, gate: &Gate) -> impl Fn() -> Request + use<> {
        let client = self.client.clone();
        let url: Arc<str> = format!("{}{}", self.slogate.url, gate.path).into();
        let body: Arc<str> = gate.body.as_str().into();
        move || Box::pin(call_gate(client.clone(), url.clone(), body.clone()))
    }
}

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

/// Signed difference of two percentiles, in ms.
fn diff(gate: Duration, raw: Duration) -> String {
    let d = gate.as_secs_f64() - raw.as_secs_f64();
    format!("{:+.1} ms", d * 1000.0)
}

/// The figures as markdown tables (stdout), for docs/benchmarks.md.
fn print_report(
    config: &LoadConfig,
    results: &[(&'static str, Vec<Step>, Option<String>)],
    idle: Memory,
    idle_after: Memory,
) {
    println!();
    println!(
        "Command: `LOAD_SECONDS={} LOAD_RATES={} LOAD_GATES={} cargo bench --bench load`",
        config.seconds,
        config
            .rates
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        config.gates.join(","),
    );
    println!();
    println!(
        "Latency from each request's due time; overhead = gate percentile - raw percentile at \
         the same rate ({} s per run).",
        config.seconds
    );
    println!();
    println!("| rate/s | run | answered/s | p50 | p90 | p99 | max | errors | verdicts |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, steps, _) in results {
        for s in steps {
            for (what, run) in [("raw queries", &s.raw), (*name, &s.gate)] {
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
                "| {} | **{name} overhead** | | **{}** | **{}** | **{}** | | | |",
                s.rate,
                diff(s.gate.p50, s.raw.p50),
                diff(s.gate.p90, s.raw.p90),
                diff(s.gate.p99, s.raw.p99),
            );
        }
    }
    println!();
    println!(
        "CPU in cores (of 2) over each run; slogate's RSS sampled every {} ms.",
        RSS_SAMPLE.as_millis()
    );
    println!();
    println!(
        "| rate/s | gate | slogate CPU | Prometheus CPU (gate run / raw run) | load generator CPU (gate / raw) | machine busy (gate / raw) | slogate RSS peak | VmHWM after | history on disk | generator send lag (gate / raw) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, steps, _) in results {
        for s in steps {
            println!(
                "| {} | {name} | {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {} | {} | {:.1} MB | {} / {} |",
                s.rate,
                s.gate_cpu.slogate,
                s.gate_cpu.prometheus,
                s.raw_cpu.prometheus,
                s.gate_cpu.generator,
                s.raw_cpu.generator,
                s.gate_cpu.machine_busy,
                s.raw_cpu.machine_busy,
                mb(s.rss_peak_kb),
                mb(s.hwm_kb),
                s.history_bytes as f64 / 1e6,
                ms(s.gate.send_lag),
                ms(s.raw.send_lag),
            );
        }
    }
    println!();
    println!(
        "slogate RSS idle (ready, before any request): {} (VmHWM {})",
        mb(idle.rss_kb),
        mb(idle.hwm_kb)
    );
    println!(
        "slogate RSS idle after the load: {} (VmHWM {})",
        mb(idle_after.rss_kb),
        mb(idle_after.hwm_kb)
    );
    for (name, _, stop) in results {
        match stop {
            Some(why) => println!("{name}: stopped: {why}"),
            None => println!("{name}: every rate of the ladder held"),
        }
    }
}

fn main() {
    let config = LoadConfig::from_env();
    let catalog =
        load_paths(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slo-definitions")]).catalog;
    let gates: Vec<Gate> = config
        .gates
        .iter()
        .map(|name| match name.as_str() {
            "slo" => slo_gate(&catalog),
            "canary" => canary_gate(&catalog),
            other => panic!("LOAD_GATES: {other:?} is not slo or canary"),
        })
        .collect();

    let prometheus = PrometheusGuard::start(&example_scenario());
    let mut slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    slogate.wait_for("/readyz", 200);
    // Idle: started, definitions loaded, Prometheus answered once; no gate request yet.
    let idle = Memory::of(slogate.pid());

    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let results = runtime.block_on(async {
        let bench = Bench {
            config: &config,
            slogate: &slogate,
            pids: Pids {
                slogate: slogate.pid(),
                prometheus: prometheus_pid(&prometheus.url),
                ticks_per_second: clock_ticks(),
            },
            source: PrometheusSource::new(PrometheusSettings {
                url: prometheus.url.clone(),
                query_timeout: QUERY_TIMEOUT,
                retries: QUERY_RETRIES,
                ..PrometheusSettings::default()
            })
            .expect("the Prometheus URL"),
            client: reqwest::Client::builder()
                .timeout(CLIENT_TIMEOUT)
                .build()
                .expect("an HTTP client"),
        };
        let mut results = Vec::new();
        for gate in &gates {
            let (steps, stop) = bench.ladder(gate).await;
            results.push((gate.name, steps, stop));
        }
        // Idle again: does memory go back once the load is gone?
        tokio::time::sleep(Duration::from_secs(5)).await;
        results
    });
    let idle_after = Memory::of(slogate.pid());
    print_report(&config, &results, idle, idle_after);
}
