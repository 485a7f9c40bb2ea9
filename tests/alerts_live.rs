//! End to end for a plain threshold alert (`alerts:` in a spec): `slogate generate` writes the
//! rule file and the Alertmanager configuration of a spec made for this test; a live
//! Prometheus scrapes a metrics target the test serves, evaluates the generated rule and sends
//! to a real Alertmanager loaded with the generated configuration; Alertmanager delivers the
//! critical alert by email to a real SMTP server (aiosmtpd) and the warning to the Slack
//! stand-in, which checks the payload against Block Kit's limits.
//!
//! Everything that differs from production is said in the spec's AlertRouting document (the
//! SMTP server's address, no STARTTLS, 1 s group timings), with one exception: the secrets
//! directory, a fixed path (`/etc/alertmanager/secrets`, the operator's mount point), is
//! pointed at a temp directory that holds the Slack webhook URL.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use slogate::generate::alertmanager::SECRETS_DIR;
use support::alertmanager::Alertmanager;
use support::prometheus::{PrometheusGuard, free_port};
use support::receivers::Receiver;
use support::serve::Served;
use support::smtp::{SmtpGuard, parse_message};

const SERVICE: &str = "live-api";
const ALERT: &str = "LiveHighErrorRate";
const EMAIL_SUMMARY: &str = "More than 10% of live-api requests fail";
const SLACK_SUMMARY: &str = "More than 5% of live-api requests fail";
/// Long enough for anything the test waits for (first scrape, `for:`, group wait, delivery),
/// short enough that a lost alert fails the test in well under a minute.
const DEADLINE: Duration = Duration::from_secs(45);

/// The service: 100 requests/s, 20 of them 5xx. Counters grow with time, so `rate()` over
/// two scrapes is 0.2 whatever the scrape times.
fn metrics_target() -> Served {
    Served::metrics(|t| {
        let errors = (20.0 * t).round();
        let ok = (80.0 * t).round();
        format!(
            "# TYPE http_requests_total counter\n\
             http_requests_total{{service=\"{SERVICE}\",code=\"200\"}} {ok}\n\
             http_requests_total{{service=\"{SERVICE}\",code=\"500\"}} {errors}\n"
        )
    })
}

/// The spec: one alert name at two severities (critical by email, warning on Slack), both
/// true at a 20% error rate, with a 2 s `for:` so Prometheus holds each pending first.
fn write_spec(dir: &Path, smtp_port: u16) {
    let error_ratio = format!(
        "sum(rate(http_requests_total{{service=\"{SERVICE}\",code=~\"5..\"}}[1m])) / sum(rate(http_requests_total{{service=\"{SERVICE}\"}}[1m]))"
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("alert-routing.yaml"),
        format!(
            "apiVersion: slogate/v1\n\
             kind: AlertRouting\n\
             group_wait: 1s\n\
             group_interval: 1s\n\
             smtp:\n  smarthost: 127.0.0.1:{smtp_port}\n  from: alertmanager@example.com\n  require_tls: false\n\
             teams:\n  live:\n    email: live-oncall@example.com\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{SERVICE}.yaml")),
        format!(
            "apiVersion: slogate/v1\n\
             kind: ServiceLevels\n\
             service: {SERVICE}\n\
             team: live\n\
             alerts:\n\
             \x20 - name: {ALERT}\n    expr: '{error_ratio} > 0.10'\n    for: 2s\n    severity: critical\n    route: email\n    summary: {EMAIL_SUMMARY}\n    description: 'Error ratio {{{{ $value }}}}.'\n\
             \x20 - name: {ALERT}\n    expr: '{error_ratio} > 0.05'\n    for: 2s\n    severity: warning\n    route: slack\n    channel: '#live-alerts'\n    summary: {SLACK_SUMMARY}\n"
        ),
    )
    .unwrap();
}

