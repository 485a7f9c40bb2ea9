//! `slogate generate --format k8s` for the operators: every PrometheusRule and every per-team
//! AlertmanagerConfig validates against the prometheus-operator's CRDs in
//! `shared/reference/prometheus-operator/` (and every GrafanaDashboard against the Grafana
//! Operator's), each carries the settings' namespace, labels and annotations, each AlertmanagerConfig names only receivers it
//! defines, reads its secrets from the settings' Secret, and routes every team alert (SLO and
//! plain) of the examples.

mod support;

use serde_json::Value;
use slogate::generate::{OutputFormat, generate_all};
use support::crd::{crd_validator, errors};
use support::examples::example_catalog;

fn resources(prefix: &str) -> Vec<(String, Value)> {
    let files = generate_all(&example_catalog(), OutputFormat::Kubernetes).unwrap();
    files
        .iter()
        .filter(|f| f.path.to_string_lossy().starts_with(prefix))
        .map(|f| {
            let value: Value = serde_saphyr::from_str(&f.contents).unwrap();
            (f.path.display().to_string(), value)
        })
        .filter(|(_, v)| v.get("kind").is_some())
        .collect()
}

/// Every receiver name a route tree uses.
fn route_receivers(route: &Value, out: &mut Vec<String>) {
    if let Some(name) = route["receiver"].as_str() {
        out.push(name.to_string());
    }
    for child in route["routes"].as_array().into_iter().flatten() {
        route_receivers(child, out);
    }
}

