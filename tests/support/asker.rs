//! A client that asks slogate's gates as Argo Rollouts does while a test changes the servers
//! under it: one thread per analysis (an AnalysisRun asks one measurement at a time), all at
//! once, each at a steady pace, and one more thread exporting OTLP spans. Every ask is kept
//! with the phase of the test it was made in, for the test to count errors and check the
//! answers afterwards.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

use super::slogate::TOKEN;

/// What one thread asks.
#[derive(Debug, Clone)]
pub enum Analysis {
    /// The canary gate for `canary` against `baseline`, a ten-minute window moved a minute
    /// further at each ask from `first_end` (unix seconds), so every ask is a new look of the
    /// sequential test.
    Canary {
        service: String,
        baseline: String,
        canary: String,
        first_end: i64,
    },
    /// The error-budget gate of `service`.
    Slo { service: String },
    /// OTLP/HTTP JSON exports of one span `operation` each, for `service`, alternately of
    /// each of `versions`, while the test's phase is before `until_phase`.
    Spans {
        service: String,
        operation: String,
        versions: [String; 2],
        until_phase: usize,
    },
}

/// How one ask ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// 2xx with a verdict: its id, outcome and sequential look (canary, sequential mode).
    Verdict {
        id: String,
        verdict: String,
        look: Option<u64>,
    },
    /// 2xx from the OTLP receiver, for a span of `version` ending at `end_ns`.
    Accepted { version: String, end_ns: i64 },
    /// Any other status, with the body.
    Status(u16, String),
    /// No answer: a connection error or a timeout.
    Failed(String),
}

/// One ask.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The index of its analysis in [`Load::start`]'s list.
    pub analysis: usize,
    /// The test's phase when it was sent.
    pub phase: usize,
    /// How it ended.
    pub outcome: Outcome,
}

impl Ask {
    /// Whether it got a 2xx.
    pub fn ok(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Verdict { .. } | Outcome::Accepted { .. }
        )
    }
}

/// The running client.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<Ask>>>,
    /// The phase new asks are tagged with; the test moves it on.
    pub phase: Arc<AtomicUsize>,
    /// Asks sent so far.
    pub started: Arc<AtomicU64>,
    /// Asks answered (any status) or failed so far.
    pub finished: Arc<AtomicU64>,
    /// Asks sent and not yet finished.
    pub in_flight: Arc<AtomicI64>,
    /// When the load began.
    pub began: Instant,
    /// The spans accepted so far: version and end (unix nanoseconds).
    pub spans: Arc<Mutex<Vec<(String, i64)>>>,
}

impl Load {
    /// Starts one thread per analysis against `url`, each asking `per_second` times a second.
    pub fn start(url: &str, analyses: &[Analysis], per_second: f64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicU64::new(0));
        let in_flight = Arc::new(AtomicI64::new(0));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let threads = analyses
            .iter()
            .cloned()
            .enumerate()
            .map(|(index, analysis)| {
                let worker = Worker {
                    url: url.to_string(),
                    index,
                    analysis,
                    stop: stop.clone(),
                    phase: phase.clone(),
                    started: started.clone(),
                    finished: finished.clone(),
                    in_flight: in_flight.clone(),
                    spans: spans.clone(),
                    period: Duration::from_secs_f64(1.0 / per_second),
                };
                std::thread::spawn(move || worker.run())
            })
            .collect();
        Load {
            stop,
            threads,
            phase,
            started,
            finished,
            in_flight,
            began: Instant::now(),
            spans,
        }
    }

    /// Polls until `n` more asks have finished than now (at most 60 s): the load is flowing.
    pub fn wait_progress(&self, n: u64) {
        let target = self.finished.load(Ordering::SeqCst) + n;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.finished.load(Ordering::SeqCst) < target {
            assert!(
                Instant::now() < deadline,
                "the load made no progress in 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops every thread after its ask in flight; every ask made, in order per analysis.
    pub fn stop(self) -> (Vec<Ask>, Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let asks = self
            .threads
            .into_iter()
            .flat_map(|t| t.join().expect("an asking thread panicked"))
            .collect();
        (asks, self.began.elapsed())
    }
}

/// One analysis's thread.
struct Worker {
    url: String,
    index: usize,
    analysis: Analysis,
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicUsize>,
    started: Arc<AtomicU64>,
    finished: Arc<AtomicU64>,
    in_flight: Arc<AtomicI64>,
    spans: Arc<Mutex<Vec<(String, i64)>>>,
    period: Duration,
}

impl Worker {
    fn run(self) -> Vec<Ask> {
        // Keep-alive connections to the balancer, as Argo's HTTP client keeps them.
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut asks = Vec::new();
        let mut next = Instant::now();
        let mut n: i64 = 0;
        while !self.stop.load(Ordering::SeqCst) {
            // Pacing, not synchronisation: the next ask is due one period after the last.
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            next += self.period;
            let phase = self.phase.load(Ordering::SeqCst);
            if let Analysis::Spans { until_phase, .. } = &self.analysis
                && phase >= *until_phase
            {
                continue;
            }
            self.started.fetch_add(1, Ordering::SeqCst);
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let outcome = self.ask(&client, n);
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if let Outcome::Accepted { version, end_ns } = &outcome {
                self.spans.lock().unwrap().push((version.clone(), *end_ns));
            }
            self.finished.fetch_add(1, Ordering::SeqCst);
            asks.push(Ask {
                analysis: self.index,
                phase,
                outcome,
            });
            n += 1;
        }
        asks
    }

    fn ask(&self, client: &Client, n: i64) -> Outcome {
        let (path, content) = match &self.analysis {
            Analysis::Canary {
                service,
                baseline,
                canary,
                first_end,
            } => {
                let end = first_end + 60 * n;
                let body = json!({
                    "service": service,
                    "baseline": {"version": baseline},
                    "canary": {"version": canary},
                    "window": {"start": (end - 600).to_string(), "end": end.to_string()},
                });
                ("/api/v1/gates/canary", body)
            }
            Analysis::Slo { service } => ("/api/v1/gates/slo", json!({"service": service})),
            Analysis::Spans {
                service,
                operation,
                versions,
                ..
            } => {
                let version = &versions[(n % 2) as usize];
                let end_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
                let export = span_export(service, operation, version, end_ns, n);
                ("/v1/traces", export)
            }
        };
        let sent = client
            .post(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/json")
            .body(content.to_string())
            .send();
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("{e:?}")),
        };
        let status = response.status().as_u16();
        let text = match response.text() {
            Ok(t) => t,
            Err(e) => return Outcome::Failed(format!("reading the body: {e:?}")),
        };
        if !(200..300).contains(&status) {
            return Outcome::Status(status, text);
        }
        if let Analysis::Spans { versions, .. } = &self.analysis {
            let sent = &content["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
            return Outcome::Accepted {
                version: versions[(n % 2) as usize].clone(),
                end_ns: sent["endTimeUnixNano"].as_str().unwrap().parse().unwrap(),
            };
        }
        let verdict: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => return Outcome::Status(status, format!("not JSON ({e}): {text}")),
        };
        Outcome::Verdict {
            id: verdict["id"].as_str().unwrap_or_default().to_string(),
            verdict: verdict["verdict"].as_str().unwrap_or_default().to_string(),
            look: verdict["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["sequential"]["look"].as_u64())
                .max(),
        }
    }
}

/// An OTLP/HTTP JSON export of one server span `operation` of `service` at `version`, ending
/// at `end_ns`.
fn span_export(service: &str, operation: &str, version: &str, end_ns: i64, n: i64) -> Value {
    let start = end_ns - 20_000_000 - (n % 7) * 1_000_000;
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}},
            {"key": "k8s.pod.label.rollouts-pod-template-hash", "value": {"stringValue": version}},
        ]},
        "scopeSpans": [{"spans": [{
            "traceId": format!("{:032x}", 0x5eed_0000_u128 + n as u128),
            "spanId": format!("{:016x}", 0x5eed_u64 + n as u64),
            "name": operation,
            "kind": 2,
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": end_ns.to_string(),
            "status": {},
        }]}],
    }]})
}

