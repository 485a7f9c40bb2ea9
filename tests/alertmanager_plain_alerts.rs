//! Routing of the example services' plain alerts (`alerts:`), checked by the real Alertmanager
//! 0.25 tools: `amtool check-config` accepts the generated file, and `amtool config routes
//! test` delivers each alert, with the labels its rule gives it, to the receiver its spec
//! names (PagerDuty for pages, the Slack channel or email address it gives otherwise).

mod support;

use slogate::generate::alertmanager::alertmanager_config;
use slogate::generate::service_alerts::alert_labels;
use slogate::spec::Route;
use support::alertmanager::{assert_routes_to, check_config};
use support::examples::example_catalog;

/// The receiver an example alert must reach, written out by hand from the specs.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("mita-backend", "PostgresDown", "pagerduty-mita"),
    (
        "mita-backend",
        "PostgresTooManyConnections",
        "pagerduty-mita",
    ),
    ("mita-backend", "PostgresDeadlocks", "slack-mita-alerts"),
    ("mita-backend", "RedisDown", "pagerduty-mita"),
    ("mita-backend", "RedisMemoryHigh", "pagerduty-mita"),
    (
        "mita-backend",
        "RedisRejectedConnections",
        "slack-mita-alerts",
    ),
    (
        "reconciliation-backend",
        "ReconciliationHighErrorRate",
        "email-reconciliation",
    ),
    (
        "reconciliation-backend",
        "ReconciliationSlowResponses",
        "slack-reconciliation",
    ),
    (
        "reconciliation-backend",
        "ReconciliationHighMemory",
        "slack-reconciliation",
    ),
    (
        "reconciliation-backend",
        "ReconciliationHighCPU",
        "slack-reconciliation",
    ),
    (
        "reconciliation-backend",
        "ReconciliationDatabaseDown",
        "email-reconciliation",
    ),
    (
        "reconciliation-backend",
        "ReconciliationRedisDown",
        "email-reconciliation",
    ),
    (
        "reconciliation-backend",
        "ReconciliationCrashLooping",
        "email-reconciliation",
    ),
    (
        "reconciliation-backend",
        "ReconciliationPodNotReady",
        "slack-reconciliation",
    ),
];

#[test]
fn every_example_plain_alert_reaches_the_receiver_its_spec_names() {
    let catalog = example_catalog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alertmanager.yaml");
    let yaml = serde_saphyr::to_string(&alertmanager_config(&catalog)).unwrap();
    std::fs::write(&path, yaml).unwrap();
    check_config(&path);
    let mut seen = 0;
    for service in &catalog.services {
        for alert in &service.alerts {
            let (_, _, receiver) = EXPECTED
                .iter()
                .find(|(s, a, _)| *s == service.service && *a == alert.name)
                .unwrap_or_else(|| panic!("no expected receiver for {}", alert.name));
            // The rule's labels, plus what the expression's result adds.
            let mut labels: Vec<(String, String)> =
                alert_labels(service, alert).into_iter().collect();
            labels.push(("alertname".into(), alert.name.clone()));
            labels.push(("instance".into(), "10.0.0.7:9187".into()));
            assert_routes_to(&path, &labels, receiver);
            // The receiver matches the route the spec gives (or its tier's default).
            let kind = match &alert.route {
                Route::PagerDuty => "pagerduty-",
                Route::Slack { .. } => "slack-",
                Route::Email { .. } => "email-",
            };
            assert!(receiver.starts_with(kind), "{}: {receiver}", alert.name);
            seen += 1;
        }
    }
    assert_eq!(
        seen,
        EXPECTED.len(),
        "every expected alert exists in the specs"
    );
}
