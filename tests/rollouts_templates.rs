//! The generated Argo Rollouts AnalysisTemplates: their shape (only fields Argo Rollouts'
//! `argoproj.io/v1alpha1` AnalysisTemplate has), the gate requests they send once Argo fills
//! in the args (the DESIGN.md contract), the verdict conditions, no token in any template, a
//! YAML round trip, and the example Rollouts in deploy/examples/ that use them.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use slogate::generate::rollouts::{
    AnalysisTemplate, RolloutSettings, SecretKeyRef, analysis_templates,
};
use slogate::spec::{Catalog, PromDuration, load_paths};

fn example_catalog() -> Catalog {
    let report = load_paths(&[PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/slo-definitions"
    ))]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report.catalog
}

/// Every example service's templates with the default settings.
fn example_templates() -> Vec<(String, Vec<AnalysisTemplate>)> {
    example_catalog()
        .services
        .iter()
        .map(|s| {
            (
                s.service.clone(),
                analysis_templates(s, &RolloutSettings::default()),
            )
        })
        .collect()
}

/// YAML as the generate command writes it (block scalars for the multi-line body).
fn to_yaml(template: &AnalysisTemplate) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = true;
    options.folded_wrap_chars = usize::MAX;
    serde_saphyr::to_string_with_options(template, options).unwrap()
}

/// The template as Argo reads it: the YAML file, parsed.
fn as_read(template: &AnalysisTemplate) -> Value {
    serde_saphyr::from_str(&to_yaml(template)).expect("the template is valid YAML")
}

/// Argo's `{{args.NAME}}` substitution with example values.
fn substitute(text: &str) -> String {
    text.replace("{{args.stable-hash}}", "6d4f8b9c7")
        .replace("{{args.canary-hash}}", "7f9c6b5d8")
        .replace("{{args.api-token}}", "example-token")
        .replace("{{args.metrics}}", "*")
}

#[test]
fn every_service_with_slos_gets_an_slo_gate_and_only_canary_profiles_get_a_canary_template() {
    #[rustfmt::skip]
    let expected: &[(&str, &[&str])] = &[
        ("financeanalyst-api", &["financeanalyst-api-canary", "financeanalyst-api-bluegreen-pre",
            "financeanalyst-api-bluegreen-post", "financeanalyst-api-slo-gate"]),
        ("financy-api", &["financy-api-canary", "financy-api-bluegreen-pre",
            "financy-api-bluegreen-post", "financy-api-slo-gate"]),
        // No `max` or `max_rate` in their profiles: no preview to hold to limits.
        ("finbot-api", &["finbot-api-canary", "finbot-api-bluegreen-post", "finbot-api-slo-gate"]),
        ("mita-backend", &["mita-backend-canary", "mita-backend-bluegreen-post",
            "mita-backend-slo-gate"]),
        ("reconciliation-backend", &["reconciliation-backend-slo-gate"]),
    ];
    let catalog = example_catalog();
    let generated = example_templates();
    assert_eq!(generated.len(), expected.len());
    for ((service, templates), (expected_service, names)) in generated.iter().zip(expected) {
        assert_eq!(service, expected_service);
        let got: Vec<&str> = templates.iter().map(|t| t.metadata.name.as_str()).collect();
        assert_eq!(&got, names, "{service}");
        let has_canary = catalog.service(service).unwrap().canary.is_some();
        assert_eq!(
            got.iter().any(|n| n.ends_with("-canary")),
            has_canary,
            "{service}"
        );
        for template in templates {
            assert_eq!(
                template.file_name(),
                format!("{}.yaml", template.metadata.name)
            );
        }
    }
}

