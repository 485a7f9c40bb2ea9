//! Parity with Sloth: for each Sloth fixture, the rules slogate generates from the Sloth input
//! and the rules Sloth itself generated (its expected output) run side by side in one real
//! `promtool test rules`, on the same input series. Every 5 minutes (each rule evaluation) of a three-day scenario
//! (an hour at 20x, eight hours at 10x, a day at 5x) the page and ticket alerts of each SLO must
//! fire (or not) together, and the recorded SLIs of every window must be equal.
//!
//! The comparison is itself a rule group: for each Sloth alert, the difference between the
//! number of series its condition returns and the number slogate's returns is recorded, and the
//! test asserts that difference is zero at every look and that both fired at least once.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use slogate::generate::rules::service_rules;
use slogate::spec::{Catalog, Period, PromDuration, load_paths};
use support::promtool::{counter, rule_groups, test_rules, without_annotations};

const SLOTH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/sloth");
const RATE: f64 = 6000.0;
const STEP_MINUTES: u64 = 5;

/// (minutes, error ratio) segments: clean, 20x for 1h, clean, 10x for 8h, clean, 5x for a day.
const SCENARIO: &[(u64, f64)] = &[
    (720, 0.0),
    (60, 0.02),
    (300, 0.0),
    (480, 0.01),
    (360, 0.0),
    (1440, 0.005),
    (720, 0.0),
];

struct Fixture {
    input: &'static [&'static str],
    expected: &'static str,
    /// Sloth's `--default-slo-period`, when the fixture was made with one.
    period: Option<&'static str>,
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        input: &["in-base.yaml"],
        expected: "out-base.yaml.tpl",
        period: None,
    },
    Fixture {
        input: &["in-base.yaml"],
        expected: "out-base-28d.yaml.tpl",
        period: Some("28d"),
    },
    Fixture {
        input: &["in-base.yaml", "windows/7d.yaml"],
        expected: "out-base-custom-windows-7d.yaml.tpl",
        period: Some("7d"),
    },
    Fixture {
        input: &["in-base-k8s.yaml"],
        expected: "out-base-k8s.yaml.tpl",
        period: None,
    },
    Fixture {
        input: &["in-multifile.yaml"],
        expected: "out-multifile.yaml.tpl",
        period: None,
    },
    Fixture {
        input: &["in-openslo.yaml"],
        expected: "out-openslo.yaml.tpl",
        period: None,
    },
    Fixture {
        input: &["in-base.yaml"],
        expected: "out-base-no-alerts.yaml.tpl",
        period: None,
    },
];

fn load(fixture: &Fixture) -> Catalog {
    let paths: Vec<PathBuf> = fixture
        .input
        .iter()
        .map(|f| Path::new(SLOTH).join(f))
        .collect();
    let report = load_paths(&paths);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let mut catalog = report.catalog;
    if let Some(period) = fixture.period {
        for slo in catalog.services.iter_mut().flat_map(|s| s.slos.iter_mut()) {
            slo.period = Period::Rolling(PromDuration::parse(period).unwrap());
        }
    }
    catalog
}

/// Sloth's expected rules, with the template variables of the fixture rendered.
fn sloth_groups(expected: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(Path::new(SLOTH).join(expected)).unwrap();
    let text = text
        .replace("{{ .version }}", "test")
        .replace("{{\"{{", "{{")
        .replace("}}\"}}", "}}");
    // A multi-file fixture is several rule files in one stream.
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("Sloth's YAML");
    docs.iter().flat_map(rule_groups).collect()
}

fn alert_rules(groups: &[Value]) -> Vec<Value> {
    groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter(|r| r.get("alert").is_some())
        .collect()
}

fn record_rules(groups: &[Value]) -> Vec<Value> {
    groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter(|r| r.get("record").is_some())
        .collect()
}

