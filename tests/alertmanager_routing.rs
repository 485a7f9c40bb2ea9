//! The generated Alertmanager routing, checked by the real Alertmanager 0.25: `amtool
//! check-config` accepts it, `amtool config routes test` sends each SLO tier of every example
//! service to the receiver its definition names, the notification templates render, and a real
//! `prometheus-alertmanager` loads it, routes posted alerts and inhibits a ticket under a page.
//!
//! Alerts are built with the labels slogate's rules give them: `alertname`, `slo_service`,
//! `slo_name`, `slo_severity`, the service's and tier's own labels, and `team` (which burn-rate
//! alerts get from the recorded series; `SLOMetricsAbsent`, built with `absent()`, has none).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use slogate::generate::alertmanager::{
    AlertmanagerConfig, DEFAULT_RECEIVER, SECRETS_DIR, SLACK_WEBHOOK_URL_KEY, alertmanager_config,
    pagerduty_routing_key_file, secret_file,
};
use slogate::spec::routing::DEFAULT_SECRET;
use slogate::spec::{Catalog, ServiceLevels, Slo, load_paths, load_texts};
use support::alertmanager::{Alertmanager, assert_routes_to, check_config, render_template};

fn example_catalog() -> Catalog {
    let report = load_paths(&[PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/slo-definitions"
    ))]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report.catalog
}

/// Two made-up services: `ledger` has no team; `vault` routes its ticket tier to PagerDuty
/// and leaves a Slack channel out.
fn edge_catalog() -> Catalog {
    let sli = r#"
    period: 30d
    sli:
      events:
        errors: sum(rate(req_total{code="500"}[{{window}}]))
        total: sum(rate(req_total[{{window}}]))"#;
    let ledger = format!(
        r##"apiVersion: slogate/v1
kind: ServiceLevels
service: ledger
slos:
  - name: availability
    objective: 99.9{sli}
    alerting:
      page: {{route: pagerduty}}
      ticket: {{route: slack, channel: "#ledger"}}
  - name: freshness
    objective: 99{sli}
    alerting:
      page: {{route: slack, channel: "#ledger-oncall"}}
      ticket: {{route: pagerduty}}
"##
    );
    let vault = format!(
        r##"apiVersion: slogate/v1
kind: ServiceLevels
service: vault
team: core
slos:
  - name: availability
    objective: 99.9{sli}
    alerting:
      page: {{route: pagerduty}}
      ticket: {{route: pagerduty}}
  - name: latency
    objective: 99{sli}
    alerting:
      ticket: {{route: slack}}
"##
    );
    let report = load_texts(&[
        (PathBuf::from("ledger.yaml"), ledger),
        (PathBuf::from("vault.yaml"), vault),
    ]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report.catalog
}

/// YAML as the generate command writes it (block scalars for multi-line templates).
fn to_yaml(config: &AlertmanagerConfig) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = true;
    options.folded_wrap_chars = usize::MAX;
    serde_saphyr::to_string_with_options(config, options).unwrap()
}

fn write_config(dir: &Path, config: &AlertmanagerConfig) -> PathBuf {
    let path = dir.join("alertmanager.yaml");
    std::fs::write(&path, to_yaml(config)).unwrap();
    path
}

/// Which alert of an SLO.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Alert {
    /// The fast-burn tier.
    Page,
    /// The slow-burn tier.
    Ticket,
    /// `SLOMetricsAbsent`.
    NoData,
}

/// The labels the alert carries when Prometheus sends it.
fn alert_labels(service: &ServiceLevels, slo: &Slo, alert: Alert) -> Vec<(String, String)> {
    let mut labels = std::collections::BTreeMap::new();
    let severity = match alert {
        Alert::Page | Alert::Ticket => {
            // From the recorded series the alert expression reads.
            labels.extend(service.labels.clone());
            labels.extend(slo.labels.clone());
            if let Some(team) = &service.team {
                labels.insert("team".to_string(), team.clone());
            }
            // From the alerting rule.
            let tier = if alert == Alert::Page {
                &slo.alerting.page
            } else {
                &slo.alerting.ticket
            };
            labels.extend(slo.alerting.labels.clone());
            labels.extend(tier.labels.clone());
            let name = slo.alerting.name.as_deref().unwrap_or("SLOErrorBudgetBurn");
            labels.insert("alertname".to_string(), name.to_string());
            if alert == Alert::Page {
                "page"
            } else {
                "ticket"
            }
        }
        Alert::NoData => {
            labels.insert("alertname".to_string(), "SLOMetricsAbsent".to_string());
            "ticket"
        }
    };
    labels.insert("slo_service".to_string(), service.service.clone());
    labels.insert("slo_name".to_string(), slo.name.clone());
    labels.insert("slo_severity".to_string(), severity.to_string());
    labels.into_iter().collect()
}

