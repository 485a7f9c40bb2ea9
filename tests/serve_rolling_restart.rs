//! A rolling restart of three `slogate serve` replicas on one PostgreSQL behind HAProxy, with
//! real parts: a real Prometheus holding canary-shaped data, HAProxy health-checking
//! `/readyz`, the Slack and PagerDuty stand-ins, and a client asking the canary and SLO gates
//! as Argo does (several analyses at once) while exporting spans.
//!
//! Each replica in turn gets SIGTERM, exits, and starts again on its port; then one is killed
//! with SIGKILL. What must hold: no ask fails during the SIGTERM restarts (readiness turns 503
//! at once and the listener keeps serving through the drain, so HAProxy moves the traffic
//! before the port closes); SIGKILL fails at most the asks in flight on that replica; every
//! answered verdict is in the history; each analysis's looks go on one by one, none counted
//! twice; each change of outcome reaches Slack and PagerDuty exactly once.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use support::asker::{Analysis, Ask, Load, Outcome, SpanCheck, span_window};
use support::haproxy::HaproxyGuard;
use support::postgres::Cluster;
use support::prometheus::{PrometheusGuard, free_port};
use support::receivers::{Receiver, notify_config};
use support::scenario::{Scenario, Segment, Workload};
use support::slogate::{ServeOptions, SlogateGuard};

const HOUR: u64 = 3600;
/// Phases of the test, as the asks are tagged.
const WARM: usize = 0;
const SIGTERM: usize = 1;
const SIGKILL: usize = 2;
const AFTER: usize = 3;
const SERVICE: &str = "financeanalyst-api";
const BASELINE: &str = "stable-7d9f";
const SPANS_SERVICE: &str = "finbot-api";
const SPANS_OPERATION: &str = "POST /api/v1/chat";
const SPANS_CANARY: &str = "canary-5c1e";
/// Span windows of 10 s, written 1 s after they close and checked every second: the test
/// waits seconds, not minutes, for every span to be in the store.
const TRACES: &str = "traces: {window: 10s, flush_interval: 1s, flush_grace: 1s}\n";

fn workload(version: Option<&str>, service: &str, error_ratio: f64) -> Workload {
    Workload {
        service: service.into(),
        version: version.map(String::from),
        segments: vec![Segment {
            seconds: 3 * HOUR,
            rps: 20.0,
            error_ratio,
            slow_ratio: error_ratio * 5.0,
        }],
    }
}

/// A stable version, two canaries as good as it and one much worse; an SLO burning its budget
/// (mita-backend) and a healthy one (reconciliation-backend).
fn scenario() -> Scenario {
    let end = (Utc::now().timestamp() - 15) / 15 * 15;
    Scenario {
        start: end - 3 * HOUR as i64,
        step: 15,
        workloads: vec![
            workload(Some(BASELINE), SERVICE, 0.001),
            workload(Some("good-1"), SERVICE, 0.001),
            workload(Some("good-2"), SERVICE, 0.001),
            workload(Some("bad-1"), SERVICE, 0.05),
            workload(None, "mita-backend", 0.2),
            workload(None, "reconciliation-backend", 0.0001),
        ],
    }
}

fn analyses(scenario: &Scenario) -> Vec<Analysis> {
    let canary = |canary: &str| Analysis::Canary {
        service: SERVICE.into(),
        baseline: BASELINE.into(),
        canary: canary.into(),
        // Half an hour in; a minute later at each ask, up to two and a half hours of asks.
        first_end: scenario.start + 1800,
    };
    vec![
        canary("good-1"),
        canary("good-2"),
        canary("bad-1"),
        Analysis::Slo {
            service: "mita-backend".into(),
        },
        Analysis::Slo {
            service: "reconciliation-backend".into(),
        },
        // Spans of a service judged on them (finbot-api's answer-latency), both versions,
        // until the SIGKILL phase: the check after it is then exact.
        Analysis::Spans {
            service: SPANS_SERVICE.into(),
            operation: SPANS_OPERATION.into(),
            versions: [BASELINE.into(), SPANS_CANARY.into()],
            until_phase: SIGKILL,
        },
    ]
}

/// The replicas, each on a port of its own that a restart keeps.
struct Replicas {
    options: Vec<ServeOptions>,
    running: Vec<SlogateGuard>,
}

impl Replicas {
    fn start(base: &ServeOptions, n: usize) -> Replicas {
        let options: Vec<ServeOptions> = (0..n)
            .map(|_| ServeOptions {
                port: Some(free_port()),
                ..base.clone()
            })
            .collect();
        let running = options
            .iter()
            .map(|o| {
                let mut r = SlogateGuard::start(o);
                r.wait_for("/readyz", 200);
                r
            })
            .collect();
        Replicas { options, running }
    }

