//! End to end from a burning SLO to the people who must hear of it: a real Prometheus scrapes a
//! live service, evaluates the committed `alert-rules/financy-api.yaml`, and sends its alerts
//! to a real Alertmanager loaded with the committed `alertmanager/alertmanager.yaml`; the
//! page reaches the PagerDuty stand-in and the ticket the Slack stand-in, and both receivers
//! find every payload valid against the published formats.
//!
//! The routing file is used as generated, with three test-only edits: the secrets directory
//! points at a temp directory (routing keys and the webhook URL written there, in the
//! operator's `<secret>/<key>` layout), the `global` section points PagerDuty at the stand-in,
//! and `group_wait` is 1 s instead of 30 s.
//!
//! The service: 50% of requests fail (availability burns its 0.1% budget 500x: page) and 25%
//! are slower than 500 ms (latency burns its 5% budget 5x: over the ticket factor 3, under the
//! page factors 14.4 and 6, so a ticket and no page).

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use slogate::generate::alertmanager::SECRETS_DIR;
use slogate::spec::routing::DEFAULT_SECRET;
use support::alertmanager::Alertmanager;
use support::prometheus::PrometheusGuard;
use support::receivers::{Receiver, pagerduty_problems, pagerduty_validator, slack_problems};
use support::serve::Served;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// A 32-character integration key, as PagerDuty issues them.
const PAYMENTS_KEY: &str = "0123456789abcdef0123456789abcdef";

/// Counters that grow with time at fixed rates: 2000 requests/s, half of them 5xx, a quarter
/// of them slower than 500 ms.
fn metrics_target() -> Served {
    Served::metrics(|t| {
        let total = (2000.0 * t).round();
        let errors = (1000.0 * t).round();
        let fast = (1500.0 * t).round();
        format!(
            "# TYPE http_requests_total counter\n\
             http_requests_total{{service=\"financy-api\",code=\"200\"}} {ok}\n\
             http_requests_total{{service=\"financy-api\",code=\"500\"}} {errors}\n\
             # TYPE http_request_duration_seconds histogram\n\
             http_request_duration_seconds_bucket{{service=\"financy-api\",le=\"0.5\"}} {fast}\n\
             http_request_duration_seconds_bucket{{service=\"financy-api\",le=\"+Inf\"}} {total}\n\
             http_request_duration_seconds_sum{{service=\"financy-api\"}} {sum}\n\
             http_request_duration_seconds_count{{service=\"financy-api\"}} {total}\n",
            ok = total - errors,
            sum = total * 0.3,
        )
    })
}

/// The committed routing with the test-only edits, and the secrets it reads.
fn alertmanager_config(dir: &Path, pagerduty: &Receiver, slack: &Receiver) -> std::path::PathBuf {
    let generated =
        std::fs::read_to_string(Path::new(ROOT).join("alertmanager/alertmanager.yaml")).unwrap();
    // The operator's layout: each Secret in its own directory under the secrets directory.
    let secrets_dir = dir.join("secrets");
    let secrets = secrets_dir.join(DEFAULT_SECRET);
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("smtp-password"), "not-used-here").unwrap();
    for team in [
        "analytics",
        "finbot",
        "mita",
        "payments",
        "reconciliation",
        "default",
    ] {
        let key = if team == "payments" {
            PAYMENTS_KEY.to_string()
        } else {
            format!("{:f<32}", team.len())
        };
        std::fs::write(secrets.join(format!("pagerduty-{team}.key")), key).unwrap();
    }
    std::fs::write(
        secrets.join("slack-webhook-url"),
        format!("{}/services/T000/B000/slogate-test", slack.url),
    )
    .unwrap();
    assert!(generated.contains("group_wait: 30s"), "{generated}");
    // The examples send email, so the file has a `global` section (the SMTP server) already.
    assert!(generated.contains("\nglobal:\n"), "{generated}");
    let edited = generated
        .replacen(
            "\nglobal:\n",
            &format!("\nglobal:\n  pagerduty_url: {}/v2/enqueue\n", pagerduty.url),
            1,
        )
        .replace(SECRETS_DIR, secrets_dir.to_str().unwrap())
        .replace("group_wait: 30s", "group_wait: 1s");
    let path = dir.join("alertmanager.yaml");
    std::fs::write(&path, edited).unwrap();
    path
}

