//! The blue-green gates end to end: a real Prometheus backfilled with traffic shaped like a
//! blue-green release of financeanalyst-api, a real `slogate serve`, and the exact requests
//! of the generated `-bluegreen-pre` and `-bluegreen-post` AnalysisTemplates.
//!
//! The traffic (20 requests/s in production, 5/s of smoke traffic on a preview):
//! - previews, before any switch: each takes only smoke traffic for the last 15 minutes: a
//!   good one (0.1% errors, 1% slow), a bad one (3% errors, 30% slow) and one with almost no
//!   traffic (0.2 requests/s: too few events to show a rate under 0.5%);
//! - a switch at `T`, 12 minutes before the data ends: the old version serves until `T` and
//!   nothing after; a good new version (as good as the old) and a bad one (1% errors, 30%
//!   slow) serve only after `T`.
//!
//! financeanalyst-api's profile asks for p95 at most 0.5 s, errors at most 0.5% and at most
//! +0.1 points over the baseline, beside its ratios.

mod support;

use serde_json::Value;
use support::argo::argo;
use support::prometheus::PrometheusGuard;
use support::scenario::{Scenario, Segment, Workload};
use support::slogate::{ServeOptions, SlogateGuard, TOKEN};

const SERVICE: &str = "financeanalyst-api";
/// Seconds of data in all.
const SPAN: u64 = 2 * 3600;
/// The switch, in seconds before the data ends.
const SWITCH_BEFORE_END: u64 = 12 * 60;
/// Smoke traffic reaches a preview this long before the data ends.
const SMOKE_BEFORE_END: u64 = 15 * 60;

fn segment(seconds: u64, rps: f64, error_ratio: f64, slow_ratio: f64) -> Segment {
    Segment {
        seconds,
        rps,
        error_ratio,
        slow_ratio,
    }
}

/// Nothing until `quiet_until_end` seconds before the end, then `rps` to the end.
fn arriving(version: &str, before_end: u64, rps: f64, errors: f64, slow: f64) -> Workload {
    Workload {
        service: SERVICE.into(),
        version: Some(version.into()),
        segments: vec![
            segment(SPAN - before_end, 0.0, 0.0, 0.0),
            segment(before_end, rps, errors, slow),
        ],
    }
}

/// The scenario, and the switch time (unix seconds).
fn blue_green() -> (Scenario, i64) {
    let end = (chrono::Utc::now().timestamp() - 15) / 15 * 15;
    let start = end - SPAN as i64;
    let old = Workload {
        service: SERVICE.into(),
        version: Some("blue-1a2b".into()),
        segments: vec![
            segment(SPAN - SWITCH_BEFORE_END, 20.0, 0.001, 0.01),
            segment(SWITCH_BEFORE_END, 0.0, 0.0, 0.0),
        ],
    };
    let scenario = Scenario {
        start,
        step: 15,
        workloads: vec![
            old,
            arriving("green-3c4d", SWITCH_BEFORE_END, 20.0, 0.001, 0.01),
            arriving("green-bad-5e6f", SWITCH_BEFORE_END, 20.0, 0.01, 0.30),
            arriving("preview-7a8b", SMOKE_BEFORE_END, 5.0, 0.001, 0.01),
            arriving("preview-bad-9c0d", SMOKE_BEFORE_END, 5.0, 0.03, 0.30),
            arriving("preview-quiet-1e2f", SMOKE_BEFORE_END, 0.2, 0.001, 0.01),
        ],
    };
    (scenario, end - SWITCH_BEFORE_END as i64)
}

fn check<'a>(verdict: &'a Value, name: &str) -> &'a Value {
    verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {verdict:#}"))
}

fn pre(slogate: &SlogateGuard, preview: &str) -> Value {
    let args = [("preview-hash", preview), ("api-token", TOKEN)];
    let (status, verdict) = argo(slogate, "financeanalyst-api-bluegreen-pre.yaml", &args);
    assert_eq!(status, 200, "{verdict:#}");
    verdict
}