    fn addresses(&self) -> Vec<String> {
        self.running
            .iter()
            .map(|r| r.url.trim_start_matches("http://").to_string())
            .collect()
    }

    /// Signals replica `i`, waits for it to exit, starts it again on its port and waits until
    /// HAProxy has it back UP.
    fn restart(&mut self, i: usize, signal: &str, haproxy: &HaproxyGuard) -> String {
        self.running[i].signal(signal);
        let exit = self.running[i].wait_exit();
        let log = self.running[i].log();
        if signal == "TERM" {
            assert!(exit.success(), "r{i} after SIGTERM: {exit}\n{log}");
        }
        haproxy.wait_status(i, "DOWN");
        self.running[i] = SlogateGuard::start(&self.options[i]);
        haproxy.wait_status(i, "UP");
        log
    }
}

#[test]
fn a_rolling_restart_behind_haproxy_loses_no_ask_and_keeps_every_verdict_and_look() {
    let cluster = Cluster::start();
    let db_url = cluster.database_url();
    let scenario = scenario();
    let prometheus = PrometheusGuard::start(&scenario);
    let (slack, pagerduty) = (Receiver::slack(), Receiver::pagerduty());
    let secrets = tempfile::tempdir().unwrap();
    let base = ServeOptions {
        db: Some(db_url.into()),
        // A drain of 2 s: twenty of HAProxy's 100 ms health checks.
        config: format!(
            "{}connections: {{shutdown_drain: 2s, shutdown_grace: 15s}}\n{TRACES}",
            notify_config(&slack, &pagerduty, secrets.path(), "200ms")
        ),
        ..ServeOptions::new(&prometheus.url)
    };
    let mut replicas = Replicas::start(&base, 3);
    let haproxy = HaproxyGuard::start(&replicas.addresses());

    let analyses = analyses(&scenario);
    // Six threads at 1.5 asks a second: 7.5 gate asks and 1.5 span exports a second in all.
    let load = Load::start(&haproxy.url, &analyses, 1.5);
    load.wait_progress(12);

    load.phase.store(SIGTERM, Ordering::SeqCst);
    let mut drained = Vec::new();
    for i in 0..3 {
        let log = replicas.restart(i, "TERM", &haproxy);
        drained.push(log);
        load.wait_progress(9);
    }

    load.phase.store(SIGKILL, Ordering::SeqCst);
    // The spans stop here. Once replica 1 alone counts every one of them, each replica has
    // written its windows (replica 1 sees the others' only through the store): the SIGKILL
    // then takes no span with it.
    let spans = load.spans.lock().unwrap().clone();
    let check = SpanCheck {
        service: SPANS_SERVICE,
        metric: "answer-latency",
        versions: [BASELINE, SPANS_CANARY],
        window: span_window(&spans, 10),
    };
    check.wait_until_counted(&replicas.running[1], &spans);
    // Killed while HAProxy has a request on it, if one comes within ten seconds.
    let busy_deadline = Instant::now() + Duration::from_secs(10);
    let (before, started_before) = loop {
        let started = load.started.load(Ordering::SeqCst);
        let sessions = haproxy.server(0).current_sessions;
        if sessions > 0 || Instant::now() > busy_deadline {
            break (sessions, started);
        }
    };
    replicas.running[0].signal("KILL");
    let started_at_kill = load.started.load(Ordering::SeqCst);
    // At most the sessions HAProxy had open to it, and any ask sent between that count and
    // the kill.
    let in_flight_bound = before + (started_at_kill - started_before);
    replicas.running[0].wait_exit();
    haproxy.wait_status(0, "DOWN");
    load.phase.store(AFTER, Ordering::SeqCst);
    replicas.running[0] = SlogateGuard::start(&replicas.options[0]);
    haproxy.wait_status(0, "UP");
    load.wait_progress(9);
    let (asks, elapsed) = load.stop();

    report(&asks, &analyses, elapsed, in_flight_bound, &haproxy);
    for (i, log) in drained.iter().enumerate() {
        assert!(log.contains("draining"), "r{i} did not drain:\n{log}");
        assert!(
            log.contains("every request in flight was answered"),
            "r{i}:\n{log}"
        );
    }
    let failed = |phase: usize| -> Vec<&Ask> {
        asks.iter()
            .filter(|a| a.phase == phase && !a.ok())
            .collect()
    };
    assert!(
        failed(WARM).is_empty() && failed(SIGTERM).is_empty(),
        "asks failed around the SIGTERM restarts: {:#?}\n{}",
        [failed(WARM), failed(SIGTERM)].concat(),
        haproxy.log()
    );
    let killed = failed(SIGKILL).len() + failed(AFTER).len();
    assert!(
        killed as u64 <= in_flight_bound,
        "{killed} asks failed at the SIGKILL, more than the {in_flight_bound} in flight: {:#?}",
        [failed(SIGKILL), failed(AFTER)].concat()
    );

    // Through the balancer, after the SIGKILL and the restart: every span counted once.
    let counted = check.counts(&haproxy.url);
    eprintln!(
        "spans: {} accepted across the SIGTERM restarts, counted {counted:?} (baseline, \
         canary) after the SIGKILL",
        spans.len()
    );
    assert_eq!(
        counted,
        check.expected(&spans),
        "spans lost or counted twice"
    );

    let mut db = postgres::Client::connect(&cluster.dsn(&db_name(&base)), postgres::NoTls).unwrap();
    every_verdict_is_in_the_history(&asks, &mut db);
    looks_go_on_one_by_one(&asks, &analyses);
    each_change_is_told_once(&mut db, &asks, &analyses, &slack, &pagerduty);
}