/// Walks `value` and collects every key not in the Argo Rollouts v1alpha1 AnalysisTemplate
/// schema at its place (`path: key`).
fn unknown_fields(path: &str, value: &Value, out: &mut Vec<String>) {
    let allowed: &[&str] = match path {
        "" => &["apiVersion", "kind", "metadata", "spec"],
        "metadata" => &["name", "namespace", "labels", "annotations"],
        "metadata.labels" | "metadata.annotations" => return,
        "spec" => &["args", "metrics", "dryRun", "measurementRetention"],
        "spec.args[]" => &["name", "value", "valueFrom"],
        "spec.args[].valueFrom" => &["secretKeyRef", "fieldRef"],
        "spec.args[].valueFrom.secretKeyRef" => &["name", "key"],
        "spec.metrics[]" => &[
            "name",
            "interval",
            "initialDelay",
            "count",
            "successCondition",
            "failureCondition",
            "failureLimit",
            "inconclusiveLimit",
            "consecutiveErrorLimit",
            "provider",
        ],
        "spec.metrics[].provider" => &["web"],
        "spec.metrics[].provider.web" => &[
            "method",
            "url",
            "headers",
            "body",
            "jsonBody",
            "timeoutSeconds",
            "jsonPath",
            "insecure",
            "authentication",
        ],
        "spec.metrics[].provider.web.headers[]" => &["key", "value"],
        other => panic!("no schema for {other}"),
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if !allowed.contains(&key.as_str()) {
                    out.push(format!("{path}: {key}"));
                    continue;
                }
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match child {
                    Value::Array(items) => {
                        for item in items.iter().filter(|i| i.is_object()) {
                            unknown_fields(&format!("{child_path}[]"), item, out);
                        }
                    }
                    Value::Object(_) => unknown_fields(&child_path, child, out),
                    _ => {}
                }
            }
        }
        _ => panic!("{path} is not an object"),
    }
}

/// A Go duration as Argo parses it: whole hours, minutes, seconds, in that order.
fn is_go_duration(text: &str) -> bool {
    let mut rest = text;
    let mut any = false;
    for unit in ['h', 'm', 's'] {
        if let Some((number, after)) = rest.split_once(unit)
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
        {
            rest = after;
            any = true;
        }
    }
    any && rest.is_empty()
}

