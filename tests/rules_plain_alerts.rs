//! The example services' plain alerts (`alerts:` in slo-definitions/), generated from the
//! committed specs and run by a real `promtool test rules`: each alert fires on series made to
//! cross its threshold for longer than its `for:`, with the labels routing reads, and stays
//! silent on series that stay under it.
//!
//! The series use the standard exporters' metric names the specs use (kube-state-metrics,
//! cAdvisor, postgres_exporter, redis_exporter and the service's HTTP counters and histogram),
//! one sample a minute for 40 minutes; every alert is evaluated at minute 35.

mod support;

use slogate::generate::rules::service_rules;
use slogate::generate::service_alerts::alert_labels;
use slogate::spec::Catalog;
use support::examples::example_catalog;
use support::promtool::{
    AlertExpectation, AlertTest, alert_test_file, check_rules, counter, rule_groups, test_rules,
    without_annotations, write_rule_file,
};

/// Minutes of input series.
const MINUTES: u64 = 40;
/// When every expectation is evaluated: past the longest `for:` (15m) plus the longest range.
const EVAL: u64 = 35;

/// One alert's scenario: series that fire it, series that do not.
struct Case {
    service: &'static str,
    alert: &'static str,
    /// Series (selector, promtool values) that cross the threshold for the whole run.
    firing: Vec<(String, String)>,
    /// Series of the same shape that stay under it.
    quiet: Vec<(String, String)>,
    /// Labels of the expression's result (beside the alert's own labels).
    result_labels: &'static [(&'static str, &'static str)],
}

fn constant(value: f64) -> String {
    format!("{value}x{MINUTES}")
}

fn per_minute(rate: f64) -> String {
    counter(&[(MINUTES + 1, rate)])
}

fn series(selector: &str, values: String) -> (String, String) {
    (selector.to_string(), values)
}