/// The database name in the test's `db:` URL.
fn db_name(options: &ServeOptions) -> String {
    let url = options.db.as_ref().unwrap().to_str().unwrap();
    url.trim_start_matches("postgres:///")
        .split('?')
        .next()
        .unwrap()
        .to_string()
}

fn report(asks: &[Ask], analyses: &[Analysis], elapsed: Duration, bound: u64, h: &HaproxyGuard) {
    let gates = asks
        .iter()
        .filter(|a| !matches!(analyses[a.analysis], Analysis::Spans { .. }))
        .count();
    let spans = asks.len() - gates;
    let secs = elapsed.as_secs_f64();
    eprintln!(
        "asks: {gates} gate asks ({:.1}/s) and {spans} span exports ({:.1}/s) in {secs:.1} s",
        gates as f64 / secs,
        spans as f64 / secs
    );
    for (phase, name) in [
        (WARM, "warm-up"),
        (SIGTERM, "SIGTERM restarts"),
        (SIGKILL, "SIGKILL"),
        (AFTER, "after SIGKILL"),
    ] {
        let of: Vec<&Ask> = asks.iter().filter(|a| a.phase == phase).collect();
        let non_2xx = of
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Status(..)))
            .count();
        let errors = of
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Failed(_)))
            .count();
        eprintln!(
            "{name}: {} asks, {non_2xx} non-2xx, {errors} connection errors",
            of.len()
        );
    }
    eprintln!(
        "in flight on the killed replica at most {bound}; haproxy: {:?}",
        h.servers()
    );
}

