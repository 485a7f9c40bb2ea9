//! promtool unit tests built from Rust: input series from segments, rule files written to a
//! temp dir, `promtool test rules` run for real.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A counter that grows by `per_minute` for `minutes`, segment after segment, in promtool's
/// expanding notation (`start+stepxN`), one sample per minute.
pub fn counter(segments: &[(u64, f64)]) -> String {
    let mut out = String::new();
    let mut value = 0.0;
    for &(minutes, per_minute) in segments {
        if minutes == 0 {
            continue;
        }
        write!(out, "{value}+{per_minute}x{} ", minutes - 1).unwrap();
        value += per_minute * minutes as f64;
    }
    out.trim_end().to_string()
}

/// Reads a YAML file into JSON values (promtool and rule files are YAML).
pub fn yaml_to_json(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("valid YAML")
}

/// The rule groups of a rule file or of a PrometheusRule resource.
pub fn rule_groups(doc: &Value) -> Vec<Value> {
    let groups = doc
        .get("groups")
        .or_else(|| doc.get("spec").and_then(|s| s.get("groups")))
        .and_then(Value::as_array)
        .expect("rule groups");
    groups.clone()
}

/// Every alerting rule with `label=value`, as (alert name, expr).
pub fn alerts_with(groups: &[Value], label: &str, value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for group in groups {
        for rule in group["rules"].as_array().into_iter().flatten() {
            let Some(name) = rule.get("alert").and_then(Value::as_str) else {
                continue;
            };
            if rule["labels"].get(label).and_then(Value::as_str) == Some(value) {
                let expr = rule["expr"].as_str().expect("expr").to_string();
                out.push((name.to_string(), expr));
            }
        }
    }
    out
}

/// Removes annotations from alerting rules: promtool compares them exactly, and ours quote
/// `$value`, which a test cannot know to the last digit. Conditions and labels are untouched;
/// annotations are tested on their own.
pub fn without_annotations(mut groups: Vec<Value>) -> Vec<Value> {
    for group in &mut groups {
        if let Some(rules) = group.get_mut("rules").and_then(Value::as_array_mut) {
            for rule in rules {
                if let Some(map) = rule.as_object_mut() {
                    map.remove("annotations");
                }
            }
        }
    }
    groups
}

/// Writes `groups` as a rule file (JSON is YAML) at `path`.
pub fn write_rule_file(path: &Path, groups: &[Value]) {
    let doc = serde_json::json!({ "groups": groups });
    std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// Runs `promtool test rules FILE` in the file's directory; panics with promtool's output
/// when a test fails.
pub fn test_rules(test_file: &Path) {
    let out = Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg(test_file.file_name().unwrap())
        .current_dir(test_file.parent().unwrap())
        .output()
        .expect("promtool is installed (scripts/test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool test rules failed:\n{text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

/// Runs `promtool check rules` with lints fatal; panics with the output on failure.
pub fn check_rules(files: &[PathBuf]) {
    let out = Command::new("promtool")
        .args(["check", "rules", "--lint-fatal"])
        .args(files)
        .output()
        .expect("promtool is installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "promtool check rules failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One evaluation time (minutes) and the alerts (name + labels) expected firing then.
pub struct AlertExpectation {
    /// Minutes from the start of the series.
    pub at_minutes: u64,
    /// Alert name.
    pub alertname: String,
    /// Each expected alert's labels (empty: nothing fires).
    pub alerts: Vec<Vec<(String, String)>>,
}

/// One promtool test: its own input series and alert expectations (alerts of other tests'
/// series do not exist in it, so each scenario is judged alone).
pub struct AlertTest {
    /// (series selector, promtool values) pairs.
    pub series: Vec<(String, String)>,
    /// What fires when.
    pub expectations: Vec<AlertExpectation>,
}

/// Builds a promtool test file from independent tests.
pub fn alert_test_file(rule_file: &str, tests: &[AlertTest]) -> String {
    let tests: Vec<Value> = tests
        .iter()
        .map(|test| {
            let input: Vec<Value> = test
                .series
                .iter()
                .map(|(s, v)| serde_json::json!({"series": s, "values": v}))
                .collect();
            let alerts: Vec<Value> = test.expectations.iter().map(expectation).collect();
            serde_json::json!({"interval": "1m", "input_series": input, "alert_rule_test": alerts})
        })
        .collect();
    let doc = serde_json::json!({
        "rule_files": [rule_file],
        "evaluation_interval": "1m",
        "tests": tests,
    });
    serde_json::to_string_pretty(&doc).unwrap()
}

fn expectation(e: &AlertExpectation) -> Value {
    let alerts: Vec<Value> = e
        .alerts
        .iter()
        .map(|labels| {
            let map: serde_json::Map<String, Value> = labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            serde_json::json!({"exp_labels": map})
        })
        .collect();
    serde_json::json!({
        "eval_time": format!("{}m", e.at_minutes),
        "alertname": e.alertname,
        "exp_alerts": alerts,
    })
}
