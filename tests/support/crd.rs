//! Validators for Kubernetes custom resources, built from the CRDs in `shared/reference/`
//! (their `openAPIV3Schema`, read as JSON Schema): what the API server would check when the
//! generated resources are applied.

use std::path::Path;

use jsonschema::{Draft, PatternOptions, Validator};
use serde_json::Value;

/// The validator of `version` of the CRD at `shared/reference/<rel>`.
pub fn crd_validator(rel: &str, version: &str) -> Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let crd: Value = serde_saphyr::from_str(&text).expect("the CRD is YAML");
    let mut schema = crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("{version} in {rel}"))["schema"]["openAPIV3Schema"]
        .clone();
    case_sensitive(&mut schema);
    // The API server reads patterns as RE2; the regex crate is the closer engine.
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .with_pattern_options(PatternOptions::regex())
        .build(&schema)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Drops the inline `(?i)` flag from every pattern: JSON Schema's ECMA-262 regexes have no
/// inline flags, so the schema would not compile with them. Matching case-sensitively is
/// stricter than the API server, so a resource that passes here passes there.
fn case_sensitive(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(pattern) if key == "pattern" => {
                        *pattern = pattern.replace("(?i)", "");
                    }
                    other => case_sensitive(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(case_sensitive),
        _ => {}
    }
}

/// Every schema error of `resource`, one a line (empty when it is valid).
pub fn errors(validator: &Validator, resource: &Value) -> String {
    validator
        .iter_errors(resource)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect::<Vec<_>>()
        .join("\n")
}