#[test]
fn every_prometheus_rule_validates_against_the_operator_crd() {
    let validator = crd_validator(
        "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml",
        "v1",
    );
    let rules = resources("alert-rules/");
    assert_eq!(rules.len(), 5, "one PrometheusRule per example service");
    for (path, rule) in &rules {
        assert_eq!(rule["kind"], "PrometheusRule", "{path}");
        let found = errors(&validator, rule);
        assert!(found.is_empty(), "{path}:\n{found}");
    }
    // The settings' metadata: kube-prometheus-stack's ruleSelector matches `release`.
    for (path, rule) in &rules {
        let meta = &rule["metadata"];
        assert_eq!(meta["namespace"], "monitoring", "{path}");
        assert_eq!(meta["labels"]["release"], "kube-prometheus-stack", "{path}");
        assert_eq!(
            meta["labels"]["app.kubernetes.io/managed-by"], "slogate",
            "{path}"
        );
        assert_eq!(
            meta["annotations"]["argocd.argoproj.io/sync-wave"], "1",
            "{path}"
        );
    }
    // The validator bites: a `for` the operator's pattern refuses is reported.
    let mut broken = rules[0].1.clone();
    broken["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes".into();
    assert!(!errors(&validator, &broken).is_empty());
}

#[test]
fn dashboard_resources_carry_the_settings_metadata_and_validate_against_their_crd() {
    let validator = crd_validator(
        "grafana/grafana-operator_grafanadashboards_crd.yaml",
        "v1beta1",
    );
    let dashboards = resources("dashboards/");
    assert_eq!(dashboards.len(), 6, "five services and the overview");
    for (path, dashboard) in &dashboards {
        let found = errors(&validator, dashboard);
        assert!(found.is_empty(), "{path}:\n{found}");
        let meta = &dashboard["metadata"];
        assert_eq!(meta["namespace"], "monitoring", "{path}");
        assert_eq!(meta["labels"]["release"], "kube-prometheus-stack", "{path}");
        assert_eq!(
            meta["labels"]["app.kubernetes.io/managed-by"], "slogate",
            "{path}"
        );
    }
}

#[test]
fn every_team_alertmanager_config_validates_and_is_self_contained() {
    let validator = crd_validator(
        "prometheus-operator/monitoring.coreos.com_alertmanagerconfigs.yaml",
        "v1alpha1",
    );
    let configs: Vec<(String, Value)> = resources("alertmanager/")
        .into_iter()
        .filter(|(_, v)| v["kind"] == "AlertmanagerConfig")
        .collect();
    let names: Vec<&str> = configs
        .iter()
        .map(|(_, v)| v["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "slogate-analytics",
            "slogate-finbot",
            "slogate-mita",
            "slogate-payments",
            "slogate-reconciliation",
            "slogate-default",
        ]
    );
    for (path, config) in &configs {
        assert_eq!(config["apiVersion"], "monitoring.coreos.com/v1alpha1");
        let found = errors(&validator, config);
        assert!(found.is_empty(), "{path}:\n{found}");
        assert_eq!(config["metadata"]["namespace"], "monitoring", "{path}");
        assert_eq!(
            config["metadata"]["labels"]["release"],
            "kube-prometheus-stack"
        );
        // The operator refuses a route naming a receiver the resource does not define.
        let defined: Vec<&str> = config["spec"]["receivers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        let mut used = Vec::new();
        route_receivers(&config["spec"]["route"], &mut used);
        for name in &used {
            assert!(
                defined.contains(&name.as_str()),
                "{path}: {name} is not defined"
            );
        }
        // Secrets are references into the settings' Secret, never values.
        for receiver in config["spec"]["receivers"].as_array().unwrap() {
            for pd in receiver["pagerdutyConfigs"]
                .as_array()
                .into_iter()
                .flatten()
            {
                assert_eq!(pd["routingKey"]["name"], "slogate-alertmanager", "{path}");
            }
            for slack in receiver["slackConfigs"].as_array().into_iter().flatten() {
                assert_eq!(slack["apiURL"]["key"], "slack-webhook-url", "{path}");
            }
        }
    }
    // The validator bites: a match type the operator does not know is reported.
    let mut broken = configs[0].1.clone();
    broken["spec"]["route"]["matchers"][0]["matchType"] = "==".into();
    assert!(!errors(&validator, &broken).is_empty());
    // MITA keeps its own timings and its plain alerts' routes; reconciliation mails its team.
    let mita = &configs
        .iter()
        .find(|(_, v)| v["metadata"]["name"] == "slogate-mita")
        .unwrap()
        .1;
    assert_eq!(mita["spec"]["route"]["groupWait"], "10s");
    assert_eq!(mita["spec"]["route"]["repeatInterval"], "1h");
    let text = serde_json::to_string(mita).unwrap();
    for alert in ["PostgresDown", "RedisRejectedConnections"] {
        assert!(text.contains(alert), "{alert} in {text}");
    }
    let reconciliation = &configs
        .iter()
        .find(|(_, v)| v["metadata"]["name"] == "slogate-reconciliation")
        .unwrap()
        .1;
    let email = reconciliation["spec"]["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "email-reconciliation")
        .expect("the team's email receiver");
    assert_eq!(
        email["emailConfigs"][0]["to"],
        "reconciliation-oncall@example.com"
    );
    assert_eq!(
        email["emailConfigs"][0]["smarthost"],
        "smtp.example.com:587"
    );
    assert_eq!(
        email["emailConfigs"][0]["authPassword"]["key"],
        "smtp-password"
    );
}

#[test]
fn sidecar_format_writes_each_dashboard_as_a_labelled_config_map_holding_the_plain_json() {
    let catalog = example_catalog();
    let plain = generate_all(&catalog, OutputFormat::Plain).unwrap();
    let sidecar = generate_all(&catalog, OutputFormat::KubernetesSidecar).unwrap();
    let mut seen = 0;
    for file in plain.iter().filter(|f| f.path.starts_with("dashboards")) {
        let stem = file.path.file_stem().unwrap().to_string_lossy().to_string();
        let yaml_path = format!("dashboards/{stem}.yaml");
        let config_map = sidecar
            .iter()
            .find(|f| f.path.to_string_lossy() == yaml_path)
            .unwrap_or_else(|| panic!("{yaml_path} in the sidecar format"));
        let value: Value = serde_saphyr::from_str(&config_map.contents).unwrap();
        assert_eq!(value["apiVersion"], "v1");
        assert_eq!(value["kind"], "ConfigMap");
        let meta = &value["metadata"];
        assert_eq!(meta["name"], format!("slo-{stem}-dashboard"));
        assert_eq!(meta["namespace"], "monitoring");
        assert_eq!(
            meta["labels"]["grafana_dashboard"], "1",
            "the sidecar's default label"
        );
        assert_eq!(meta["labels"]["release"], "kube-prometheus-stack");
        // The same dashboard JSON the plain format writes, as the sidecar's file.
        let json = value["data"][format!("{stem}.json")]
            .as_str()
            .expect("data");
        let from_map: Value = serde_json::from_str(json).unwrap();
        let from_plain: Value = serde_json::from_str(&file.contents).unwrap();
        assert_eq!(from_map, from_plain, "{stem}");
        seen += 1;
    }
    assert_eq!(seen, 6);
    // Rules stay PrometheusRule resources.
    let rule = sidecar
        .iter()
        .find(|f| f.path.starts_with("alert-rules"))
        .unwrap();
    assert!(rule.contents.contains("kind: PrometheusRule"));
}