/// The comparison group: per Sloth alert, the difference with slogate's matching alert; per
/// Sloth SLI recording, whether slogate's recording of the same SLO and window differs.
fn parity_group(sloth: &[Value], ours: &[Value]) -> (Value, usize) {
    let mut rules = Vec::new();
    let sloth_alerts = alert_rules(sloth);
    for alert in &sloth_alerts {
        let labels = &alert["labels"];
        let severity = labels["sloth_severity"].as_str().unwrap();
        let (service, slo) = sloth_identity(alert);
        let mine = alert_rules(ours)
            .into_iter()
            .find(|r| {
                r["labels"]["slo_severity"] == severity
                    && r["labels"]["slo_service"] == service
                    && r["labels"]["slo_name"] == slo
                    && r["alert"] != "SLOMetricsAbsent"
            })
            .unwrap_or_else(|| panic!("no slogate {severity} alert for {service}/{slo}"));
        let id = json!({"service": service, "slo": slo, "severity": severity});
        let sloth_expr = alert["expr"].as_str().unwrap();
        let our_expr = mine["expr"].as_str().unwrap();
        rules.push(json!({"record": "parity:sloth_firing", "expr": format!("count({sloth_expr}) or vector(0)"), "labels": id}));
        rules.push(json!({"record": "parity:slogate_firing", "expr": format!("count({our_expr}) or vector(0)"), "labels": id}));
    }
    rules.push(json!({
        "record": "parity:alert_mismatch",
        "expr": "sum(abs(parity:sloth_firing - parity:slogate_firing)) or vector(0)",
    }));
    let mut compared = 0;
    for rule in record_rules(sloth) {
        let record = rule["record"].as_str().unwrap();
        let Some(window) = record.strip_prefix("slo:sli_error:ratio_rate") else {
            continue;
        };
        let (service, slo) = (
            &rule["labels"]["sloth_service"],
            &rule["labels"]["sloth_slo"],
        );
        let (service, slo) = (service.as_str().unwrap(), slo.as_str().unwrap());
        compared += 1;
        rules.push(json!({
            "record": "parity:sli_mismatch",
            "expr": format!(
                "count(abs(max(slo:sli_error:ratio_rate{window}{{sloth_service=\"{service}\",sloth_slo=\"{slo}\"}}) - max(slogate:sli_error:ratio_rate{window}{{slo_service=\"{service}\",slo_name=\"{slo}\"}})) > 1e-9) or vector(0)"
            ),
            "labels": {"service": service, "slo": slo, "window": window},
        }));
    }
    (json!({"name": "parity", "rules": rules}), compared)
}

fn sloth_identity(alert: &Value) -> (String, String) {
    // Sloth's alert expressions select sloth_service and sloth_slo; take them from there.
    let expr = alert["expr"].as_str().unwrap();
    let pick = |label: &str| {
        let start = expr.find(&format!("{label}=\"")).unwrap() + label.len() + 2;
        expr[start..].split('"').next().unwrap().to_string()
    };
    (pick("sloth_service"), pick("sloth_slo"))
}

fn input_series() -> Vec<Value> {
    let good: Vec<(u64, f64)> = SCENARIO
        .iter()
        .map(|&(m, e)| (m, RATE * (1.0 - e)))
        .collect();
    let bad: Vec<(u64, f64)> = SCENARIO.iter().map(|&(m, e)| (m, RATE * e)).collect();
    vec![
        json!({"series": "http_request_duration_seconds_count{job=\"myservice\",code=\"200\"}", "values": counter(&good)}),
        json!({"series": "http_request_duration_seconds_count{job=\"myservice\",code=\"500\"}", "values": counter(&bad)}),
    ]
}

fn zero_at(expr: &str, minutes: u64) -> Value {
    json!({"expr": expr, "eval_time": format!("{minutes}m"), "exp_samples": [{"labels": "{}", "value": 0}]})
}

fn run_fixture(fixture: &Fixture) {
    let catalog = load(fixture);
    let sloth = without_annotations(sloth_groups(fixture.expected));
    let mut ours = Vec::new();
    for service in &catalog.services {
        let rules = serde_json::to_value(service_rules(service, &catalog.alert_windows)).unwrap();
        ours.extend(without_annotations(rule_groups(&rules)));
    }
    let alerting = !alert_rules(&sloth).is_empty();
    let (parity, sli_compared) = parity_group(&sloth, &ours);
    assert!(
        sli_compared >= 8,
        "{}: only {sli_compared} SLI recordings compared",
        fixture.expected
    );
    let mut groups = sloth.clone();
    groups.extend(ours);
    groups.push(parity);

    let end: u64 = SCENARIO.iter().map(|(m, _)| m).sum::<u64>() - 1;
    let mut checks = Vec::new();
    for t in (STEP_MINUTES..=end).step_by(STEP_MINUTES as usize) {
        checks.push(zero_at("sum(parity:alert_mismatch)", t));
        checks.push(zero_at("sum(parity:sli_mismatch)", t));
    }
    if alerting {
        // Both sides fired every alert at least once: the comparison is not of two silences.
        let n = alert_rules(&sloth).len();
        for side in ["sloth", "slogate"] {
            checks.push(json!({
                "expr": format!("count(max_over_time(parity:{side}_firing[{end}m]) > 0)"),
                "eval_time": format!("{end}m"),
                "exp_samples": [{"labels": "{}", "value": n}],
            }));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        serde_json::to_string(&json!({ "groups": &groups })).unwrap(),
    )
    .unwrap();
    let test = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "5m",
        // Recordings before the comparison that reads them, at every step.
        "group_eval_order": groups.iter().map(|g| g["name"].clone()).collect::<Vec<_>>(),
        "tests": [{
            "interval": "1m",
            "input_series": input_series(),
            "promql_expr_test": checks,
        }],
    });
    let test_file = dir.path().join("parity.test.yaml");
    std::fs::write(&test_file, serde_json::to_string_pretty(&test).unwrap()).unwrap();
    test_rules(&test_file);
}

#[test]
fn slogate_rules_fire_and_record_as_sloths_on_every_fixture() {
    for fixture in FIXTURES {
        eprintln!("fixture {}", fixture.expected);
        run_fixture(fixture);
    }
}