#[test]
fn a_burning_slo_pages_through_pagerduty_and_a_slow_one_opens_a_slack_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let pagerduty = Receiver::pagerduty();
    let slack = Receiver::slack();
    let alertmanager = Alertmanager::start(&alertmanager_config(dir.path(), &pagerduty, &slack));
    let target = metrics_target();
    let rules =
        std::fs::read_to_string(Path::new(ROOT).join("alert-rules/financy-api.yaml")).unwrap();
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
         rule_files: [financy-api.yaml]\n\
         alerting: {{alertmanagers: [{{static_configs: [{{targets: ['{am}']}}]}}]}}\n\
         scrape_configs: [{{job_name: financy-api, static_configs: [{{targets: ['{target}']}}]}}]\n",
        am = alertmanager.addr,
        target = target.host_port(),
    );
    let prometheus = PrometheusGuard::start_live(&config, &[("financy-api.yaml", &rules)]);

    let deadline = Duration::from_secs(60);
    let pages = pagerduty.wait_for_accepted(1, deadline);
    let tickets = slack.wait_for_accepted(1, deadline);

    let page = &pages[0];
    assert_eq!(page["event_action"], "trigger", "{page:#}");
    assert_eq!(page["routing_key"], PAYMENTS_KEY, "{page:#}");
    assert_eq!(page["payload"]["component"], "financy-api", "{page:#}");
    assert_eq!(page["payload"]["class"], "availability", "{page:#}");
    assert_eq!(page["payload"]["severity"], "critical", "{page:#}");
    assert_eq!(page["client"], "Alertmanager", "{page:#}");

    let ticket = &tickets[0];
    assert_eq!(ticket["channel"], "#payments-alerts", "{ticket:#}");
    let title = ticket["attachments"][0]["title"].as_str().unwrap_or("");
    assert!(
        title.contains("financy-api latency (ticket): SLOErrorBudgetBurn"),
        "{ticket:#}"
    );
    assert!(title.starts_with("[FIRING:"), "{ticket:#}");

    // Prometheus agrees: latency burns at ticket level only, availability pages.
    let firing = alerts_firing(&prometheus.url);
    assert!(
        firing.contains(&("availability".into(), "page".into())),
        "{firing:?}"
    );
    assert!(
        firing.contains(&("latency".into(), "ticket".into())),
        "{firing:?}"
    );
    assert!(
        !firing.contains(&("latency".into(), "page".into())),
        "{firing:?}"
    );
    // Every page went to PagerDuty and was about availability; no Slack message was a page.
    for event in pagerduty.accepted() {
        assert_eq!(event["payload"]["class"], "availability", "{event:#}");
    }
    for message in slack.accepted() {
        let title = message["attachments"][0]["title"].as_str().unwrap_or("");
        assert!(!title.contains("(page)"), "{message:#}");
    }
    assert_eq!(pagerduty.problems(), Vec::<String>::new());
    assert_eq!(slack.problems(), Vec::<String>::new());
    drop(alertmanager);
}

/// `(slo_name, slo_severity)` of every firing `SLOErrorBudgetBurn` alert.
fn alerts_firing(prometheus: &str) -> Vec<(String, String)> {
    let url = format!("{prometheus}/api/v1/alerts");
    let body: Value = reqwest::blocking::get(url).unwrap().json().unwrap();
    body["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "firing" && a["labels"]["alertname"] == "SLOErrorBudgetBurn")
        .map(|a| {
            let label = |k: &str| a["labels"][k].as_str().unwrap_or("").to_string();
            (label("slo_name"), label("slo_severity"))
        })
        .collect()
}

// The stand-ins' own checks: they must refuse what the published formats refuse.

#[test]
fn the_pagerduty_stand_in_accepts_a_valid_trigger_and_names_what_is_wrong_in_a_broken_one() {
    let schema = pagerduty_validator();
    let good = serde_json::json!({
        "routing_key": PAYMENTS_KEY,
        "event_action": "trigger",
        "dedup_key": "slogate/checkout/abc..def",
        "payload": {"summary": "s", "severity": "critical", "source": "slogate"},
        "links": [{"href": "https://slogate.example/verdicts/1"}]
    });
    assert_eq!(
        pagerduty_problems(Some(&schema), &good),
        Vec::<String>::new()
    );
    let bad = serde_json::json!({"routing_key": PAYMENTS_KEY, "event_action": "explode",
                     "payload": {"summary": "s", "severity": "fatal"}});
    let problems = pagerduty_problems(Some(&schema), &bad);
    for field in ["event_action", "severity", "source"] {
        assert!(
            problems.iter().any(|p| p.contains(field)),
            "{field}: {problems:?}"
        );
    }
    let resolve = serde_json::json!({"routing_key": PAYMENTS_KEY, "event_action": "resolve"});
    assert_eq!(
        pagerduty_problems(Some(&schema), &resolve),
        ["a resolve event needs a dedup_key"]
    );
    let long = serde_json::json!({"routing_key": PAYMENTS_KEY, "event_action": "trigger",
        "payload": {"summary": "x".repeat(1025), "severity": "info", "source": "s"}});
    assert_eq!(
        pagerduty_problems(Some(&schema), &long),
        ["payload.summary is 1025 characters (max 1024)"]
    );
}

#[test]
fn the_slack_stand_in_enforces_block_kit_limits() {
    let good = serde_json::json!({"text": "fallback", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "checkout canary failed"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*error-rate*"},
         "fields": [{"type": "mrkdwn", "text": "a"}]},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}]}
    ]});
    assert_eq!(slack_problems(&good), Vec::<String>::new());
    let bad = serde_json::json!({"blocks": [
        {"type": "header", "text": {"type": "mrkdwn", "text": "x".repeat(151)}},
        {"type": "table"}
    ]});
    assert_eq!(
        slack_problems(&bad),
        [
            "a message with blocks needs a plain text fallback in `text`",
            "blocks[0].text: text type \"mrkdwn\" not allowed",
            "blocks[0].text: 151 characters (max 150)",
            "blocks[1]: unsupported block type \"table\"",
        ]
    );
    let many: Vec<Value> = (0..51)
        .map(|_| serde_json::json!({"type": "divider"}))
        .collect();
    let problems = slack_problems(&serde_json::json!({"text": "t", "blocks": many}));
    assert_eq!(problems, ["51 blocks (max 50)"]);
}
