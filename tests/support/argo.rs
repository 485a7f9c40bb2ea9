//! Asking slogate exactly as Argo Rollouts does: a generated AnalysisTemplate's web provider
//! (URL path, headers, body) with its `{{args.*}}` filled in as Argo resolves them.

use serde_json::Value;

use super::slogate::SlogateGuard;

/// The web provider of a generated AnalysisTemplate: URL path, headers, body, with Argo's
/// `{{args.*}}` filled in as Argo would.
pub fn template_request(
    file: &str,
    args: &[(&str, &str)],
) -> (String, Vec<(String, String)>, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rollouts")
        .join(file);
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    // The caller's args, then the template's defaults (`value`) for those not given, as Argo
    // resolves them.
    let mut resolved: Vec<(String, String)> = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for arg in doc["spec"]["args"].as_array().into_iter().flatten() {
        let name = arg["name"].as_str().unwrap();
        if let Some(default) = arg["value"].as_str()
            && !resolved.iter().any(|(k, _)| k == name)
        {
            resolved.push((name.to_string(), default.to_string()));
        }
    }
    let fill = |s: &str| {
        resolved.iter().fold(s.to_string(), |acc, (k, v)| {
            acc.replace(&format!("{{{{args.{k}}}}}"), v)
        })
    };
    let web = &doc["spec"]["metrics"][0]["provider"]["web"];
    let url = web["url"].as_str().unwrap();
    let path = url
        .strip_prefix("http://slogate.slogate.svc:8080")
        .expect("templates call the in-cluster service");
    let headers = web["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let key = h["key"].as_str().unwrap().to_string();
            (key, fill(h["value"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(web["method"], "POST");
    (
        path.to_string(),
        headers,
        fill(web["body"].as_str().unwrap()),
    )
}

pub fn argo(slogate: &SlogateGuard, file: &str, args: &[(&str, &str)]) -> (u16, Value) {
    let (path, headers, body) = template_request(file, args);
    slogate.request("POST", &path, Some(&body), None, &headers)
}
