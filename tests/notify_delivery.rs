//! Notifications end to end: a real `slogate serve` judges rollouts against a real Prometheus
//! (backfilled), and its Slack messages and PagerDuty events reach local stand-ins that check
//! every payload against the published formats and answer from a script.
//!
//! Scenario: financeanalyst-api's canary `flaky-1` is much worse than `stable-7d9f` for the
//! first two hours and as good for the last hour (so the same rollout fails, then passes: its
//! profile is switched to `mode: fixed` here, since in sequential mode a rejection is final for
//! the rollout); mita-backend burns its budget at the page tier (the SLO gate fails, critical).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use support::prometheus::PrometheusGuard;
use support::receivers::{Answer, ROUTING_KEY, Receiver, STATUS_URL, notify_config};
use support::scenario::{Scenario, Segment, Workload};
use support::slogate::{ServeOptions, SlogateGuard};

/// A 32-character integration key, as PagerDuty issues them.
const KEY: &str = ROUTING_KEY;
const DEADLINE: Duration = Duration::from_secs(20);
/// The restart test waits through three backoffs (1 s, 2 s, 4 s and jitter) and a restart:
/// about 12 s on an idle machine, past 20 s on a loaded one. A deadline, never a sleep.
const RETRIES_DEADLINE: Duration = Duration::from_secs(60);
const HOUR: u64 = 3600;

fn segment(seconds: u64, error_ratio: f64, slow_ratio: f64) -> Segment {
    Segment {
        seconds,
        rps: 20.0,
        error_ratio,
        slow_ratio,
    }
}

fn workload(service: &str, version: Option<&str>, segments: Vec<Segment>) -> Workload {
    Workload {
        service: service.into(),
        version: version.map(String::from),
        segments,
    }
}

fn scenario() -> Scenario {
    let end = (Utc::now().timestamp() - 15) / 15 * 15;
    Scenario {
        start: end - 3 * HOUR as i64,
        step: 15,
        workloads: vec![
            workload(
                "financeanalyst-api",
                Some("stable-7d9f"),
                vec![segment(3 * HOUR, 0.001, 0.01)],
            ),
            workload(
                "financeanalyst-api",
                Some("flaky-1"),
                vec![segment(2 * HOUR, 0.05, 0.30), segment(HOUR, 0.001, 0.01)],
            ),
            workload("mita-backend", None, vec![segment(3 * HOUR, 0.2, 0.5)]),
        ],
    }
}

/// Everything a test needs: Prometheus, the two stand-ins, the secrets in a temp directory.
struct World {
    prometheus: PrometheusGuard,
    scenario: Scenario,
    slack: Receiver,
    pagerduty: Receiver,
    secrets: tempfile::TempDir,
    /// The example definitions, financeanalyst-api's canary judged in fixed mode.
    slos: tempfile::TempDir,
}

/// A copy of `slo-definitions/` with financeanalyst-api's canary profile in `mode: fixed`.
fn definitions_in_fixed_mode() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("slo-definitions");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if path.file_name().unwrap() == "financeanalyst-api.yaml" {
            assert!(text.contains("\ncanary:\n"), "{text}");
            text = text.replace("\ncanary:\n", "\ncanary:\n  mode: fixed\n");
        }
        std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
    }
    dir
}

impl World {
    fn new() -> World {
        let scenario = scenario();
        let secrets = tempfile::tempdir().unwrap();
        World {
            prometheus: PrometheusGuard::start(&scenario),
            scenario,
            slack: Receiver::slack(),
            pagerduty: Receiver::pagerduty(),
            secrets,
            slos: definitions_in_fixed_mode(),
        }
    }

    /// The `notify:` section: every team's failures to its Slack webhook and PagerDuty key.
    fn config(&self, initial_backoff: &str) -> String {
        notify_config(
            &self.slack,
            &self.pagerduty,
            self.secrets.path(),
            initial_backoff,
        )
    }

    fn serve(&self, initial_backoff: &str) -> SlogateGuard {
        let mut options = ServeOptions::new(&self.prometheus.url);
        options.slos = self.slos.path().to_path_buf();
        options.config = self.config(initial_backoff);
        SlogateGuard::start(&options)
    }