/// HTTP counters of a service: `errors` and `ok` requests a minute.
fn http(service: &str, errors: f64, ok: f64) -> Vec<(String, String)> {
    vec![
        series(
            &format!(r#"http_requests_total{{service="{service}",code="500"}}"#),
            per_minute(errors),
        ),
        series(
            &format!(r#"http_requests_total{{service="{service}",code="200"}}"#),
            per_minute(ok),
        ),
    ]
}

/// A classic histogram with 100 requests a minute, all of them under `le` (one of its bounds).
fn latency(service: &str, le: &str) -> Vec<(String, String)> {
    let bounds = ["0.5", "1", "2.5", "+Inf"];
    let at = bounds.iter().position(|b| *b == le).expect("a bound");
    bounds
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let rate = if i >= at { 100.0 } else { 0.0 };
            series(
                &format!(r#"http_request_duration_seconds_bucket{{service="{service}",le="{b}"}}"#),
                per_minute(rate),
            )
        })
        .collect()
}

const POD: &str = r#"namespace="reconciliation",pod="reconciliation-backend-7d9f-x2",container="reconciliation-backend""#;

/// A container's usage (`metric`, `values`) against its kube-state-metrics limit of `limit`.
fn against_limit(
    metric: &str,
    values: String,
    resource: &str,
    limit: f64,
) -> Vec<(String, String)> {
    vec![
        series(&format!("{metric}{{{POD}}}"), values),
        series(
            &format!(
                r#"kube_pod_container_resource_limits{{{POD},resource="{resource}",unit="x"}}"#
            ),
            constant(limit),
        ),
    ]
}

/// postgres_exporter's connection counts: `active` and 20 idle of 100 allowed.
fn connections(active: f64) -> Vec<(String, String)> {
    let pg = r#"job="mita-postgres",instance="pg:9187""#;
    let state = |s: &str, n: f64| {
        series(
            &format!(r#"pg_stat_activity_count{{{pg},datname="mita",state="{s}"}}"#),
            constant(n),
        )
    };
    vec![
        state("active", active),
        state("idle", 20.0),
        series(
            &format!("pg_settings_max_connections{{{pg}}}"),
            constant(100.0),
        ),
    ]
}

fn up(metric: &str, job: &str, value: f64) -> Vec<(String, String)> {
    vec![series(
        &format!(r#"{metric}{{job="{job}",instance="{job}:9100"}}"#),
        constant(value),
    )]
}

const POD_LABELS: &[(&str, &str)] = &[
    ("namespace", "reconciliation"),
    ("pod", "reconciliation-backend-7d9f-x2"),
    ("container", "reconciliation-backend"),
];

fn cases() -> Vec<Case> {
    let rec = "reconciliation-backend";
    let mita = "mita-backend";
    let pg = r#"job="mita-postgres",instance="pg:9187""#;
    let redis = r#"job="mita-redis",instance="redis:9121""#;
    vec![
        Case {
            service: rec,
            alert: "ReconciliationHighErrorRate",
            firing: http(rec, 20.0, 80.0),
            quiet: http(rec, 5.0, 95.0),
            result_labels: &[],
        },
        Case {
            service: rec,
            alert: "ReconciliationSlowResponses",
            firing: latency(rec, "2.5"),
            quiet: latency(rec, "0.5"),
            result_labels: &[],
        },
        Case {
            service: rec,
            alert: "ReconciliationHighMemory",
            firing: against_limit(
                "container_memory_working_set_bytes",
                constant(900e6),
                "memory",
                1e9,
            ),
            quiet: against_limit(
                "container_memory_working_set_bytes",
                constant(500e6),
                "memory",
                1e9,
            ),
            result_labels: POD_LABELS,
        },
        Case {
            service: rec,
            alert: "ReconciliationHighCPU",
            // 54 CPU-seconds a minute is 0.9 of a core, 30 is 0.5; the limit is one core.
            firing: against_limit(
                "container_cpu_usage_seconds_total",
                per_minute(54.0),
                "cpu",
                1.0,
            ),
            quiet: against_limit(
                "container_cpu_usage_seconds_total",
                per_minute(30.0),
                "cpu",
                1.0,
            ),
            result_labels: POD_LABELS,
        },
        Case {
            service: rec,
            alert: "ReconciliationDatabaseDown",
            firing: up("pg_up", "reconciliation-postgres", 0.0),
            quiet: up("pg_up", "reconciliation-postgres", 1.0),
            result_labels: &[
                ("job", "reconciliation-postgres"),
                ("instance", "reconciliation-postgres:9100"),
            ],
        },
        Case {
            service: rec,
            alert: "ReconciliationRedisDown",
            firing: up("redis_up", "reconciliation-redis", 0.0),
            quiet: up("redis_up", "reconciliation-redis", 1.0),
            result_labels: &[
                ("job", "reconciliation-redis"),
                ("instance", "reconciliation-redis:9100"),
            ],
        },
        Case {
            service: rec,
            alert: "ReconciliationCrashLooping",
            firing: vec![series(
                &format!(
                    r#"kube_pod_container_status_waiting_reason{{{POD},reason="CrashLoopBackOff"}}"#
                ),
                constant(1.0),
            )],
            quiet: vec![series(
                &format!(
                    r#"kube_pod_container_status_waiting_reason{{{POD},reason="CrashLoopBackOff"}}"#
                ),
                constant(0.0),
            )],
            result_labels: &[
                ("namespace", "reconciliation"),
                ("pod", "reconciliation-backend-7d9f-x2"),
                ("container", "reconciliation-backend"),
                ("reason", "CrashLoopBackOff"),
            ],
        },
        Case {
            service: rec,
            alert: "ReconciliationPodNotReady",
            firing: vec![series(
                r#"kube_pod_status_ready{namespace="reconciliation",pod="reconciliation-backend-7d9f-x2",condition="false"}"#,
                constant(1.0),
            )],
            quiet: vec![series(
                r#"kube_pod_status_ready{namespace="reconciliation",pod="reconciliation-backend-7d9f-x2",condition="false"}"#,
                constant(0.0),
            )],
            result_labels: &[
                ("namespace", "reconciliation"),
                ("pod", "reconciliation-backend-7d9f-x2"),
            ],
        },
        Case {
            service: mita,
            alert: "PostgresDown",
            firing: up("pg_up", "mita-postgres", 0.0),
            quiet: up("pg_up", "mita-postgres", 1.0),
            result_labels: &[("job", "mita-postgres"), ("instance", "mita-postgres:9100")],
        },
        Case {
            service: mita,
            alert: "PostgresTooManyConnections",
            firing: connections(70.0),
            quiet: connections(30.0),
            result_labels: &[("instance", "pg:9187")],
        },
        Case {
            service: mita,
            alert: "PostgresDeadlocks",
            firing: vec![series(
                &format!(r#"pg_stat_database_deadlocks{{{pg},datname="mita"}}"#),
                per_minute(0.2),
            )],
            quiet: vec![series(
                &format!(r#"pg_stat_database_deadlocks{{{pg},datname="mita"}}"#),
                constant(3.0),
            )],
            result_labels: &[
                ("job", "mita-postgres"),
                ("instance", "pg:9187"),
                ("datname", "mita"),
            ],
        },
        Case {
            service: mita,
            alert: "RedisDown",
            firing: up("redis_up", "mita-redis", 0.0),
            quiet: up("redis_up", "mita-redis", 1.0),
            result_labels: &[("job", "mita-redis"), ("instance", "mita-redis:9100")],
        },
        Case {
            service: mita,
            alert: "RedisMemoryHigh",
            firing: vec![
                series(
                    &format!("redis_memory_used_bytes{{{redis}}}"),
                    constant(950.0),
                ),
                series(
                    &format!("redis_memory_max_bytes{{{redis}}}"),
                    constant(1000.0),
                ),
            ],
            quiet: vec![
                series(
                    &format!("redis_memory_used_bytes{{{redis}}}"),
                    constant(500.0),
                ),
                series(
                    &format!("redis_memory_max_bytes{{{redis}}}"),
                    constant(1000.0),
                ),
            ],
            result_labels: &[("job", "mita-redis"), ("instance", "redis:9121")],
        },
        Case {
            service: mita,
            alert: "RedisRejectedConnections",
            firing: vec![series(
                &format!("redis_rejected_connections_total{{{redis}}}"),
                per_minute(1.0),
            )],
            quiet: vec![series(
                &format!("redis_rejected_connections_total{{{redis}}}"),
                constant(12.0),
            )],
            result_labels: &[("job", "mita-redis"), ("instance", "redis:9121")],
        },
    ]
}

/// The test of one case: firing series give one alert with exactly these labels, quiet ones
/// none.
fn case_tests(catalog: &Catalog, case: &Case) -> Vec<AlertTest> {
    let service = catalog.service(case.service).expect("example service");
    let alert = service
        .alerts
        .iter()
        .find(|a| a.name == case.alert)
        .unwrap_or_else(|| panic!("{} has no alert {}", case.service, case.alert));
    let mut labels: Vec<(String, String)> = alert_labels(service, alert).into_iter().collect();
    labels.extend(
        case.result_labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let expect = |alerts: Vec<Vec<(String, String)>>| AlertExpectation {
        at_minutes: EVAL,
        alertname: case.alert.to_string(),
        alerts,
    };
    vec![
        AlertTest {
            series: case.firing.clone(),
            expectations: vec![expect(vec![labels])],
        },
        AlertTest {
            series: case.quiet.clone(),
            expectations: vec![expect(Vec::new())],
        },
    ]
}

#[test]
fn every_example_alert_fires_on_its_series_and_stays_silent_under_its_threshold() {
    let catalog = example_catalog();
    let cases = cases();
    let dir = tempfile::tempdir().unwrap();
    for service in ["reconciliation-backend", "mita-backend"] {
        let svc = catalog.service(service).unwrap();
        let generated = serde_json::to_value(service_rules(svc, &catalog.alert_windows)).unwrap();
        let groups: Vec<_> = rule_groups(&generated)
            .into_iter()
            .filter(|g| {
                g["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("slogate-service-alerts-")
            })
            .collect();
        assert_eq!(groups.len(), 1, "{service}: one group of plain alerts");
        let full = dir.path().join(format!("{service}.full.yaml"));
        write_rule_file(&full, &groups);
        check_rules(&[full]);
        let rules = format!("{service}.yaml");
        write_rule_file(&dir.path().join(&rules), &without_annotations(groups));
        let covered: Vec<&Case> = cases.iter().filter(|c| c.service == service).collect();
        assert_eq!(
            covered.len(),
            svc.alerts.len(),
            "{service}: every example alert has a case"
        );
        let tests: Vec<AlertTest> = covered
            .iter()
            .flat_map(|c| case_tests(&catalog, c))
            .collect();
        let test = dir.path().join(format!("{service}.test.yaml"));
        std::fs::write(&test, alert_test_file(&rules, &tests)).unwrap();
        test_rules(&test);
    }
}
