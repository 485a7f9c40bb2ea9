//! The Flagger gate called exactly as Flagger calls it (its payload, no Authorization header,
//! its client's retry rules: `support::flagger`), on a real `slogate serve` and a real
//! Prometheus whose pods carry Flagger's `app` labels (`app: <name>-primary` for the primary,
//! `app: <name>` for the canary; the profile's `version_preset: flagger`).
//!
//! Pass, fail and inconclusive each come as a status Flagger's client does not retry, with the
//! reason readable in the line Flagger logs; each call is one request, one recorded verdict and
//! one look of the sequential test.

mod support;

use chrono::Utc;
use serde_json::{Value, json};
use support::flagger::{self, FlaggerCall};
use support::prometheus::PrometheusGuard;
use support::scenario::{Scenario, Segment, Workload};
use support::slogate::{ServeOptions, SlogateGuard, TOKEN};

const DEFINITION: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: podinfo
canary:
  version_preset: flagger
  metrics:
    - name: error-rate
      errors: sum(increase(http_requests_total{service="podinfo",code="500"}[{{window}}]))
      total: sum(increase(http_requests_total{service="podinfo"}[{{window}}]))
      critical: true
"#;

/// Retries configured on the webhook: more than Flagger's default of none, so a retried status
/// would show as more than one request.
const RETRIES: u32 = 3;

fn workload(app: &str, error_ratio: f64, rps: f64) -> Workload {
    Workload {
        service: "podinfo".into(),
        version: Some(app.into()),
        segments: vec![Segment {
            seconds: 3 * 3600,
            rps,
            error_ratio,
            slow_ratio: 0.01,
        }],
    }
}

/// Three Flagger Canaries of one service, each a primary and a canary Deployment: `good`
/// (the same as its primary), `bad` (5% errors against 0.1%) and `quiet` (no traffic yet).
fn scenario() -> Scenario {
    let end = (Utc::now().timestamp() - 15) / 15 * 15;
    Scenario {
        start: end - 3 * 3600,
        step: 15,
        workloads: vec![
            workload("good-primary", 0.001, 20.0),
            workload("good", 0.001, 20.0),
            workload("bad-primary", 0.001, 20.0),
            workload("bad", 0.05, 20.0),
            workload("quiet-primary", 0.001, 20.0),
            workload("quiet", 0.0, 0.0),
        ],
    }
}

struct Setup {
    _prometheus: PrometheusGuard,
    slogate: SlogateGuard,
    _slos: tempfile::TempDir,
}

fn setup() -> Setup {
    let prometheus = PrometheusGuard::start_labelled(&scenario(), "app");
    let slos = tempfile::tempdir().unwrap();
    std::fs::write(slos.path().join("podinfo.yaml"), DEFINITION).unwrap();
    let mut options = ServeOptions::new(&prometheus.url);
    options.slos = slos.path().to_path_buf();
    let mut slogate = SlogateGuard::start(&options);
    slogate.wait_for("/readyz", 200);
    Setup {
        _prometheus: prometheus,
        slogate,
        _slos: slos,
    }
}

/// The webhook of a Canary named `name`, as in the README: the service and the token in its
/// metadata, the versions left to Flagger's defaults.
fn call(slogate: &SlogateGuard, name: &str, metadata: Value) -> FlaggerCall {
    let url = format!("{}/api/v1/gates/flagger", slogate.url);
    flagger::call(&url, &flagger::payload(name, "test", metadata), RETRIES)
}

fn gate(slogate: &SlogateGuard, name: &str) -> FlaggerCall {
    call(
        slogate,
        name,
        json!({"service": "podinfo", "token": TOKEN, "lookback": "10m"}),
    )
}

/// The verdict in the body Flagger logged.
fn logged_verdict(call: &FlaggerCall) -> Value {
    serde_json::from_str(call.result.as_ref().unwrap_err()).unwrap()
}