fn post(slogate: &SlogateGuard, active: &str, switch: &str) -> Value {
    let args = [
        ("active-hash", active),
        ("previous-hash", "blue-1a2b"),
        ("switch-time", switch),
        ("api-token", TOKEN),
    ];
    let (status, verdict) = argo(slogate, "financeanalyst-api-bluegreen-post.yaml", &args);
    assert_eq!(status, 200, "{verdict:#}");
    verdict
}

#[test]
fn the_pre_promotion_gate_holds_a_preview_to_its_limits_on_smoke_traffic() {
    let (scenario, _) = blue_green();
    let prometheus = PrometheusGuard::start(&scenario);
    let mut slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    slogate.wait_for("/readyz", 200);

    let good = pre(&slogate, "preview-7a8b");
    assert_eq!(good["verdict"], "pass", "{good:#}");
    assert!(
        good["summary"]
            .as_str()
            .unwrap()
            .starts_with("financeanalyst-api (blue-green pre-promotion): preview within"),
        "{good:#}"
    );
    // Only the limits that need no baseline are checks of a preview.
    let names: Vec<&str> = good["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["error-rate:max_rate", "p95-latency:max"],
        "{good:#}"
    );
    let rate = check(&good, "error-rate:max_rate");
    // About 10 minutes at 5/s (the last seconds before the ask hold no data yet).
    let n = rate["canary"]["n"].as_u64().unwrap();
    assert!((2700..=3000).contains(&n), "{rate:#}");
    assert!(rate.get("baseline").is_none(), "{rate:#}");

    let bad = pre(&slogate, "preview-bad-9c0d");
    assert_eq!(bad["verdict"], "fail", "{bad:#}");
    let rate = check(&bad, "error-rate:max_rate");
    assert_eq!(rate["verdict"], "fail", "{rate:#}");
    let reason = rate["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("canary error-rate at ")
            && reason.contains("above max_rate 0.5% (lower bound")
            && reason.contains("tempered by"),
        "{reason}"
    );
    let p95 = check(&bad, "p95-latency:max");
    assert_eq!(p95["verdict"], "fail", "{p95:#}");
    assert!(
        p95["reason"].as_str().unwrap().contains("above max 0.5"),
        "{p95:#}"
    );

    // 0.2 requests/s for 10 minutes: about 120 events cannot show a rate under 0.5% at 99%
    // (1039 could over ten minutes, had none failed).
    let quiet = pre(&slogate, "preview-quiet-1e2f");
    assert_eq!(quiet["verdict"], "inconclusive", "{quiet:#}");
    let rate = check(&quiet, "error-rate:max_rate");
    assert_eq!(rate["verdict"], "inconclusive", "{rate:#}");
    assert!(
        rate["reason"]
            .as_str()
            .unwrap()
            .contains("at least 1039 needed to show a rate within max_rate 0.5% at 99%"),
        "{rate:#}"
    );

    // Recorded with the gate's name and notified under the preview's own subject.
    let (status, page) = slogate.get(&format!("/api/v1/verdicts?service={SERVICE}"));
    assert_eq!(status, 200);
    assert_eq!(page["verdicts"].as_array().unwrap().len(), 3, "{page:#}");
    let id = bad["id"].as_str().unwrap();
    let (status, detail) = slogate.get(&format!("/api/v1/verdicts/{id}"));
    assert_eq!(status, 200, "{detail:#}");
    assert_eq!(detail["verdict"], bad);
    assert_eq!(detail["inputs"]["gate"], "bluegreen-pre", "{detail:#}");
    assert_eq!(detail["inputs"]["canary"], "preview-bad-9c0d");
    assert!(detail["inputs"]["baseline"].is_null(), "{detail:#}");
}

