//! The AlertRouting settings (`slo-definitions/alert-routing.yaml`) as the real Alertmanager
//! 0.25 reads them: the SMTP server and team email, MITA's own timings, the severity map, and
//! inhibitions added by the settings, which a real `prometheus-alertmanager` applies to posted
//! alerts without silencing unrelated plain alerts.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use slogate::generate::alertmanager::{Route, alertmanager_config};
use slogate::generate::service_alerts::alert_labels;
use slogate::spec::{Catalog, ServiceLevels, Tier, load_texts};
use support::alertmanager::{Alertmanager, assert_routes_to, check_config};
use support::examples::example_catalog;

fn write(dir: &std::path::Path, catalog: &Catalog) -> PathBuf {
    let path = dir.join("alertmanager.yaml");
    let yaml = serde_saphyr::to_string(&alertmanager_config(catalog)).unwrap();
    std::fs::write(&path, yaml).unwrap();
    check_config(&path);
    path
}

/// The labels of a plain alert of `service` as Prometheus sends it.
fn labels_of(service: &ServiceLevels, name: &str) -> Vec<(String, String)> {
    let alert = service.alerts.iter().find(|a| a.name == name).unwrap();
    let mut labels: Vec<(String, String)> = alert_labels(service, alert).into_iter().collect();
    labels.push(("alertname".into(), name.into()));
    labels
}

fn team_route<'a>(root: &'a Route, team: &str) -> &'a Route {
    let matcher = format!("team=\"{team}\"");
    root.routes
        .iter()
        .find(|r| r.matchers.contains(&matcher))
        .unwrap_or_else(|| panic!("no route for {team}"))
}

#[test]
fn the_example_settings_give_email_through_smtp_and_mitas_own_timings() {
    let catalog = example_catalog();
    let config = alertmanager_config(&catalog);
    let global = config.global.as_ref().expect("an SMTP server");
    assert_eq!(global.smtp_smarthost, "smtp.example.com:587");
    assert_eq!(global.smtp_from, "alertmanager@example.com");
    let email = config
        .receivers
        .iter()
        .find(|r| r.name == "email-reconciliation")
        .expect("the team's email receiver");
    assert_eq!(
        email.email_configs[0].to,
        "reconciliation-oncall@example.com"
    );
    assert!(email.email_configs[0].send_resolved);

    let mita = team_route(&config.route, "mita");
    assert_eq!(mita.group_wait.as_deref(), Some("10s"));
    assert_eq!(mita.group_interval.as_deref(), Some("10s"));
    assert_eq!(mita.repeat_interval.as_deref(), Some("1h"));
    let payments = team_route(&config.route, "payments");
    assert_eq!(
        payments.group_wait, None,
        "other teams inherit the root's 30s"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &catalog);
    let reconciliation = catalog.service("reconciliation-backend").unwrap();
    for (alert, receiver) in [
        ("ReconciliationDatabaseDown", "email-reconciliation"),
        ("ReconciliationCrashLooping", "email-reconciliation"),
        ("ReconciliationHighMemory", "slack-reconciliation"),
    ] {
        assert_routes_to(&path, &labels_of(reconciliation, alert), receiver);
    }
}

#[test]
fn a_severity_map_in_the_settings_decides_page_or_ticket() {
    let routing = r#"apiVersion: slogate/v1
kind: AlertRouting
severities: {sev1: page, sev2: ticket}
"#;
    let service = r##"apiVersion: slogate/v1
kind: ServiceLevels
service: shop
team: web
alerts:
  - name: ShopDown
    expr: up{job="shop"} == 0
    severity: sev1
  - name: ShopSlow
    expr: up{job="shop"} == 2
    severity: sev2
    route: slack
    channel: "#shop"
"##;
    let report = load_texts(&[
        (PathBuf::from("shop.yaml"), service.to_string()),
        (PathBuf::from("routing.yaml"), routing.to_string()),
    ]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let shop = report.catalog.service("shop").unwrap();
    assert_eq!(shop.alerts[0].tier, Tier::Page);
    assert_eq!(shop.alerts[1].tier, Tier::Ticket);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &report.catalog);
    assert_routes_to(&path, &labels_of(shop, "ShopDown"), "pagerduty-web");
    assert_routes_to(&path, &labels_of(shop, "ShopSlow"), "slack-shop");

    // The map replaces the default one: `critical` is no longer a known name.
    let unknown = service.replace("severity: sev1", "severity: critical");
    let report = load_texts(&[
        (PathBuf::from("shop.yaml"), unknown),
        (PathBuf::from("routing.yaml"), routing.to_string()),
    ]);
    let first = report.first_error().map(ToString::to_string);
    assert_eq!(
        first.as_deref(),
        Some(
            "shop.yaml:8:5: alerts[0].severity: unknown severity `critical`; known: `sev1`, `sev2` (map more names to page or ticket in the AlertRouting document's `severities`), or give `tier` instead"
        )
    );
}

#[test]
fn a_real_alertmanager_applies_the_settings_inhibitions_and_nothing_more() {
    let catalog = example_catalog();
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(&write(dir.path(), &catalog));
    let mita = catalog.service("mita-backend").unwrap();
    let sent = [
        "PostgresDown",
        "PostgresDeadlocks",
        "RedisRejectedConnections",
    ];
    let alerts: Vec<Value> = sent
        .iter()
        .map(|name| {
            let labels: serde_json::Map<String, Value> = labels_of(mita, name)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            json!({"labels": labels, "annotations": {"summary": name}})
        })
        .collect();
    am.post_alerts(&Value::Array(alerts));
    let state = |alerts: &Value, name: &str| -> Option<String> {
        alerts
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .and_then(|a| a["status"]["state"].as_str().map(str::to_string))
    };
    let seen = am.poll_json("/api/v2/alerts", Duration::from_secs(10), |alerts| {
        state(alerts, "PostgresDeadlocks").as_deref() == Some("suppressed")
    });
    // The database being down explains the deadlocks (the settings' inhibition) ...
    assert_eq!(
        state(&seen, "PostgresDeadlocks").as_deref(),
        Some("suppressed"),
        "{seen:#}\n{}",
        am.log()
    );
    // ... but not Redis's rejected connections: a plain page silences no other plain ticket.
    assert_eq!(
        state(&seen, "RedisRejectedConnections").as_deref(),
        Some("active"),
        "{seen:#}"
    );
    assert_eq!(
        state(&seen, "PostgresDown").as_deref(),
        Some("active"),
        "{seen:#}"
    );
}
