//! Tests of the `notify:` settings.

use super::*;

fn parse(text: &str) -> NotifyConfig {
    serde_saphyr::from_str(text).unwrap()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn error(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    parse(text).settings_with(env).unwrap_err().to_string()
}

#[test]
fn the_sketch_in_the_readme_parses_and_secrets_are_read_but_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let slack = dir.path().join("slack");
    std::fs::write(
        &slack,
        "https://hooks.slack.com/services/T0/B0/SECRETPART\n",
    )
    .unwrap();
    let text = format!(
        "status_url: https://slogate.example.com/\ntimeout: 5s\n\
         backoff: {{initial: 200ms, max: 1m, give_up_after: 2h}}\n\
         slack: {{webhooks: {{payments: {{url_file: {}}}}}}}\n\
         pagerduty: {{routing_keys: {{payments: {{}}}}}}\n\
         routes:\n\
         - match: {{team: payments, kind: canary, verdicts: [fail]}}\n  \
           slack: {{webhook: payments, channel: '#deploys'}}\n  \
           pagerduty: {{routing_key: payments}}\n  continue: true\n",
        slack.display()
    );
    let env =
        |k: &str| (k == "SLOGATE_PAGERDUTY_ROUTING_KEY_PAYMENTS").then(|| "R0UTINGKEY".to_string());
    let settings = parse(&text).settings_with(&env).unwrap();
    assert_eq!(
        settings.status_url.as_deref(),
        Some("https://slogate.example.com")
    );
    assert_eq!(settings.backoff.initial, Duration::from_millis(200));
    assert_eq!(settings.timeout, Duration::from_secs(5));
    assert_eq!(
        settings.slack_webhooks["payments"].expose(),
        "https://hooks.slack.com/services/T0/B0/SECRETPART"
    );
    assert_eq!(settings.routing_keys["payments"].expose(), "R0UTINGKEY");
    assert_eq!(
        settings.routes[0].matches.verdicts,
        Some(vec![Outcome::Fail])
    );
    assert!(settings.routes[0].continue_matching);
    let printed = format!("{settings:?}");
    assert!(!printed.contains("SECRETPART"), "{printed}");
    assert!(!printed.contains("R0UTINGKEY"), "{printed}");
}

#[test]
fn unknown_keys_are_refused() {
    let err = serde_saphyr::from_str::<NotifyConfig>("routes: [{match: {teem: x}}]")
        .unwrap_err()
        .to_string();
    assert!(err.contains("teem"), "{err}");
}

#[test]
fn an_unreadable_secret_file_names_the_setting() {
    let err = error(
        "slack: {webhooks: {ops: {url_file: /nonexistent/hook}}}",
        &no_env,
    );
    assert!(
        err.starts_with("notify.slack.webhooks.ops.url_file: /nonexistent/hook"),
        "{err}"
    );
    let err = error("pagerduty: {routing_keys: {ops: {}}}", &no_env);
    assert!(
        err.starts_with("notify.pagerduty.routing_keys.ops:"),
        "{err}"
    );
    assert!(err.contains("SLOGATE_PAGERDUTY_ROUTING_KEY_OPS"), "{err}");
}

#[test]
fn a_webhook_url_must_be_https_except_to_loopback_and_is_never_echoed() {
    let with = |url: &'static str| {
        move |k: &str| (k == "SLOGATE_SLACK_WEBHOOK_OPS_TEAM").then(|| url.to_string())
    };
    let text = "slack: {webhooks: {ops-team: {}}}";
    for bad in [
        "http://hooks.example.com/SECRET",
        "ftp://x/SECRET",
        "not a url SECRET",
    ] {
        let err = error(text, &with(bad));
        assert!(
            err.starts_with("notify.slack.webhooks.ops-team"),
            "{bad}: {err}"
        );
        assert!(!err.contains("SECRET"), "{bad}: {err}");
    }
    for good in [
        "https://hooks.slack.com/x",
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://[::1]:8/x",
    ] {
        assert!(parse(text).settings_with(&with(good)).is_ok(), "{good}");
    }
    let err = error(
        "pagerduty: {events_url: 'http://events.example.com/v2/enqueue'}",
        &no_env,
    );
    assert!(err.starts_with("notify.pagerduty.events_url"), "{err}");
}

#[test]
fn a_route_naming_an_unknown_webhook_or_key_is_refused() {
    let err = error("routes: [{slack: {webhook: nope}}]", &no_env);
    assert!(err.starts_with("notify.routes[0].slack.webhook"), "{err}");
    let err = error("routes: [{pagerduty: {routing_key: nope}}]", &no_env);
    assert!(
        err.starts_with("notify.routes[0].pagerduty.routing_key"),
        "{err}"
    );
    let err = error("routes: [{match: {team: a}}]", &no_env);
    assert!(err.starts_with("notify.routes[0]"), "{err}");
}

#[test]
fn bad_durations_name_the_setting() {
    for (text, setting) in [
        ("timeout: 10", "notify.timeout"),
        ("backoff: {initial: 0s}", "notify.backoff.initial"),
        ("backoff: {initial: 2m, max: 1m}", "notify.backoff.max"),
        (
            "backoff: {give_up_after: soon}",
            "notify.backoff.give_up_after",
        ),
        ("status_url: 'not a url'", "notify.status_url"),
    ] {
        let err = error(text, &no_env);
        assert!(err.starts_with(setting), "{text}: {err}");
    }
}

#[test]
fn env_names_are_upper_case_with_underscores() {
    assert_eq!(
        env_name("SLOGATE_SLACK_WEBHOOK_", "payments-deploys.eu"),
        "SLOGATE_SLACK_WEBHOOK_PAYMENTS_DEPLOYS_EU"
    );
}