    /// The canary gate for flaky-1 over ten minutes `minutes_before_end` before the data ends.
    fn canary_body(&self, minutes_before_end: i64) -> String {
        let end = self.scenario.end() - minutes_before_end * 60;
        json!({
            "service": "financeanalyst-api",
            "baseline": {"version": "stable-7d9f"},
            "canary": {"version": "flaky-1"},
            "window": {"start": (end - 600).to_string(), "end": end.to_string()},
        })
        .to_string()
    }

    fn assert_valid_payloads(&self) {
        assert_eq!(self.slack.problems(), Vec::<String>::new());
        assert_eq!(self.pagerduty.problems(), Vec::<String>::new());
    }
}

fn ask(slogate: &SlogateGuard, path: &str, body: &str, expected: &str) -> Value {
    let (status, verdict) = slogate.post(path, body);
    assert_eq!(status, 200, "{verdict:#}");
    assert_eq!(verdict["verdict"], expected, "{verdict:#}");
    verdict
}

/// `/metrics` as text.
fn metrics(slogate: &SlogateGuard) -> String {
    match slogate.request("GET", "/metrics", None, None, &[]) {
        (200, Value::String(text)) => text,
        other => panic!("/metrics: {other:?}"),
    }
}

/// The value of one sample of `/metrics` (0 when absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Polls `/metrics` until `done` holds (bounded); returns the text.
fn wait_metrics(slogate: &SlogateGuard, what: &str, done: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let text = metrics(slogate);
        if done(&text) {
            return text;
        }
        assert!(
            Instant::now() < end,
            "{what} not seen within {DEADLINE:?}:\n{text}\n{}",
            slogate.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn counted(channel: &str, result: &str) -> String {
    format!(r#"slogate_notifications_total{{channel="{channel}",result="{result}"}}"#)
}

#[test]
fn a_failing_rollout_pages_once_however_often_argo_asks_and_its_recovery_resolves_the_alert() {
    let world = World::new();
    let mut slogate = world.serve("200ms");
    slogate.wait_for("/readyz", 200);

    let gate = "/api/v1/gates/canary";
    let first = ask(&slogate, gate, &world.canary_body(100), "fail");
    for _ in 0..3 {
        ask(&slogate, gate, &world.canary_body(100), "fail");
    }
    let pages = world.pagerduty.wait_for_accepted(1, DEADLINE);
    let posts = world.slack.wait_for_accepted(1, DEADLINE);
    let passed = ask(&slogate, gate, &world.canary_body(5), "pass");
    ask(&slogate, gate, &world.canary_body(5), "pass");
    let pages_after = world.pagerduty.wait_for_accepted(2, DEADLINE);
    let posts_after = world.slack.wait_for_accepted(2, DEADLINE);
    // Everything was queued before the gates answered: once the outbox is empty, nothing else
    // can come.
    let text = wait_metrics(&slogate, "an empty outbox", |t| {
        sample(t, "slogate_outbox_pending") == 0.0
            && sample(t, &counted("pagerduty", "delivered")) == 2.0
    });
    assert_eq!(sample(&text, &counted("slack", "delivered")), 2.0, "{text}");
    assert_eq!(world.pagerduty.received().len(), 2);
    assert_eq!(world.slack.received().len(), 2);
    world.assert_valid_payloads();

    let dedup = "slogate/financeanalyst-api/stable-7d9f..flaky-1";
    let trigger = &pages[0];
    assert_eq!(trigger["event_action"], "trigger", "{trigger:#}");
    assert_eq!(trigger["dedup_key"], dedup, "{trigger:#}");
    assert_eq!(trigger["routing_key"], KEY, "{trigger:#}");
    assert_eq!(trigger["payload"]["severity"], "error", "{trigger:#}");
    assert_eq!(trigger["payload"]["component"], "financeanalyst-api");
    assert_eq!(trigger["payload"]["group"], "analytics");
    let link = format!("{STATUS_URL}/verdicts/{}", first["id"].as_str().unwrap());
    assert_eq!(trigger["links"][0]["href"], link.as_str(), "{trigger:#}");
    let details = &trigger["payload"]["custom_details"];
    assert!(
        details["numbers"]["error-rate"]
            .as_str()
            .unwrap()
            .contains("baseline"),
        "{details:#}"
    );
    let resolve = &pages_after[1];
    assert_eq!(resolve["event_action"], "resolve", "{resolve:#}");
    assert_eq!(resolve["dedup_key"], dedup, "{resolve:#}");

    let failed = &posts[0];
    assert_eq!(failed["channel"], "#deploys", "{failed:#}");
    let fallback = failed["text"].as_str().unwrap();
    assert!(
        fallback.contains("financeanalyst-api: canary flaky-1 vs baseline stable-7d9f failed"),
        "{fallback}"
    );
    assert!(fallback.contains("error-rate"), "{fallback}");
    assert!(fallback.contains(&link), "{fallback}");
    let recovered = posts_after[1]["text"].as_str().unwrap();
    assert!(recovered.contains("passes again"), "{recovered}");
    assert!(
        recovered.contains(passed["id"].as_str().unwrap()),
        "{recovered}"
    );
    assert!(
        !slogate.log().contains("/services/T0/B0"),
        "the webhook URL is a secret"
    );

    slogate.signal("TERM");
    assert!(
        slogate.wait_exit().success(),
        "SIGTERM stops the server and the dispatcher"
    );
}

#[test]
fn a_429_is_retried_no_sooner_than_its_retry_after_and_a_500_until_delivered() {
    let world = World::new();
    world.slack.script([
        Answer::TooManyRequests {
            retry_after_secs: 2,
        },
        Answer::Status(500, "internal_error".into()),
    ]);
    world.pagerduty.script([
        Answer::Status(500, r#"{"status":"error","message":"try later"}"#.into()),
        Answer::Status(503, "unavailable".into()),
    ]);
    let slogate = world.serve("200ms");
    let burning = ask(
        &slogate,
        "/api/v1/gates/slo",
        r#"{"service": "mita-backend"}"#,
        "fail",
    );

    let slack = world.slack.wait_for(3, DEADLINE);
    let pagerduty = world.pagerduty.wait_for(3, DEADLINE);
    assert_eq!(
        slack.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 500, 200]
    );
    let waited = slack[1].at - slack[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "Retry-After: 2 but retried after {waited:?}"
    );
    // After the 500, the backoff of a second failure (400 ms).
    let waited = slack[2].at - slack[1].at;
    assert!(waited >= Duration::from_millis(400), "{waited:?}");
    assert_eq!(
        pagerduty.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 503, 202]
    );
    assert!(pagerduty[1].at - pagerduty[0].at >= Duration::from_millis(200));
    // Each retry sends the same message.
    assert!(slack.iter().all(|r| r.body == slack[0].body));
    assert!(pagerduty.iter().all(|r| r.body == pagerduty[0].body));
    world.assert_valid_payloads();

    let event = &pagerduty[2].body;
    assert_eq!(event["dedup_key"], "slogate/mita-backend/slo", "{event:#}");
    assert_eq!(
        event["payload"]["severity"], "critical",
        "a page-tier burn: {event:#}"
    );
    assert_eq!(event["payload"]["group"], "mita");
    let numbers = event["payload"]["custom_details"]["numbers"].to_string();
    assert!(
        numbers.contains("budget left") && numbers.contains("burn"),
        "{numbers}"
    );
    assert!(
        slack[2].body["text"]
            .as_str()
            .unwrap()
            .contains(burning["id"].as_str().unwrap()),
        "{:#}",
        slack[2].body
    );
    let text = wait_metrics(&slogate, "the deliveries counted", |t| {
        sample(t, &counted("slack", "delivered")) == 1.0
            && sample(t, &counted("pagerduty", "delivered")) == 1.0
    });
    assert_eq!(sample(&text, &counted("slack", "retry")), 2.0, "{text}");
    assert_eq!(sample(&text, &counted("pagerduty", "retry")), 2.0, "{text}");
}

#[test]
fn a_400_is_not_retried_and_is_counted_as_rejected() {
    let world = World::new();
    world
        .slack
        .script([Answer::Status(400, "invalid_payload".into())]);
    let slogate = world.serve("200ms");
    ask(
        &slogate,
        "/api/v1/gates/slo",
        r#"{"service": "mita-backend"}"#,
        "fail",
    );

    world.pagerduty.wait_for_accepted(1, DEADLINE);
    let text = wait_metrics(&slogate, "the rejection counted", |t| {
        sample(t, &counted("slack", "rejected")) == 1.0
            && sample(t, "slogate_outbox_pending") == 0.0
    });
    // The row is final: nothing is pending, nothing was retried.
    assert_eq!(sample(&text, &counted("slack", "retry")), 0.0, "{text}");
    assert_eq!(world.slack.received().len(), 1);
    assert_eq!(world.slack.received()[0].status, 400);
    assert!(
        slogate.log().contains("HTTP 400: invalid_payload"),
        "{}",
        slogate.log()
    );
    world.assert_valid_payloads();
}

#[test]
fn a_restart_in_the_middle_of_retries_delivers_exactly_once() {
    let world = World::new();
    // Three failures: the process is killed after the second, so the third is answered
    // either before the kill or after the restart; either way one attempt is accepted.
    world
        .pagerduty
        .script((0..3).map(|_| Answer::Status(500, "down".into())));
    world
        .slack
        .script((0..3).map(|_| Answer::Status(500, "down".into())));
    let mut options = ServeOptions::new(&world.prometheus.url);
    options.config = world.config("1s");
    let slogate = SlogateGuard::start(&options);
    ask(
        &slogate,
        "/api/v1/gates/slo",
        r#"{"service": "mita-backend"}"#,
        "fail",
    );
    world.pagerduty.wait_for(2, DEADLINE);
    world.slack.wait_for(2, DEADLINE);
    let pending = sample(&metrics(&slogate), "slogate_outbox_pending");
    assert!(pending >= 1.0, "the messages are still pending when killed");
    // SIGKILL, then the same database.
    let dir = slogate.into_dir();
    let slogate = SlogateGuard::start_in(dir, &options);
    // The restarted process sees the same burn: it must not notify it again.
    ask(
        &slogate,
        "/api/v1/gates/slo",
        r#"{"service": "mita-backend"}"#,
        "fail",
    );

    world.pagerduty.wait_for_accepted(1, RETRIES_DEADLINE);
    world.slack.wait_for_accepted(1, RETRIES_DEADLINE);
    wait_metrics(&slogate, "an empty outbox", |t| {
        sample(t, "slogate_outbox_pending") == 0.0
            && sample(t, &counted("pagerduty", "delivered")) == 1.0
            && sample(t, &counted("slack", "delivered")) == 1.0
    });
    assert_eq!(
        world.pagerduty.accepted().len(),
        1,
        "{:#?}",
        world.pagerduty.received()
    );
    assert_eq!(
        world.slack.accepted().len(),
        1,
        "{:#?}",
        world.slack.received()
    );
    let sent: Vec<Value> = world
        .pagerduty
        .received()
        .into_iter()
        .map(|r| r.body)
        .collect();
    assert!(
        sent.iter().all(|b| *b == sent[0]),
        "the same event every time"
    );
    world.assert_valid_payloads();
    assert!(Path::new(&slogate.db).exists());
}

#[test]
fn an_slo_gate_asked_about_the_past_is_recorded_but_pages_nobody() {
    let world = World::new();
    let slogate = world.serve("200ms");
    let an_hour_ago = Utc::now().timestamp() - 3600;
    let past = ask(
        &slogate,
        "/api/v1/gates/slo",
        &format!(r#"{{"service": "mita-backend", "at": "{an_hour_ago}"}}"#),
        "fail",
    );
    let now = ask(
        &slogate,
        "/api/v1/gates/slo",
        r#"{"service": "mita-backend"}"#,
        "fail",
    );
    // The present fail is told; had the past one been queued, it would have gone first. Both
    // receivers are waited for: "nothing pending" is also true while a message is in flight.
    let told = world.pagerduty.wait_for_accepted(1, DEADLINE);
    world.slack.wait_for_accepted(1, DEADLINE);
    let text = wait_metrics(&slogate, "the outbox drained", |t| {
        sample(t, "slogate_outbox_pending") == 0.0
    });
    assert_eq!(told.len(), 1, "{told:#?}");
    let everything: String = told.iter().map(|m| m.to_string()).collect();
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    assert!(everything.contains(&id(&now)), "{everything}");
    assert!(!everything.contains(&id(&past)), "{everything}");
    assert_eq!(world.slack.received().len(), 1, "{text}");
    // Both verdicts are in the history.
    for verdict in [&past, &now] {
        let (status, _) = slogate.get(&format!("/api/v1/verdicts/{}", id(verdict)));
        assert_eq!(status, 200);
    }
    world.assert_valid_payloads();
}