/// (what the row says, service, SLO, alert, receiver).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Alert,
    &'static str,
);

/// Runs every row through `amtool config routes test`, and checks the table names every
/// alert the catalog's SLOs can raise, so a new SLO cannot go untested.
fn assert_table(catalog: &Catalog, rows: &[Row]) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &alertmanager_config(catalog));
    for service in &catalog.services {
        for slo in &service.slos {
            let alerts = [
                (Alert::Page, slo.alerting.page.enabled),
                (Alert::Ticket, slo.alerting.ticket.enabled),
                (Alert::NoData, true),
            ];
            for (alert, exists) in alerts {
                let listed = rows
                    .iter()
                    .any(|r| r.1 == service.service && r.2 == slo.name && r.3 == alert);
                assert_eq!(
                    listed, exists,
                    "the table and the catalog disagree on {alert:?} of {} {}",
                    service.service, slo.name
                );
            }
        }
    }
    for (says, service_name, slo_name, alert, receiver) in rows {
        let service = catalog.service(service_name).expect(service_name);
        let slo = service.slos.iter().find(|s| s.name == *slo_name).unwrap();
        let labels = alert_labels(service, slo, *alert);
        eprintln!("{says}");
        assert_routes_to(&config, &labels, receiver);
    }
}

#[test]
fn the_generated_configuration_passes_amtool_check_config() {
    for (what, catalog) in [
        ("examples", example_catalog()),
        ("edge cases", edge_catalog()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = alertmanager_config(&catalog);
        let block = write_config(dir.path(), &config);
        let found = check_config(&block);
        // slogate's own, and the example settings' two.
        let rules = if what == "examples" { 3 } else { 1 };
        assert_eq!(config.inhibit_rules.len(), rules, "{what}");
        assert!(
            found.contains(&format!("{rules} inhibit rules")),
            "{what}: {found}"
        );
        // The plain serialiser's quoting must be just as acceptable.
        let plain = dir.path().join("plain.yaml");
        std::fs::write(&plain, serde_saphyr::to_string(&config).unwrap()).unwrap();
        check_config(&plain);
    }
}

#[test]
fn every_example_slo_tier_reaches_its_configured_receiver() {
    use Alert::*;
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("financeanalyst-api availability pages analytics on PagerDuty", "financeanalyst-api", "availability", Page, "pagerduty-analytics"),
        ("financeanalyst-api availability tickets go to #analytics-alerts", "financeanalyst-api", "availability", Ticket, "slack-analytics-alerts"),
        ("financeanalyst-api availability without data goes to #analytics-alerts", "financeanalyst-api", "availability", NoData, "slack-analytics-alerts"),
        ("financeanalyst-api critical paths page analytics", "financeanalyst-api", "critical-path-errors", Page, "pagerduty-analytics"),
        ("financeanalyst-api critical-path tickets go to #analytics-alerts", "financeanalyst-api", "critical-path-errors", Ticket, "slack-analytics-alerts"),
        ("financeanalyst-api critical paths without data go to #analytics-alerts", "financeanalyst-api", "critical-path-errors", NoData, "slack-analytics-alerts"),
        ("financeanalyst-api latency has default alerting: pages go to the team's PagerDuty", "financeanalyst-api", "latency", Page, "pagerduty-analytics"),
        ("financeanalyst-api latency tickets name no channel: the default Slack receiver", "financeanalyst-api", "latency", Ticket, DEFAULT_RECEIVER),
        ("financeanalyst-api latency without data: the default Slack receiver", "financeanalyst-api", "latency", NoData, DEFAULT_RECEIVER),
        ("financy-api availability pages payments", "financy-api", "availability", Page, "pagerduty-payments"),
        ("financy-api availability tickets go to #payments-alerts", "financy-api", "availability", Ticket, "slack-payments-alerts"),
        ("financy-api availability without data goes to #payments-alerts", "financy-api", "availability", NoData, "slack-payments-alerts"),
        ("financy-api latency pages payments", "financy-api", "latency", Page, "pagerduty-payments"),
        ("financy-api latency tickets go to #payments-alerts", "financy-api", "latency", Ticket, "slack-payments-alerts"),
        ("financy-api latency without data goes to #payments-alerts", "financy-api", "latency", NoData, "slack-payments-alerts"),
        ("finbot-api availability pages finbot", "finbot-api", "availability", Page, "pagerduty-finbot"),
        ("finbot-api availability tickets go to #finbot-alerts", "finbot-api", "availability", Ticket, "slack-finbot-alerts"),
        ("finbot-api availability without data goes to #finbot-alerts", "finbot-api", "availability", NoData, "slack-finbot-alerts"),
        ("finbot-api latency (page disabled) tickets go to #finbot-alerts", "finbot-api", "latency", Ticket, "slack-finbot-alerts"),
        ("finbot-api latency without data goes to #finbot-alerts", "finbot-api", "latency", NoData, "slack-finbot-alerts"),
        ("mita-backend availability pages mita despite its extra severity label", "mita-backend", "availability", Page, "pagerduty-mita"),
        ("mita-backend availability tickets go to #mita-alerts", "mita-backend", "availability", Ticket, "slack-mita-alerts"),
        ("mita-backend availability without data goes to #mita-alerts", "mita-backend", "availability", NoData, "slack-mita-alerts"),
        ("mita-backend latency pages mita", "mita-backend", "latency", Page, "pagerduty-mita"),
        ("mita-backend latency tickets go to #mita-alerts", "mita-backend", "latency", Ticket, "slack-mita-alerts"),
        ("mita-backend latency without data goes to #mita-alerts", "mita-backend", "latency", NoData, "slack-mita-alerts"),
        ("reconciliation-backend availability pages reconciliation", "reconciliation-backend", "availability", Page, "pagerduty-reconciliation"),
        ("reconciliation-backend availability tickets go to #reconciliation", "reconciliation-backend", "availability", Ticket, "slack-reconciliation"),
        ("reconciliation-backend availability without data goes to #reconciliation", "reconciliation-backend", "availability", NoData, "slack-reconciliation"),
        ("reconciliation-backend latency pages reconciliation", "reconciliation-backend", "latency", Page, "pagerduty-reconciliation"),
        ("reconciliation-backend latency tickets go to #reconciliation", "reconciliation-backend", "latency", Ticket, "slack-reconciliation"),
        ("reconciliation-backend latency without data goes to #reconciliation", "reconciliation-backend", "latency", NoData, "slack-reconciliation"),
    ];
    assert_table(&example_catalog(), rows);
}