/// Looks kept in the store for the analysis of `canary` against its primary.
fn stored_looks(db: &std::path::Path, canary: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT looks FROM sequential_tests WHERE key = ?1",
        [format!("podinfo|{canary}-primary|{canary}")],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn flagger_gets_pass_fail_and_inconclusive_once_each_with_the_reason_in_its_log_line() {
    let running = setup();
    let slogate = &running.slogate;

    let pass = gate(slogate, "good");
    assert_eq!((pass.status, pass.attempts), (Some(200), 1), "{pass:?}");
    assert_eq!(pass.result, Ok(()));

    let fail = gate(slogate, "bad");
    assert_eq!((fail.status, fail.attempts), (Some(412), 1), "{fail:?}");
    let line = fail.log_line("bad", "test", "slogate").unwrap();
    assert!(
        line.starts_with("Halt bad.test advancement external check slogate failed {"),
        "{line}"
    );
    assert!(line.contains(r#""verdict":"fail""#), "{line}");
    assert!(
        line.contains("canary error rate (error-rate) exceeds baseline by more than 20%"),
        "{line}"
    );
    let verdict = logged_verdict(&fail);
    let check = &verdict["checks"][0];
    // Ten minutes at 20 requests a second a side, less the half minute at most between the
    // data's last sample and now: 11,400 to 12,000 events, at the scenario's ratios.
    for side in ["baseline", "canary"] {
        let n = check[side]["n"].as_u64().unwrap();
        assert!((11_400..=12_000).contains(&n), "{side}: {check:#}");
    }
    let rate = |side: &str| check[side]["value"].as_f64().unwrap();
    assert!((rate("canary") - 0.05).abs() < 0.002, "{check:#}");
    assert!(rate("baseline") < 0.002, "{check:#}");
    // The summary comes early in the body, before the numbers: Flagger's event shows it.
    let summary = line.find("podinfo: ").unwrap();
    assert!(summary < 200, "{line}");

    let inconclusive = gate(slogate, "quiet");
    assert_eq!(
        (inconclusive.status, inconclusive.attempts),
        (Some(409), 1),
        "{inconclusive:?}"
    );
    let line = inconclusive.log_line("quiet", "test", "slogate").unwrap();
    assert!(line.contains(r#""verdict":"inconclusive""#), "{line}");
    assert!(line.contains("too little traffic"), "{line}");

    // One call, one verdict: the history holds exactly these three.
    let (status, page) = slogate.get("/api/v1/verdicts?service=podinfo");
    assert_eq!(status, 200, "{page:#}");
    let mut outcomes: Vec<&str> = page["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["verdict"].as_str().unwrap())
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["fail", "inconclusive", "pass"], "{page:#}");
    // ... and one look of each analysis's sequential test.
    for canary in ["good", "bad", "quiet"] {
        assert_eq!(stored_looks(&slogate.db, canary), 1, "{canary}");
    }
    assert_eq!(verdict["checks"][0]["sequential"]["look"], 1, "{verdict:#}");

    // The versions compared are Flagger's `app` label values, by default.
    let id = verdict["id"].as_str().unwrap();
    let (_, detail) = slogate.get(&format!("/api/v1/verdicts/{id}"));
    let inputs = &detail["inputs"];
    assert_eq!(
        (
            &inputs["version_label"],
            &inputs["baseline"],
            &inputs["canary"]
        ),
        (&json!("app"), &json!("bad-primary"), &json!("bad")),
        "{inputs:#}"
    );
    assert_eq!(inputs["request"]["flagger"]["checksum"], "6c8d4f9b7");
}

#[test]
fn the_token_in_metadata_opens_the_gate_and_is_never_kept_logged_or_echoed() {
    let running = setup();
    let slogate = &running.slogate;

    // No token at all: 401, not retried, and Flagger's log says what to do.
    let none = call(slogate, "good", json!({"service": "podinfo"}));
    assert_eq!((none.status, none.attempts), (Some(401), 1), "{none:?}");
    let line = none.log_line("good", "test", "slogate").unwrap();
    assert!(line.contains("metadata as `token`"), "{line}");
    let wrong = call(
        slogate,
        "good",
        json!({"service": "podinfo", "token": "not-the-token-at-all"}),
    );
    assert_eq!((wrong.status, wrong.attempts), (Some(401), 1), "{wrong:?}");
    assert!(!wrong.result.unwrap_err().contains("not-the-token-at-all"));

    // A typo in the metadata is refused by name, not read as Flagger's default.
    let typo = call(
        slogate,
        "good",
        json!({"service": "podinfo", "token": TOKEN, "basline": "x"}),
    );
    assert_eq!(typo.status, Some(400), "{typo:?}");
    let error: Value = serde_json::from_str(typo.result.as_ref().unwrap_err()).unwrap();
    assert_eq!(error["error"]["field"], "metadata.basline", "{error:#}");

    let pass = gate(slogate, "good");
    assert_eq!(pass.status, Some(200), "{pass:?}");
    let fail = gate(slogate, "bad");
    let answered = fail.result.as_ref().unwrap_err();
    let verdict = logged_verdict(&fail);
    let (_, detail) = slogate.get(&format!(
        "/api/v1/verdicts/{}",
        verdict["id"].as_str().unwrap()
    ));
    let (_, listed) = slogate.get("/api/v1/verdicts?service=podinfo");
    for (what, text) in [
        ("the answer", answered.clone()),
        ("the stored verdict and inputs", detail.to_string()),
        ("the history", listed.to_string()),
        ("the server's log", slogate.log()),
    ] {
        assert!(!text.contains(TOKEN), "the token is in {what}: {text}");
    }
    assert_eq!(
        detail["inputs"]["request"]["flagger"]["metadata"],
        json!({"service": "podinfo", "lookback": "10m"}),
        "{detail:#}"
    );
}

#[test]
fn the_emulated_client_retries_a_5xx_and_loses_its_body_as_retryablehttp_does() {
    // The reason the gate never answers 5xx: checked on a stand-in that always answers 503.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "the reason") }
        }),
    );
    let served = support::serve::Served::start(app);
    let result = flagger::call(&format!("{}/", served.url), "{}", RETRIES);
    assert_eq!(result.attempts, RETRIES + 1);
    assert_eq!(hits.load(Ordering::SeqCst), RETRIES + 1);
    let error = result.result.unwrap_err();
    assert!(
        error.contains("giving up after 4 attempt(s)") && !error.contains("the reason"),
        "{error}"
    );
}