fn every_verdict_is_in_the_history(asks: &[Ask], db: &mut postgres::Client) {
    let stored: BTreeSet<String> = db
        .query("SELECT id FROM verdicts", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let answered: Vec<&str> = asks
        .iter()
        .filter_map(|a| match &a.outcome {
            Outcome::Verdict { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    let missing: Vec<&&str> = answered
        .iter()
        .filter(|id| !stored.contains(**id))
        .collect();
    // More are stored when an ask answered by no one (a replica killed before it answered)
    // was sent again by HAProxy and answered by another replica.
    eprintln!(
        "history: {} answered verdicts, {} stored, {} missing",
        answered.len(),
        stored.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "answered but not in the history: {missing:?}"
    );
}

fn looks_go_on_one_by_one(asks: &[Ask], analyses: &[Analysis]) {
    for (index, analysis) in analyses.iter().enumerate() {
        if !matches!(analysis, Analysis::Canary { .. }) {
            continue;
        }
        let mine: Vec<&Ask> = asks.iter().filter(|a| a.analysis == index).collect();
        let looks: Vec<u64> = mine
            .iter()
            .filter_map(|a| match a.outcome {
                Outcome::Verdict { look, .. } => look,
                _ => None,
            })
            .collect();
        let unanswered = mine.iter().filter(|a| !a.ok()).count() as u64;
        assert!(!looks.is_empty(), "{analysis:?}: no look");
        assert!(
            looks.windows(2).all(|w| w[1] > w[0]),
            "{analysis:?}: a look counted twice or out of order: {looks:?}"
        );
        // An ask that got no answer may still have taken its look.
        let skipped = looks.windows(2).map(|w| w[1] - w[0] - 1).sum::<u64>();
        assert!(
            skipped <= unanswered,
            "{analysis:?}: looks skipped: {looks:?}"
        );
        eprintln!(
            "{analysis:?}: looks {}..={} over {} answers",
            looks[0],
            looks[looks.len() - 1],
            looks.len()
        );
    }
}

/// The notification subject of an analysis (`notify::event`), `None` for the span exports.
fn subject(analysis: &Analysis) -> Option<String> {
    match analysis {
        Analysis::Canary {
            service,
            baseline,
            canary,
            ..
        } => Some(format!("canary/{service}/{baseline}..{canary}")),
        Analysis::Slo { service } => Some(format!("slo/{service}")),
        Analysis::Spans { .. } => None,
    }
}

/// The verdicts that change a subject's outcome, as the notifier decides (`notify::gate`),
/// for one subject's answers in the order they were made (one thread asks each subject).
fn changes<'a>(answers: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let mut last: Option<&str> = None;
    let mut told = Vec::new();
    for (id, outcome) in answers {
        let change = match (last, outcome) {
            (Some("fail"), "fail" | "inconclusive") => false,
            (_, "fail") => true,
            (Some("fail"), "pass") => true,
            (Some("inconclusive"), "inconclusive") => false,
            (_, "inconclusive") => true,
            // Recorded without a message.
            (Some("inconclusive"), "pass") => {
                last = Some("pass");
                false
            }
            _ => false,
        };
        if change {
            told.push((id, outcome));
            last = Some(outcome);
        }
    }
    told
}

/// Every notification in the outbox was delivered once, each change of outcome was told at
/// most once (no two told outcomes of a subject in a row are the same), and every failure of a
/// subject whose asks were all answered was told.
fn each_change_is_told_once(
    db: &mut postgres::Client,
    asks: &[Ask],
    analyses: &[Analysis],
    slack: &Receiver,
    pagerduty: &Receiver,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows: Vec<(String, String, String, Vec<u8>)> = db
            .query(
                "SELECT key, channel, state, payload FROM outbox WHERE key LIKE 'notify/%' ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        if !rows.is_empty() && rows.iter().all(|r| r.2 == "sent") {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "notifications not all sent: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let outcomes: BTreeMap<String, (String, i64)> = db
        .query("SELECT id, outcome, recorded_at FROM verdicts", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    // Subject -> the verdicts whose change was told, oldest first.
    let mut told: BTreeMap<String, Vec<(i64, String, String)>> = BTreeMap::new();
    for (key, channel, _, _) in &rows {
        // notify/<subject>/<verdict id>/<channel>/<target>; a target may hold slashes.
        let (head, _target) = key
            .trim_start_matches("notify/")
            .split_once(&format!("/{channel}/"))
            .unwrap();
        let (subject, id) = head.rsplit_once('/').unwrap();
        let (outcome, at) = outcomes.get(id).cloned().unwrap_or_default();
        let list = told.entry(subject.to_string()).or_default();
        if !list.iter().any(|(_, i, _)| i == id) {
            list.push((at, id.to_string(), outcome));
        }
    }
    for list in told.values_mut() {
        list.sort();
    }
    eprintln!("told: {told:?}");
    for (subject, list) in &told {
        assert!(
            list.windows(2).all(|w| w[0].2 != w[1].2),
            "{subject}: the same outcome told twice in a row: {list:?}"
        );
    }
    for (index, analysis) in analyses.iter().enumerate() {
        let Some(subject) = subject(analysis) else {
            continue;
        };
        let mine: Vec<&Ask> = asks.iter().filter(|a| a.analysis == index).collect();
        if mine.iter().any(|a| !a.ok()) {
            continue;
        }
        let answers = mine.iter().filter_map(|a| match &a.outcome {
            Outcome::Verdict { id, verdict, .. } => Some((id.as_str(), verdict.as_str())),
            _ => None,
        });
        let expected = changes(answers);
        let ids: Vec<&str> = told
            .get(&subject)
            .map(|l| l.iter().map(|(_, id, _)| id.as_str()).collect())
            .unwrap_or_default();
        for (id, outcome) in &expected {
            if *outcome == "fail" {
                assert!(
                    ids.contains(id),
                    "{subject}: the failure {id} was not told: {ids:?}"
                );
            }
        }
        assert!(
            ids.iter().all(|id| expected.iter().any(|(e, _)| e == id)),
            "{subject}: told {ids:?}, changes {expected:?}"
        );
    }
    for (receiver, channel) in [(slack, "slack"), (pagerduty, "pagerduty")] {
        let mut sent: Vec<serde_json::Value> = rows
            .iter()
            .filter(|r| r.1 == channel)
            .map(|r| serde_json::from_slice(&r.3).unwrap())
            .collect();
        // The routing key is added at sending, never stored.
        let mut got: Vec<serde_json::Value> = receiver
            .accepted()
            .into_iter()
            .map(|mut body| {
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("routing_key");
                }
                body
            })
            .collect();
        let order = |v: &serde_json::Value| v.to_string();
        sent.sort_by_key(order);
        got.sort_by_key(order);
        assert_eq!(got, sent, "{channel}: each message once");
        assert_eq!(receiver.problems(), Vec::<String>::new());
    }
}