/// The whole `width`-second span windows that hold `spans` (a minute at least: a gate's
/// shortest window), unix seconds.
pub fn span_window(spans: &[(String, i64)], width: i64) -> (i64, i64) {
    assert!(!spans.is_empty(), "no span was accepted");
    let secs = |ns: i64| ns.div_euclid(1_000_000_000);
    let first = spans.iter().map(|s| secs(s.1)).min().unwrap();
    let last = spans.iter().map(|s| secs(s.1)).max().unwrap();
    let end = last.div_euclid(width) * width + width;
    // No span was sent before the first.
    ((first.div_euclid(width) * width).min(end - 60), end)
}

/// How the canary gate counts the spans sent: the span counts of one trace metric's check,
/// baseline and canary, over a window.
pub struct SpanCheck<'a> {
    pub service: &'a str,
    /// The trace metric's name in the service's canary profile.
    pub metric: &'a str,
    /// Baseline and canary versions.
    pub versions: [&'a str; 2],
    /// Unix seconds.
    pub window: (i64, i64),
}

impl SpanCheck<'_> {
    /// Spans sent of each version: (baseline, canary).
    pub fn expected(&self, spans: &[(String, i64)]) -> (u64, u64) {
        let of = |v: &str| spans.iter().filter(|s| s.0 == v).count() as u64;
        (of(self.versions[0]), of(self.versions[1]))
    }

    /// The counts of the gate's check asked at `url`: (baseline, canary).
    pub fn counts(&self, url: &str) -> (u64, u64) {
        let (start, end) = self.window;
        let body = json!({
            "service": self.service,
            "baseline": {"version": self.versions[0]},
            "canary": {"version": self.versions[1]},
            "window": {"start": start.to_string(), "end": end.to_string()},
        });
        let answer = Client::new()
            .post(format!("{url}/api/v1/gates/canary"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .unwrap();
        let status = answer.status().as_u16();
        let verdict: Value = answer.json().unwrap();
        assert_eq!(status, 200, "{verdict:#}");
        let check = verdict["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == self.metric)
            .unwrap_or_else(|| panic!("no {} check: {verdict:#}", self.metric))
            .clone();
        let n = |side: &str| check[side]["n"].as_u64().unwrap_or(0);
        (n("baseline"), n("canary"))
    }

    /// Polls `replica`'s gate (at most 30 s) until it counts every one of `spans`; never
    /// more.
    pub fn wait_until_counted(
        &self,
        replica: &super::slogate::SlogateGuard,
        spans: &[(String, i64)],
    ) {
        let expected = self.expected(spans);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let counted = self.counts(&replica.url);
            assert!(
                counted.0 <= expected.0 && counted.1 <= expected.1,
                "spans counted twice: {counted:?} of {expected:?}"
            );
            if counted == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "after 30 s the replica counts {counted:?} of {expected:?} spans:\n{}",
                replica.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