#[test]
fn services_without_a_team_and_unusual_tier_routes_reach_the_right_receivers() {
    use Alert::*;
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("a service without a team pages the default PagerDuty receiver", "ledger", "availability", Page, "pagerduty-default"),
        ("a service without a team still tickets to its channel", "ledger", "availability", Ticket, "slack-ledger"),
        ("a service without a team still reports missing data to its channel", "ledger", "availability", NoData, "slack-ledger"),
        ("a page routed to Slack goes to that channel", "ledger", "freshness", Page, "slack-ledger-oncall"),
        ("a ticket routed to PagerDuty goes to PagerDuty", "ledger", "freshness", Ticket, "pagerduty-default"),
        ("missing data never pages: it goes to the page tier's Slack channel", "ledger", "freshness", NoData, "slack-ledger-oncall"),
        ("a team's page goes to the team's PagerDuty", "vault", "availability", Page, "pagerduty-core"),
        ("a team's ticket routed to PagerDuty goes to the team's PagerDuty", "vault", "availability", Ticket, "pagerduty-core"),
        ("missing data with no Slack tier goes to the default Slack receiver", "vault", "availability", NoData, DEFAULT_RECEIVER),
        ("default alerting pages the team", "vault", "latency", Page, "pagerduty-core"),
        ("a Slack ticket without a channel goes to the default Slack receiver", "vault", "latency", Ticket, DEFAULT_RECEIVER),
        ("missing data of a default-alerting SLO goes to the default Slack receiver", "vault", "latency", NoData, DEFAULT_RECEIVER),
    ];
    assert_table(&edge_catalog(), rows);
}