/// Runs the real CLI: `slogate generate --slos SLOS --out OUT`.
fn generate(slos: &Path, out: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_slogate"))
        .arg("generate")
        .arg("--slos")
        .arg(slos)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "slogate generate failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The generated Alertmanager file with its secrets directory moved to `secrets_dir`, where
/// the Slack webhook URL is written in the operator's `<secret>/<key>` layout.
fn alertmanager_config(out: &Path, secrets_dir: &Path, slack: &Receiver) -> std::path::PathBuf {
    let generated = std::fs::read_to_string(out.join("alertmanager/alertmanager.yaml")).unwrap();
    let prefix = format!("{SECRETS_DIR}/");
    let webhook_file = generated
        .lines()
        .find_map(|l| l.trim().strip_prefix("api_url_file: "))
        .expect("a Slack receiver reads its webhook URL from a file");
    let relative = webhook_file
        .strip_prefix(&prefix)
        .expect("secrets live under the operator's mount point");
    let file = secrets_dir.join(relative);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, format!("{}/services/T000/B000/live", slack.url)).unwrap();
    let edited = generated.replace(SECRETS_DIR, secrets_dir.to_str().unwrap());
    let path = out.join("alertmanager-test.yaml");
    std::fs::write(&path, edited).unwrap();
    path
}

#[test]
fn a_threshold_alert_fires_in_prometheus_and_reaches_email_and_slack_through_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpGuard::start(free_port(), &dir.path().join("maildir"));
    let slack = Receiver::slack();
    let (slos, out) = (dir.path().join("slos"), dir.path().join("out"));
    write_spec(&slos, smtp.port);
    generate(&slos, &out);

    let rules = std::fs::read_to_string(out.join(format!("alert-rules/{SERVICE}.yaml"))).unwrap();
    assert!(rules.contains(ALERT), "{rules}");
    let config = alertmanager_config(&out, &dir.path().join("secrets"), &slack);
    support::alertmanager::check_config(&config);
    let alertmanager = Alertmanager::start(&config);
    let target = metrics_target();
    let prometheus_config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
         rule_files: [rules.yaml]\n\
         alerting: {{alertmanagers: [{{static_configs: [{{targets: ['{am}']}}]}}]}}\n\
         scrape_configs: [{{job_name: {SERVICE}, static_configs: [{{targets: ['{target}']}}]}}]\n",
        am = alertmanager.addr,
        target = target.host_port(),
    );
    let prometheus = PrometheusGuard::start_live(&prometheus_config, &[("rules.yaml", &rules)]);

    // Slack: the warning, its title naming the alert, its text the summary; valid Block Kit.
    let messages = slack.wait_for_accepted(1, DEADLINE);
    let message = &messages[0];
    assert_eq!(message["channel"], "#live-alerts", "{message:#}");
    let title = message["attachments"][0]["title"].as_str().unwrap_or("");
    assert!(title.starts_with("[FIRING:1]"), "{message:#}");
    assert!(title.contains(ALERT), "{message:#}");
    let text = message["attachments"][0]["text"].as_str().unwrap_or("");
    assert!(text.contains(SLACK_SUMMARY), "{message:#}");
    assert!(
        !text.contains(EMAIL_SUMMARY),
        "the critical one is email's: {message:#}"
    );
    assert_eq!(slack.problems(), Vec::<String>::new());

    // Email: the critical one, to the team's address, subject naming the alert.
    let mails = smtp.wait_for(1, DEADLINE);
    let mail = parse_message(&mails[0], dir.path());
    assert_eq!(mail["to"], "live-oncall@example.com", "{mail:#}");
    assert_eq!(mail["from"], "alertmanager@example.com", "{mail:#}");
    let subject = mail["subject"].as_str().unwrap_or("");
    assert!(subject.starts_with("[FIRING:1]"), "{mail:#}");
    assert!(subject.contains(ALERT), "{mail:#}");
    assert!(texts(&mail["tree"]).contains(EMAIL_SUMMARY), "{mail:#}");

    // Prometheus fired both from the generated rules, at the severities the spec gave.
    let firing = firing_severities(&prometheus.url);
    assert_eq!(firing, vec!["critical", "warning"], "{}", prometheus.log());
}

/// Every text part of a parsed message, joined.
fn texts(node: &Value) -> String {
    let own = node["text"].as_str().unwrap_or("").to_string();
    let parts = node["parts"].as_array().into_iter().flatten().map(texts);
    std::iter::once(own)
        .chain(parts)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Severities of the firing `ALERT` alerts in Prometheus, sorted.
fn firing_severities(prometheus: &str) -> Vec<String> {
    let body: Value = reqwest::blocking::get(format!("{prometheus}/api/v1/alerts"))
        .unwrap()
        .json()
        .unwrap();
    let mut severities: Vec<String> = body["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "firing" && a["labels"]["alertname"] == ALERT)
        .map(|a| a["labels"]["severity"].as_str().unwrap_or("").to_string())
        .collect();
    severities.sort();
    severities
}
