//! `slogate serve` end to end over HTTP, against a real Prometheus backfilled up to a minute
//! ago: the exact requests the generated AnalysisTemplates make (URL path, headers, body with
//! the arguments filled in), Flagger's webhook, the history, and bad input.

mod support;

use serde_json::Value;
use support::argo::argo;
use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard, TOKEN, example_scenario as scenario};

fn assert_explained(verdict: &Value) {
    assert!(
        !verdict["summary"].as_str().unwrap_or("").is_empty(),
        "{verdict:#}"
    );
    for check in verdict["checks"].as_array().unwrap() {
        assert!(
            !check["reason"].as_str().unwrap_or("").is_empty(),
            "{check:#}"
        );
    }
}

#[test]
fn argo_and_flagger_get_pass_for_a_good_canary_and_fail_for_a_bad_one_and_history_keeps_why() {
    let prometheus = PrometheusGuard::start(&scenario());
    let mut slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    slogate.wait_for("/readyz", 200);
    let canary_args = |canary| {
        [
            ("stable-hash", "stable-7d9f"),
            ("canary-hash", canary),
            ("api-token", TOKEN),
        ]
    };
    let template = "financeanalyst-api-canary.yaml";

    let (status, good) = argo(&slogate, template, &canary_args("good-5c8b"));
    assert_eq!(status, 200, "{good:#}");
    assert_eq!(good["verdict"], "pass", "{good:#}");
    assert_explained(&good);
    let (status, bad) = argo(&slogate, template, &canary_args("bad-6f1a"));
    assert_eq!(status, 200, "{bad:#}");
    assert_eq!(bad["verdict"], "fail", "{bad:#}");
    assert_explained(&bad);
    let failed: Vec<&Value> = bad["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "fail")
        .collect();
    assert!(
        failed.iter().any(|c| c["name"] == "error-rate"),
        "the error rate is what got worse: {bad:#}"
    );

    // The error-budget gate, as its template asks.
    let slo_args = [("api-token", TOKEN)];
    let (status, healthy) = argo(&slogate, "reconciliation-backend-slo-gate.yaml", &slo_args);
    assert_eq!(
        (status, healthy["verdict"].as_str()),
        (200, Some("pass")),
        "{healthy:#}"
    );
    let (status, burning) = argo(&slogate, "mita-backend-slo-gate.yaml", &slo_args);
    assert_eq!(
        (status, burning["verdict"].as_str()),
        (200, Some("fail")),
        "{burning:#}"
    );
    assert_explained(&burning);

    // Flagger: 200 on pass, non-2xx with the verdict otherwise.
    let flagger = |canary: &str| {
        let body = serde_json::json!({
            "name": "financeanalyst-api", "namespace": "prod", "phase": "Progressing",
            "checksum": "abc", "type": "rollout",
            "metadata": {"baseline": "stable-7d9f", "canary": canary, "lookback": "10m"}
        });
        slogate.post("/api/v1/gates/flagger", &body.to_string())
    };
    let (status, verdict) = flagger("good-5c8b");
    assert_eq!(
        (status, verdict["verdict"].as_str()),
        (200, Some("pass")),
        "{verdict:#}"
    );
    let (status, verdict) = flagger("bad-6f1a");
    assert_eq!(status, 412, "{verdict:#}");
    assert_eq!(verdict["verdict"], "fail");

    // The history holds every verdict, newest first, with its reasons and inputs.
    let (status, page) = slogate.get("/api/v1/verdicts?service=financeanalyst-api");
    assert_eq!(status, 200, "{page:#}");
    let listed = page["verdicts"].as_array().unwrap();
    assert_eq!(listed.len(), 4, "{page:#}");
    assert_eq!(listed[0]["verdict"], "fail", "newest first: {page:#}");
    let (status, failed) = slogate.get("/api/v1/verdicts?service=financeanalyst-api&outcome=fail");
    assert_eq!(status, 200);
    assert_eq!(
        failed["verdicts"].as_array().unwrap().len(),
        2,
        "{failed:#}"
    );
    let id = bad["id"].as_str().unwrap();
    let (status, detail) = slogate.get(&format!("/api/v1/verdicts/{id}"));
    assert_eq!(status, 200, "{detail:#}");
    assert_eq!(
        detail["verdict"], bad,
        "the stored verdict is the one answered"
    );
    let inputs = &detail["inputs"];
    assert_eq!(inputs["canary"], "bad-6f1a", "{inputs:#}");
    assert_eq!(inputs["request"]["lookback"], "10m", "{inputs:#}");
    let queries = inputs["metrics"][0]["queries"].as_array().unwrap();
    assert!(
        queries
            .iter()
            .any(|q| q.as_str().unwrap().contains("http_requests_total"))
    );
    let (status, _) = slogate.get("/api/v1/verdicts/no-such-id");
    assert_eq!(status, 404);

    // SLO status, as `slogate evaluate --output json` prints it.
    let (status, slos) = slogate.get("/api/v1/slos/reconciliation-backend/availability");
    assert_eq!(status, 200, "{slos:#}");
    assert_eq!(slos["slos"][0]["slo"], "availability", "{slos:#}");
    assert_eq!(slos["slos"][0]["verdict"], "pass", "{slos:#}");
    assert!(
        slos["slos"][0]["error_budget"]["remaining"]
            .as_f64()
            .unwrap()
            > 0.5,
        "{slos:#}"
    );
    let (status, all) = slogate.get("/api/v1/slos");
    assert_eq!(status, 200);
    assert_eq!(
        all["slos"].as_array().unwrap().len(),
        11,
        "every SLO of the examples"
    );
    let (status, _) = slogate.get("/api/v1/slos/reconciliation-backend/no-such-slo");
    assert_eq!(status, 404);

    // Own metrics count the verdicts by outcome.
    let (_, metrics) = slogate.request("GET", "/metrics", None, None, &[]);
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains(r#"slogate_verdicts_total{kind="canary",verdict="fail"} 2"#),
        "{metrics}"
    );

    slogate.signal("TERM");
    assert!(
        slogate.wait_exit().success(),
        "SIGTERM ends slogate cleanly"
    );
}

#[test]
fn bad_requests_get_clear_4xx_and_nothing_is_stored() {
    let prometheus = PrometheusGuard::start(&scenario());
    let slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    let good = r#"{"service":"financeanalyst-api","baseline":{"version":"stable-7d9f"},"canary":{"version":"good-5c8b"},"lookback":"10m"}"#;
    let gate = "/api/v1/gates/canary";
    let cases: Vec<(&str, String, Option<&str>, u16, &str)> = vec![
        ("missing token", good.into(), None, 401, "unauthorized"),
        (
            "wrong token",
            good.into(),
            Some("wrong-token-0123456789"),
            401,
            "unauthorized",
        ),
        (
            "malformed JSON",
            "{\"service\": ".into(),
            Some(TOKEN),
            400,
            "bad_request",
        ),
        ("empty body", String::new(), Some(TOKEN), 400, "bad_request"),
        (
            "unknown field",
            good.replace("\"lookback\"", "\"lookbak\""),
            Some(TOKEN),
            400,
            "bad_request",
        ),
        (
            "unknown service",
            good.replace("financeanalyst-api", "no-such-service"),
            Some(TOKEN),
            404,
            "unknown_service",
        ),
        (
            "PromQL injection in a version",
            good.replace("good-5c8b", r#"x\"} or vector(1) #"#),
            Some(TOKEN),
            400,
            "invalid_field",
        ),
        (
            "label matcher injection",
            good.replace("good-5c8b", "x\\\",service=~\\\".*"),
            Some(TOKEN),
            400,
            "invalid_field",
        ),
        (
            "oversized body",
            format!(r#"{{"service":"{}"}}"#, "a".repeat(100 * 1024)),
            Some(TOKEN),
            413,
            "",
        ),
        (
            "a window of a year",
            good.replace("10m", "365d"),
            Some(TOKEN),
            400,
            "invalid_field",
        ),
    ];
    for (name, body, token, status, code) in cases {
        let (got, answer) = slogate.request("POST", gate, Some(&body), token, &[]);
        assert_eq!(got, status, "{name}: {answer:#}");
        if !code.is_empty() {
            assert_eq!(answer["error"]["code"], code, "{name}: {answer:#}");
            assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
        }
    }
    let (_, injected) = slogate.post(gate, &good.replace("good-5c8b", r#"x\"} or vector(1) #"#));
    assert_eq!(injected["error"]["field"], "canary.version", "{injected:#}");
    let (status, page) = slogate.get("/api/v1/verdicts");
    assert_eq!(status, 200);
    assert_eq!(
        page["verdicts"].as_array().unwrap().len(),
        0,
        "nothing stored: {page:#}"
    );
    // History needs the token too; health does not.
    let (status, _) = slogate.request("GET", "/api/v1/verdicts", None, None, &[]);
    assert_eq!(status, 401);
    let (status, _) = slogate.request("GET", "/healthz", None, None, &[]);
    assert_eq!(status, 200);
}