#[test]
fn templates_use_only_fields_of_the_argo_analysis_template_schema_with_their_types() {
    for (service, templates) in example_templates() {
        for template in &templates {
            let doc = as_read(template);
            let mut unknown = Vec::new();
            unknown_fields("", &doc, &mut unknown);
            assert!(unknown.is_empty(), "{service}: unknown fields {unknown:?}");
            assert_eq!(doc["apiVersion"], "argoproj.io/v1alpha1");
            assert_eq!(doc["kind"], "AnalysisTemplate");
            assert_eq!(
                doc["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                "slogate"
            );
            assert_eq!(doc["metadata"]["labels"]["slo-service"], service.as_str());
            for metric in doc["spec"]["metrics"].as_array().unwrap() {
                for int_field in ["count", "failureLimit", "inconclusiveLimit"] {
                    assert!(
                        metric[int_field].is_u64(),
                        "{service}: {int_field} in {metric:#}"
                    );
                }
                for duration in ["interval", "initialDelay"] {
                    if let Some(text) = metric.get(duration) {
                        let text = text.as_str().unwrap();
                        assert!(is_go_duration(text), "{service}: {duration} {text}");
                    }
                }
                let web = &metric["provider"]["web"];
                assert!(web["timeoutSeconds"].is_u64());
                assert!(web["body"].is_string(), "the body is a JSON string");
            }
        }
    }
}

#[test]
fn both_gates_post_with_a_bearer_token_and_judge_the_verdict_exactly_as_designed() {
    let expected_metric = |name: &str, path: &str| {
        json!({
            "name": name,
            "successCondition": "result.verdict == \"pass\"",
            "failureCondition": "result.verdict == \"fail\"",
            "failureLimit": 0,
            "web": {
                "method": "POST",
                "url": format!("http://slogate.slogate.svc:8080{path}"),
                "headers": [
                    {"key": "Content-Type", "value": "application/json"},
                    {"key": "Authorization", "value": "Bearer {{args.api-token}}"},
                ],
                "timeoutSeconds": 10,
                "jsonPath": "{$}",
            },
        })
    };
    for (service, templates) in example_templates() {
        for template in &templates {
            let doc = as_read(template);
            let metrics = doc["spec"]["metrics"].as_array().unwrap();
            assert_eq!(metrics.len(), 1, "{service}");
            let metric = &metrics[0];
            let mut web = metric["provider"]["web"].clone();
            web.as_object_mut().unwrap().remove("body");
            let got = json!({
                "name": metric["name"],
                "successCondition": metric["successCondition"],
                "failureCondition": metric["failureCondition"],
                "failureLimit": metric["failureLimit"],
                "web": web,
            });
            let name = &template.metadata.name;
            let expected = if name.ends_with("-canary") {
                expected_metric("slogate-canary", "/api/v1/gates/canary")
            } else if name.ends_with("-bluegreen-pre") {
                expected_metric("slogate-bluegreen-pre", "/api/v1/gates/bluegreen/pre")
            } else if name.ends_with("-bluegreen-post") {
                expected_metric("slogate-bluegreen-post", "/api/v1/gates/bluegreen/post")
            } else {
                expected_metric("slogate-slo", "/api/v1/gates/slo")
            };
            assert_eq!(got, expected, "{}", template.metadata.name);
            // The annotation tells people in the cluster what an inconclusive verdict does.
            let note = doc["metadata"]["annotations"]["slogate/verdicts"]
                .as_str()
                .unwrap();
            assert!(
                note.contains("Inconclusive") && note.contains("pauses"),
                "{note}"
            );
        }
    }
}

#[test]
fn the_canary_body_becomes_the_design_canary_request_once_argo_fills_in_the_hashes() {
    let catalog = example_catalog();
    let mut checked = 0;
    for (service, templates) in example_templates() {
        let Some(canary) = templates
            .iter()
            .find(|t| t.metadata.name.ends_with("-canary"))
        else {
            continue;
        };
        checked += 1;
        let profile = catalog.service(&service).unwrap().canary.as_ref().unwrap();
        let doc = as_read(canary);
        let body = doc["spec"]["metrics"][0]["provider"]["web"]["body"]
            .as_str()
            .unwrap();
        let request: Value = serde_json::from_str(&substitute(body))
            .unwrap_or_else(|e| panic!("{service}: not JSON after substitution ({e}):\n{body}"));
        assert_eq!(
            request,
            json!({
                "service": service,
                "baseline": {"version": "6d4f8b9c7"},
                "canary": {"version": "7f9c6b5d8"},
                "lookback": profile.lookback.to_string(),
                "profile": {"metrics": "*"},
            }),
            "{service}: the metrics arg defaults to every metric"
        );
        let lookback: PromDuration = request["lookback"].as_str().unwrap().parse().unwrap();
        assert_eq!(lookback, profile.lookback);
        assert_eq!(
            doc["spec"]["args"],
            json!([
                {"name": "stable-hash"},
                {"name": "canary-hash"},
                {"name": "metrics", "value": "*"},
                {"name": "api-token", "valueFrom": {"secretKeyRef": {"name": "slogate-api", "key": "token"}}},
            ]),
            "the Rollout supplies the hashes (and may name a step's metrics); the token comes \
             from the Secret"
        );
    }
    assert_eq!(checked, 4, "four example services have a canary profile");
}

#[test]
fn the_canary_template_follows_the_profile_pacing_and_its_defaults() {
    // (service, interval, initialDelay, count, inconclusiveLimit, consecutiveErrorLimit):
    // every example profile uses the defaults (financy-api writes them out).
    let catalog = example_catalog();
    for service in [
        "financeanalyst-api",
        "financy-api",
        "finbot-api",
        "mita-backend",
    ] {
        let the_service = catalog.service(service).unwrap();
        assert_eq!(
            the_service.canary.as_ref().unwrap().pacing,
            slogate::spec::Pacing::default(),
            "{service}"
        );
        let templates = analysis_templates(the_service, &RolloutSettings::default());
        let metric = &as_read(&templates[0])["spec"]["metrics"][0];
        assert_eq!(metric["interval"], "1m", "{service}");
        assert_eq!(metric["initialDelay"], "1m", "{service}");
        assert_eq!(metric["count"], 15, "{service}");
        assert_eq!(metric["failureLimit"], 0, "one fail aborts: {service}");
        assert_eq!(metric["inconclusiveLimit"], 4, "{service}");
        assert_eq!(
            metric["consecutiveErrorLimit"], 15,
            "15 errors at Argo's 10 s retries ride out a 2.5-minute restart: {service}"
        );
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/slo-definitions/financy-api.yaml"
    ))
    .unwrap()
    .replace("initial_delay: 1m", "initial_delay: 90s")
    .replace("interval: 1m", "interval: 30s")
    .replace("count: 15", "count: 7")
    .replace("failure_limit: 0", "failure_limit: 1")
    .replace("inconclusive_limit: 4", "inconclusive_limit: 2")
    .replace("consecutive_error_limit: 15", "consecutive_error_limit: 30");
    let report = slogate::spec::load_texts(&[(PathBuf::from("financy-api.yaml"), text.clone())]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let templates = analysis_templates(&report.catalog.services[0], &RolloutSettings::default());
    let metric = &as_read(&templates[0])["spec"]["metrics"][0];
    assert_eq!(metric["initialDelay"], "1m30s");
    assert_eq!(metric["interval"], "30s");
    assert_eq!(metric["count"], 7);
    assert_eq!(metric["failureLimit"], 1);
    assert_eq!(metric["inconclusiveLimit"], 2);
    assert_eq!(metric["consecutiveErrorLimit"], 30);

    // Bad pacing is refused naming the file, line and field.
    for (from, to, field) in [
        ("count: 7", "count: 0", "canary.pacing.count"),
        ("interval: 30s", "interval: 1.5s", "canary.pacing.interval"),
        ("interval: 30s", "interval: soon", "canary.pacing.interval"),
        (
            "consecutive_error_limit: 30",
            "consecutive_error_limit: 9999",
            "canary.pacing.consecutive_error_limit",
        ),
        ("count: 7", "count: 7\n    every: 1m", "canary.pacing"),
    ] {
        let bad = text.replace(from, to);
        let report = slogate::spec::load_texts(&[(PathBuf::from("financy-api.yaml"), bad)]);
        let text: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(
            text.iter()
                .any(|d| d.starts_with("financy-api.yaml:") && d.contains(field)),
            "{to}: {text:#?}"
        );
    }
}

#[test]
fn the_slo_gate_asks_once_for_the_service_and_pauses_on_the_first_inconclusive() {
    for (service, templates) in example_templates() {
        let gate = templates
            .iter()
            .find(|t| t.metadata.name.ends_with("-slo-gate"))
            .unwrap();
        let doc = as_read(gate);
        let metric = &doc["spec"]["metrics"][0];
        assert_eq!(metric["count"], 1);
        assert_eq!(metric["inconclusiveLimit"], 0);
        assert!(
            metric.get("interval").is_none(),
            "one measurement needs no interval"
        );
        let body = metric["provider"]["web"]["body"].as_str().unwrap();
        let request: Value = serde_json::from_str(&substitute(body)).unwrap();
        assert_eq!(request, json!({"service": service}));
        assert_eq!(
            doc["spec"]["args"],
            json!([{"name": "api-token", "valueFrom": {"secretKeyRef": {"name": "slogate-api", "key": "token"}}}])
        );
    }
}

#[test]
fn no_token_value_is_ever_written_into_a_template() {
    let settings = RolloutSettings {
        slogate_url: "https://slogate.example.internal/".to_string(),
        token_secret: SecretKeyRef {
            name: "payments-slogate".to_string(),
            key: "api-token".to_string(),
        },
    };
    for service in &example_catalog().services {
        for template in analysis_templates(service, &settings) {
            let doc = as_read(&template);
            // The only literal values are the metrics arg's default and the empty switch time,
            // never a secret.
            for arg in doc["spec"]["args"].as_array().unwrap() {
                assert!(
                    arg.get("value").is_none()
                        || (arg["name"] == "metrics" && arg["value"] == "*")
                        || (arg["name"] == "switch-time" && arg["value"] == ""),
                    "an arg with a literal value: {arg}"
                );
            }
            let token = doc["spec"]["args"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == "api-token")
                .unwrap();
            assert_eq!(
                token["valueFrom"],
                json!({"secretKeyRef": {"name": "payments-slogate", "key": "api-token"}})
            );
            let web = &doc["spec"]["metrics"][0]["provider"]["web"];
            let authorization: Vec<&Value> = web["headers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h["key"] == "Authorization")
                .map(|h| &h["value"])
                .collect();
            assert_eq!(authorization, [&json!("Bearer {{args.api-token}}")]);
            // The settings' URL, without a doubled slash.
            let url = web["url"].as_str().unwrap();
            assert!(
                url.starts_with("https://slogate.example.internal/api/v1/gates/"),
                "{url}"
            );
        }
    }
}

#[test]
fn templates_survive_a_yaml_round_trip_unchanged() {
    for (service, templates) in example_templates() {
        for template in &templates {
            let value = serde_json::to_value(template).unwrap();
            assert_eq!(as_read(template), value, "{service}: block-scalar YAML");
            let plain: Value =
                serde_saphyr::from_str(&serde_saphyr::to_string(template).unwrap()).unwrap();
            assert_eq!(plain, value, "{service}: plain YAML");
        }
    }
}

/// The single document of an example file under deploy/examples/.
fn example_rollout(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/examples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every template reference (`templates` + `args`) anywhere under `value`.
fn analysis_refs(value: &Value, out: &mut Vec<(String, Vec<Value>)>) {
    match value {
        Value::Object(map) => {
            if let Some(templates) = map.get("templates").and_then(Value::as_array) {
                let args = map
                    .get("args")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for t in templates {
                    out.push((
                        t["templateName"].as_str().unwrap().to_string(),
                        args.clone(),
                    ));
                }
            }
            map.values().for_each(|v| analysis_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| analysis_refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_example_rollouts_use_the_generated_templates_and_supply_every_arg_they_need() {
    let catalog = example_catalog();
    let financy = catalog.service("financy-api").unwrap();
    let templates = analysis_templates(financy, &RolloutSettings::default());
    for (file, strategy, expected_templates) in [
        (
            "rollout-canary.yaml",
            "canary",
            &["financy-api-slo-gate", "financy-api-canary"][..],
        ),
        (
            "rollout-financy-api.yaml",
            "canary",
            &["financy-api-slo-gate", "financy-api-canary"][..],
        ),
        (
            "rollout-bluegreen.yaml",
            "blueGreen",
            &[
                "financy-api-slo-gate",
                "financy-api-bluegreen-pre",
                "financy-api-bluegreen-post",
            ][..],
        ),
    ] {
        let rollout = example_rollout(file);
        assert_eq!(rollout["apiVersion"], "argoproj.io/v1alpha1", "{file}");
        assert_eq!(rollout["kind"], "Rollout", "{file}");
        assert!(
            rollout["spec"]["strategy"].get(strategy).is_some(),
            "{file}"
        );
        let mut refs = Vec::new();
        analysis_refs(&rollout, &mut refs);
        let used: BTreeSet<&str> = refs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(used, expected_templates.iter().copied().collect(), "{file}");
        for (name, args) in &refs {
            let template = templates.iter().find(|t| &t.metadata.name == name).unwrap();
            let given: BTreeSet<&str> = args.iter().map(|a| a["name"].as_str().unwrap()).collect();
            let needed: BTreeSet<&str> = template
                .spec
                .args
                .iter()
                .filter(|a| a.value_from.is_none() && a.value.is_none())
                .map(|a| a.name.as_str())
                .collect();
            // Argo merges the args of every template of one analysis: an arg given must be
            // declared by one of them.
            let known: BTreeSet<&str> = refs
                .iter()
                .filter(|(_, a)| a == args)
                .flat_map(|(n, _)| {
                    let t = templates.iter().find(|t| &t.metadata.name == n).unwrap();
                    t.spec.args.iter().map(|a| a.name.as_str())
                })
                .collect();
            assert!(given.is_superset(&needed), "{file}: args for {name}");
            assert!(given.is_subset(&known), "{file}: args for {name}");
            for arg in args.iter().filter(|a| a["name"] != "metrics") {
                let hash = &arg["valueFrom"]["podTemplateHashValue"];
                // The baseline is the stable ReplicaSet: in blue-green post-promotion the
                // previous one, which Argo keeps as stable until the analysis succeeds.
                let expected = if arg["name"] == "stable-hash" || arg["name"] == "previous-hash" {
                    "Stable"
                } else {
                    "Latest"
                };
                assert_eq!(hash, expected, "{file}: {arg}");
            }
        }
    }
    let blue_green = &example_rollout("rollout-bluegreen.yaml")["spec"]["strategy"]["blueGreen"];
    assert_eq!(
        blue_green["prePromotionAnalysis"]["templates"],
        json!([
            {"templateName": "financy-api-slo-gate"},
            {"templateName": "financy-api-bluegreen-pre"}
        ])
    );
    assert_eq!(
        blue_green["postPromotionAnalysis"]["templates"],
        json!([{"templateName": "financy-api-bluegreen-post"}])
    );
}