#[test]
fn alerts_slogate_did_not_raise_fall_to_the_default_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &alertmanager_config(&example_catalog()));
    #[rustfmt::skip]
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("an alert with no slogate label", &[("alertname", "NodeDown")]),
        ("an alert of a known team but no SLO", &[("alertname", "DiskFull"), ("team", "payments")]),
        ("an alert of an unknown service", &[("alertname", "SLOErrorBudgetBurn"), ("slo_service", "unknown"), ("slo_severity", "page")]),
    ];
    for (says, labels) in cases {
        eprintln!("{says}");
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_routes_to(&config, &labels, DEFAULT_RECEIVER);
    }
}

#[test]
fn a_page_inhibits_the_ticket_of_the_same_slo() {
    // The first rule is slogate's own; the example settings add theirs after it.
    let config = alertmanager_config(&example_catalog());
    let rule = &config.inhibit_rules[0];
    assert_eq!(
        rule.source_matchers,
        [r#"slo_severity="page""#, r#"slo_name=~".+""#]
    );
    assert_eq!(rule.target_matchers, [r#"slo_severity="ticket""#]);
    assert_eq!(rule.equal, ["slo_service", "slo_name"]);
    // And so it reads in the file.
    let doc: Value = serde_saphyr::from_str(&to_yaml(&config)).unwrap();
    assert_eq!(
        doc["inhibit_rules"][0],
        json!({
            "source_matchers": ["slo_severity=\"page\"", "slo_name=~\".+\""],
            "target_matchers": ["slo_severity=\"ticket\""],
            "equal": ["slo_service", "slo_name"],
        })
    );
}

#[test]
fn the_root_groups_per_service_and_slo_and_pages_repeat_sooner_than_tickets() {
    let config = alertmanager_config(&example_catalog());
    let root = &config.route;
    assert_eq!(root.receiver.as_deref(), Some(DEFAULT_RECEIVER));
    assert!(
        root.matchers.is_empty(),
        "the root route matches everything"
    );
    assert_eq!(
        root.group_by.as_deref(),
        Some(&["alertname", "slo_service", "slo_name"].map(String::from)[..])
    );
    assert_eq!(root.group_wait.as_deref(), Some("30s"));
    assert_eq!(root.group_interval.as_deref(), Some("5m"));
    assert_eq!(root.repeat_interval.as_deref(), Some("1d"));
    let mut leaves = Vec::new();
    let mut stack = vec![root];
    while let Some(route) = stack.pop() {
        if route.routes.is_empty() {
            leaves.push(route);
        }
        stack.extend(&route.routes);
    }
    // MITA's routing settings repeat its pages every hour; every other team's every 4h.
    let mita = r#"slo_service="mita-backend""#;
    let mut stack: Vec<(&slogate::generate::alertmanager::Route, bool)> = vec![(root, false)];
    let mut checked = 0;
    while let Some((route, in_mita)) = stack.pop() {
        let in_mita = in_mita || route.matchers.iter().any(|m| m == mita);
        if route.routes.is_empty() {
            let page = route.matchers.iter().any(|m| m == r#"slo_severity="page""#);
            let expected = page.then_some(if in_mita { "1h" } else { "4h" });
            assert_eq!(route.repeat_interval.as_deref(), expected, "{route:?}");
            checked += 1;
        }
        stack.extend(route.routes.iter().map(|r| (r, in_mita)));
    }
    assert_eq!(checked, leaves.len());
}

#[test]
fn secrets_are_read_from_files_and_never_inlined() {
    let config = alertmanager_config(&example_catalog());
    for receiver in &config.receivers {
        for pd in &receiver.pagerduty_configs {
            let team = receiver.name.strip_prefix("pagerduty-").unwrap();
            assert_eq!(
                pd.routing_key_file,
                pagerduty_routing_key_file(DEFAULT_SECRET, Some(team))
            );
            assert!(pd.routing_key_file.starts_with(SECRETS_DIR));
        }
        for slack in &receiver.slack_configs {
            assert_eq!(
                slack.api_url_file,
                secret_file(DEFAULT_SECRET, SLACK_WEBHOOK_URL_KEY)
            );
        }
    }
    assert_eq!(
        pagerduty_routing_key_file("slogate-alertmanager", Some("payments")),
        "/etc/alertmanager/secrets/slogate-alertmanager/pagerduty-payments.key",
        "the prometheus-operator mounts Secret <s> at /etc/alertmanager/secrets/<s>/"
    );
    assert_eq!(
        pagerduty_routing_key_file("slogate-alertmanager", None),
        "/etc/alertmanager/secrets/slogate-alertmanager/pagerduty-default.key"
    );
    assert!(secret_file(DEFAULT_SECRET, SLACK_WEBHOOK_URL_KEY).starts_with(SECRETS_DIR));
    let smtp = config.global.as_ref().expect("the examples send email");
    assert_eq!(
        smtp.smtp_auth_password_file.as_deref(),
        Some("/etc/alertmanager/secrets/slogate-alertmanager/smtp-password")
    );
    let yaml = to_yaml(&config);
    for inline in [
        "routing_key:",
        "service_key:",
        "api_url:",
        "http://",
        "https://",
    ] {
        assert!(!yaml.contains(inline), "{inline} in\n{yaml}");
    }
}

#[test]
fn receiver_names_are_stable_and_readable() {
    let names: Vec<String> = alertmanager_config(&example_catalog())
        .receivers
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(
        names,
        [
            "email-reconciliation",
            "pagerduty-analytics",
            "pagerduty-finbot",
            "pagerduty-mita",
            "pagerduty-payments",
            "pagerduty-reconciliation",
            "slack-analytics-alerts",
            "slack-default",
            "slack-finbot-alerts",
            "slack-mita-alerts",
            "slack-payments-alerts",
            "slack-reconciliation",
        ]
    );
    // The same catalog gives the same file, byte for byte.
    let catalog = example_catalog();
    assert_eq!(
        to_yaml(&alertmanager_config(&catalog)),
        to_yaml(&alertmanager_config(&catalog))
    );
}

/// A notification as Alertmanager's templates see it.
fn notification(status: &str, severity: &str) -> Value {
    let labels = json!({
        "alertname": "SLOErrorBudgetBurn", "slo_service": "financy-api",
        "slo_name": "availability", "slo_severity": severity, "team": "payments",
    });
    json!({
        "receiver": "slack-payments-alerts",
        "status": status,
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": {
                "summary": "financy-api availability: error budget burning too fast (ticket)",
                "description": "financy-api SLO availability is burning its error budget at 3.2x.",
            },
            "startsAt": "2024-05-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": "0123456789abcdef",
        }],
        "groupLabels": {"alertname": "SLOErrorBudgetBurn", "slo_service": "financy-api", "slo_name": "availability"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "financy-api availability: error budget burning too fast (ticket)"},
        "externalURL": "http://alertmanager",
    })
}

#[test]
fn notification_templates_render_the_alert_annotations() {
    let config = alertmanager_config(&example_catalog());
    let dir = tempfile::tempdir().unwrap();
    let receiver = |name: &str| {
        config
            .receivers
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .clone()
    };
    let slack = &receiver("slack-payments-alerts").slack_configs[0];
    let pd = &receiver("pagerduty-payments").pagerduty_configs[0];
    let firing = notification("firing", "ticket");

    let title = render_template(dir.path(), &slack.title, &firing);
    assert_eq!(
        title.trim(),
        "[FIRING:1] financy-api availability (ticket): SLOErrorBudgetBurn"
    );
    let text = render_template(dir.path(), &slack.text, &firing);
    assert!(
        text.contains("*financy-api availability: error budget burning too fast (ticket)*\n"),
        "{text}"
    );
    assert!(text.contains("burning its error budget at 3.2x."), "{text}");
    let resolved = render_template(
        dir.path(),
        &slack.title,
        &notification("resolved", "ticket"),
    );
    assert!(resolved.starts_with("[RESOLVED] "), "{resolved}");

    let description = render_template(dir.path(), &pd.description, &firing);
    assert_eq!(
        description.trim(),
        "financy-api availability: error budget burning too fast (ticket)"
    );
    for (severity, expected) in [("page", "critical"), ("ticket", "warning")] {
        let rendered = render_template(dir.path(), &pd.severity, &notification("firing", severity));
        assert_eq!(rendered.trim(), expected, "{severity}");
    }
    assert_eq!(
        render_template(dir.path(), &pd.component, &firing).trim(),
        "financy-api"
    );
    assert_eq!(
        render_template(dir.path(), &pd.class, &firing).trim(),
        "availability"
    );
}

/// Labels as a JSON object, for the Alertmanager API.
fn label_object(labels: &[(String, String)]) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

#[test]
fn a_real_alertmanager_loads_the_config_routes_alerts_and_inhibits_the_ticket_under_a_page() {
    let catalog = example_catalog();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &alertmanager_config(&catalog));
    let am = Alertmanager::start(&config);

    let status = am.get_json("/api/v2/status");
    let loaded = status["config"]["original"]
        .as_str()
        .expect("config.original");
    for expected in [
        "pagerduty-payments",
        "slack-payments-alerts",
        "routing_key_file",
        "api_url_file",
    ] {
        assert!(
            loaded.contains(expected),
            "{expected} not in the loaded config:\n{loaded}"
        );
    }
    assert_eq!(status["cluster"]["status"], "disabled");

    let financy = catalog.service("financy-api").unwrap();
    let availability = &financy.slos[0];
    let latency = &financy.slos[1];
    let sent = [
        (
            alert_labels(financy, availability, Alert::Page),
            "pagerduty-payments",
        ),
        (
            alert_labels(financy, availability, Alert::Ticket),
            "slack-payments-alerts",
        ),
        (
            alert_labels(financy, latency, Alert::NoData),
            "slack-payments-alerts",
        ),
    ];
    let alerts: Vec<Value> = sent
        .iter()
        .map(|(labels, _)| json!({"labels": label_object(labels), "annotations": {"summary": "test"}}))
        .collect();
    am.post_alerts(&Value::Array(alerts));

    // The inhibitor learns of the page asynchronously: poll until the ticket is suppressed.
    let is_suppressed = |alert: &Value| alert["status"]["state"] == "suppressed";
    let ticket_of = |alerts: &Value| -> Option<Value> {
        alerts
            .as_array()?
            .iter()
            .find(|a| {
                a["labels"]["slo_severity"] == "ticket" && a["labels"]["slo_name"] == "availability"
            })
            .cloned()
    };
    let seen = am.poll_json("/api/v2/alerts", Duration::from_secs(10), |alerts| {
        alerts.as_array().is_some_and(|a| a.len() == sent.len())
            && ticket_of(alerts).is_some_and(|t| is_suppressed(&t))
    });
    let seen_alerts = seen.as_array().expect("a list of alerts");
    assert_eq!(seen_alerts.len(), sent.len(), "{seen:#}\n{}", am.log());
    for (labels, receiver) in &sent {
        let alert = seen_alerts
            .iter()
            .find(|a| a["labels"] == label_object(labels))
            .unwrap_or_else(|| panic!("{labels:?} not in {seen:#}"));
        assert_eq!(alert["receivers"], json!([{"name": receiver}]), "{alert:#}");
    }
    let ticket = ticket_of(&seen).unwrap();
    assert!(
        is_suppressed(&ticket),
        "the ticket should be inhibited: {ticket:#}"
    );
    let page_fingerprint = seen_alerts
        .iter()
        .find(|a| a["labels"]["slo_severity"] == "page")
        .map(|a| a["fingerprint"].clone())
        .unwrap();
    assert_eq!(ticket["status"]["inhibitedBy"], json!([page_fingerprint]));
    let no_data = seen_alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "SLOMetricsAbsent")
        .unwrap();
    assert_eq!(
        no_data["status"]["state"], "active",
        "another SLO's page does not inhibit it"
    );
}
