//! The generated AnalysisTemplates and the example Rollouts against the Argo Rollouts CRDs'
//! own OpenAPI schemas (`../shared/reference/argo-rollouts/`), with unknown fields refused as
//! the API server's pruning would drop them; and template names for service names Kubernetes
//! would refuse (capitals, underscores, 60+ characters).

use std::path::PathBuf;

use jsonschema::Validator;
use serde_json::Value;
use slogate::generate::rollouts::names::is_dns_label;
use slogate::generate::rollouts::{AnalysisTemplate, RolloutSettings, analysis_templates};
use slogate::spec::load_paths;

fn reference(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference/argo-rollouts")
        .join(file)
}

/// The CRD's v1alpha1 schema as a JSON Schema: objects with `properties` and no
/// `x-kubernetes-preserve-unknown-fields` get `additionalProperties: false`, so a field Argo
/// does not know (which the API server would silently prune) fails the validation.
fn crd_validator(file: &str) -> Validator {
    let text = std::fs::read_to_string(reference(file)).unwrap();
    let crd: Value = serde_saphyr::from_str(&text).unwrap();
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1alpha1")
        .unwrap();
    let mut schema = version["schema"]["openAPIV3Schema"].clone();
    close(&mut schema);
    jsonschema::validator_for(&schema).unwrap()
}

fn close(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let preserve =
                map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !preserve
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

fn as_read(template: &AnalysisTemplate) -> Value {
    let text =
        serde_saphyr::to_string_with_options(template, slogate::generate::yaml_options()).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn errors(validator: &Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn every_generated_template_validates_against_the_analysis_template_crd() {
    let validator = crd_validator("analysis-template-crd.yaml");
    let report = load_paths(&[PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/slo-definitions"
    ))]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let mut checked = 0;
    for service in &report.catalog.services {
        for template in analysis_templates(service, &RolloutSettings::default()) {
            let doc = as_read(&template);
            assert_eq!(
                errors(&validator, &doc),
                Vec::<String>::new(),
                "{}",
                template.metadata.name
            );
            checked += 1;
        }
    }
    // Canary, blue-green post (and pre where the profile has a limit) and SLO gate.
    assert_eq!(checked, 15);
    // The schema is strict enough to see a misspelt field.
    let mut doc =
        as_read(&analysis_templates(&report.catalog.services[0], &RolloutSettings::default())[0]);
    doc["spec"]["metrics"][0]["consecutiveErrorLimits"] = 3.into();
    assert!(!errors(&validator, &doc).is_empty());
}

#[test]
fn the_example_rollouts_validate_against_the_rollout_crd() {
    let validator = crd_validator("rollout-crd.yaml");
    for file in [
        "rollout-canary.yaml",
        "rollout-financy-api.yaml",
        "rollout-bluegreen.yaml",
    ] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/examples")
            .join(file);
        let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(errors(&validator, &doc), Vec::<String>::new(), "{file}");
    }
}

/// A service named `name` with a canary profile (with a limit, so every template is made) and
/// an SLO.
fn service_named(name: &str) -> String {
    format!(
        "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: {name}\nslos:\n  - name: availability\n    objective: 99.9\n    sli:\n      events:\n        errors: sum(rate(http_requests_total{{code=~\"5..\"}}[{{{{window}}}}]))\n        total: sum(rate(http_requests_total[{{{{window}}}}]))\ncanary:\n  metrics:\n    - name: errors\n      errors: sum(increase(http_requests_total{{code=~\"5..\"}}[{{{{window}}}}]))\n      total: sum(increase(http_requests_total[{{{{window}}}}]))\n      max_rate: 0.005\n"
    )
}

#[test]
fn services_with_capitals_underscores_and_long_names_get_valid_distinct_template_names() {
    let validator = crd_validator("analysis-template-crd.yaml");
    let long = "payments-settlement-reconciliation-backend-for-europe-and-asia-pacific";
    assert!(long.len() > 60);
    let names = [
        "Financy_API",
        "financy-api",
        "financy_api",
        long,
        &long.replace('-', "_").to_uppercase(),
        "a.b_C",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        let report = slogate::spec::load_texts(&[(PathBuf::from("svc.yaml"), service_named(name))]);
        assert!(!report.has_errors(), "{name}: {:?}", report.diagnostics);
        let templates =
            analysis_templates(&report.catalog.services[0], &RolloutSettings::default());
        // canary, bluegreen-pre, bluegreen-post (the longest suffix), slo-gate.
        assert_eq!(templates.len(), 4, "{name}");
        for template in &templates {
            let t = &template.metadata.name;
            assert!(is_dns_label(t), "{name}: {t}");
            assert!(
                seen.insert(t.clone()),
                "{name}: {t} is another service's name too"
            );
            let doc = as_read(template);
            assert_eq!(errors(&validator, &doc), Vec::<String>::new(), "{t}");
            let label = doc["metadata"]["labels"]["slo-service"].as_str().unwrap();
            assert!(label.len() <= 63, "{label}");
            // The gate is still asked about the service by its own name.
            let body = doc["spec"]["metrics"][0]["provider"]["web"]["body"]
                .as_str()
                .unwrap();
            assert!(body.contains(&format!("\"service\": \"{name}\"")), "{body}");
        }
        // Deterministic: the same service gets the same names.
        let again = analysis_templates(&report.catalog.services[0], &RolloutSettings::default());
        assert_eq!(templates, again);
    }
    let report =
        slogate::spec::load_texts(&[(PathBuf::from("svc.yaml"), service_named("Financy_API"))]);
    let name = &analysis_templates(&report.catalog.services[0], &RolloutSettings::default())[0]
        .metadata
        .name;
    assert!(
        name.starts_with("financy-api-") && name.ends_with("-canary"),
        "{name}"
    );
}