#[test]
fn the_post_promotion_gate_compares_the_new_version_after_the_switch_with_the_old_before() {
    let (scenario, switch) = blue_green();
    let prometheus = PrometheusGuard::start(&scenario);
    let mut slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    slogate.wait_for("/readyz", 200);
    let switch = switch.to_string();

    let good = post(&slogate, "green-3c4d", &switch);
    assert_eq!(good["verdict"], "pass", "{good:#}");
    assert_eq!(good["window"]["start"], rfc3339(&switch), "{good:#}");
    let points = check(&good, "error-rate:max_increase_points");
    assert_eq!(points["verdict"], "pass", "{points:#}");
    // 10 minutes at 20/s on each side, before and after.
    for side in ["baseline", "canary"] {
        let n = points[side]["n"].as_u64().unwrap();
        assert!((11_900..=12_100).contains(&n), "{side} {n}: {points:#}");
    }

    let bad = post(&slogate, "green-bad-5e6f", &switch);
    assert_eq!(bad["verdict"], "fail", "{bad:#}");
    for name in [
        "error-rate",
        "error-rate:max_rate",
        "error-rate:max_increase_points",
        "p95-latency:max",
    ] {
        assert_eq!(check(&bad, name)["verdict"], "fail", "{name}: {bad:#}");
    }
    let reason = check(&bad, "error-rate:max_increase_points")["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.contains("vs baseline 0.1%") && reason.contains("+0.9 points"),
        "{reason}"
    );

    // Without a switch time (the template's default), the switch is one lookback before
    // the ask: the old version is still the baseline, read before it.
    let defaulted = post(&slogate, "green-3c4d", "");
    assert_eq!(defaulted["verdict"], "pass", "{defaulted:#}");

    let id = bad["id"].as_str().unwrap();
    let (_, detail) = slogate.get(&format!("/api/v1/verdicts/{id}"));
    let inputs = &detail["inputs"];
    assert_eq!(inputs["gate"], "bluegreen-post", "{inputs:#}");
    let switch: i64 = switch.parse().unwrap();
    assert_eq!(
        inputs["baseline_window"],
        serde_json::json!({"start": switch - 600, "end": switch}),
        "{inputs:#}"
    );
    assert_eq!(
        inputs["window"],
        serde_json::json!({"start": switch, "end": switch + 600})
    );
}

#[test]
fn the_blue_green_gates_refuse_what_they_cannot_judge_by_field() {
    let (scenario, _) = blue_green();
    let prometheus = PrometheusGuard::start(&scenario);
    let slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    let cases = [
        (
            "/api/v1/gates/bluegreen/pre",
            r#"{"service":"finbot-api","preview":{"version":"p"}}"#,
            Some(TOKEN),
            400,
            "service",
        ),
        (
            "/api/v1/gates/bluegreen/post",
            r#"{"service":"financeanalyst-api","previous":{"version":"a"},"active":{"version":"a"}}"#,
            Some(TOKEN),
            400,
            "active.version",
        ),
        (
            "/api/v1/gates/bluegreen/post",
            r#"{"service":"financeanalyst-api","previous":{"version":"a"},"active":{"version":"b"},"switch_time":"yesterday"}"#,
            Some(TOKEN),
            400,
            "switch_time",
        ),
        (
            "/api/v1/gates/bluegreen/pre",
            r#"{"service":"financeanalyst-api","preview":{"version":"x\"} or vector(1) #"}}"#,
            Some(TOKEN),
            400,
            "preview.version",
        ),
        (
            "/api/v1/gates/bluegreen/pre",
            r#"{"service":"financeanalyst-api","preview":{"version":"p"}}"#,
            None,
            401,
            "",
        ),
    ];
    for (path, body, token, status, field) in cases {
        let (got, answer) = slogate.request("POST", path, Some(body), token, &[]);
        assert_eq!(got, status, "{path} {body}: {answer:#}");
        if !field.is_empty() {
            assert_eq!(answer["error"]["field"], field, "{answer:#}");
        }
    }
    let (_, page) = slogate.get("/api/v1/verdicts");
    assert_eq!(page["verdicts"].as_array().unwrap().len(), 0, "{page:#}");
}

fn rfc3339(unix: &str) -> String {
    let t = chrono::DateTime::from_timestamp(unix.parse().unwrap(), 0).unwrap();
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
