//! Argo Rollouts `AnalysisTemplate`s that ask slogate for a verdict (`rollouts/`).
//!
//! Two templates per service, both a `web` metric POSTing to slogate's gates and reading the
//! verdict JSON back whole (`jsonPath: "{$}"`):
//! - `<service>-canary` (services with a canary profile): canary against baseline, for canary
//!   steps or background analysis; the Rollout passes both pod-template hashes.
//! - `<service>-bluegreen-pre` and `<service>-bluegreen-post` (`bluegreen`): the preview
//!   against its absolute limits before the switch, and the new active version after the
//!   switch against the previous one before it.
//! - `<service>-slo-gate` (services with SLOs): the error-budget gate, for blue-green
//!   `prePromotionAnalysis` / `postPromotionAnalysis` or as a canary step.
//!
//! A `pass` verdict is Successful and a `fail` Failed; `inconclusive` matches neither
//! condition, so Argo marks the measurement Inconclusive and, past `inconclusiveLimit`, pauses
//! the rollout for a person to decide. The API token comes from a Secret at analysis time and
//! is never written into a template.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::spec::{CanaryProfile, ServiceLevels};

pub mod bluegreen;
pub mod names;
mod template;

pub use template::{
    AnalysisTemplate, AnalysisTemplateSpec, Argument, Metric, MetricProvider, ObjectMeta,
    SecretKeyRef, ValueFrom, WebMetric, WebMetricHeader,
};

/// The folder the templates go in, relative to the output directory.
pub const DIR: &str = "rollouts";
/// The AnalysisTemplate API version.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";
/// The resource kind.
pub const KIND: &str = "AnalysisTemplate";

/// slogate's canary gate (DESIGN.md §3).
pub const CANARY_GATE_PATH: &str = "/api/v1/gates/canary";
/// slogate's error-budget gate (DESIGN.md §3).
pub const SLO_GATE_PATH: &str = "/api/v1/gates/slo";

/// Argo arg holding the stable ReplicaSet's pod-template hash (the baseline).
pub const ARG_STABLE_HASH: &str = "stable-hash";
/// Argo arg holding the new ReplicaSet's pod-template hash (the canary).
pub const ARG_CANARY_HASH: &str = "canary-hash";
/// Argo arg holding slogate's API token, read from a Secret.
pub const ARG_API_TOKEN: &str = "api-token";
/// Argo arg naming the profile's metrics a step judges, comma-separated (the critical ones
/// are always judged: the gate refuses a subset without them).
pub const ARG_METRICS: &str = "metrics";
/// The `metrics` arg's default: every metric of the profile.
pub const ALL_METRICS: &str = "*";

/// Name of the canary metric.
pub const CANARY_METRIC: &str = "slogate-canary";
/// Name of the SLO-gate metric.
pub const SLO_GATE_METRIC: &str = "slogate-slo";

/// Successful when slogate says pass (DESIGN.md §3).
pub const SUCCESS_CONDITION: &str = r#"result.verdict == "pass""#;
/// Failed when slogate says fail (DESIGN.md §3).
pub const FAILURE_CONDITION: &str = r#"result.verdict == "fail""#;

/// How long Argo waits for a verdict. Argo's own default is also 10s; it is written out so
/// the bound is visible next to the URL, and slogate's gate deadline must stay below it so a
/// slow Prometheus yields slogate's `inconclusive` (with a reason) rather than an Argo
/// measurement error.
pub const TIMEOUT_SECONDS: u32 = 10;

/// Where the templates reach slogate and how they authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutSettings {
    /// slogate's base URL as seen from the Argo Rollouts controller (no trailing slash
    /// needed).
    pub slogate_url: String,
    /// The Secret (in the Rollout's namespace) holding slogate's API token.
    pub token_secret: SecretKeyRef,
}

impl Default for RolloutSettings {
    /// slogate's in-cluster Service (`deploy/`) and a Secret `slogate-api` with key `token`.
    fn default() -> Self {
        RolloutSettings {
            slogate_url: "http://slogate.slogate.svc:8080".to_string(),
            token_secret: SecretKeyRef {
                name: "slogate-api".to_string(),
                key: "token".to_string(),
            },
        }
    }
}

/// The templates of a service: the canary template and the blue-green ones when it has a
/// canary profile, then the SLO gate when it has SLOs.
pub fn analysis_templates(
    service: &ServiceLevels,
    settings: &RolloutSettings,
) -> Vec<AnalysisTemplate> {
    let mut templates = Vec::new();
    if let Some(profile) = &service.canary {
        templates.push(canary_template(service, profile, settings));
        templates.extend(bluegreen::templates(service, profile, settings));
    }
    if !service.slos.is_empty() {
        templates.push(slo_gate_template(service, settings));
    }
    templates
}

/// The canary gate's request body (DESIGN.md §3, `POST /api/v1/gates/canary`).
#[derive(Serialize)]
struct CanaryGateRequest<'a> {
    service: &'a str,
    baseline: VersionRef,
    canary: VersionRef,
    lookback: String,
    profile: ProfileRef,
}

/// The profile adjustment the template sends: the step's metrics, as the `metrics` arg names
/// them.
#[derive(Serialize)]
struct ProfileRef {
    metrics: String,
}

#[derive(Serialize)]
struct VersionRef {
    version: String,
}

/// The SLO gate's request body (DESIGN.md §3, `POST /api/v1/gates/slo`).
#[derive(Serialize)]
struct SloGateRequest<'a> {
    service: &'a str,
}

/// The canary gate, asked on the profile's pacing (`spec::pacing`, where the defaults and their
/// reasons are): each verdict covers the last `lookback` of traffic, Argo's sequential looks
/// are one anytime-valid test in slogate, so asking every minute costs no false fails.
/// `consecutiveErrorLimit` lets a run ride out a slogate restart (Argo retries an errored ask
/// every 10 s).
fn canary_template(
    service: &ServiceLevels,
    profile: &CanaryProfile,
    settings: &RolloutSettings,
) -> AnalysisTemplate {
    let pacing = &profile.pacing;
    let request = CanaryGateRequest {
        service: &service.service,
        baseline: VersionRef {
            version: placeholder(ARG_STABLE_HASH),
        },
        canary: VersionRef {
            version: placeholder(ARG_CANARY_HASH),
        },
        lookback: profile.lookback.to_string(),
        profile: ProfileRef {
            metrics: placeholder(ARG_METRICS),
        },
    };
    let metric = Metric {
        name: CANARY_METRIC.to_string(),
        interval: Some(go_duration(pacing.interval.as_secs())),
        initial_delay: Some(go_duration(pacing.initial_delay.as_secs())),
        count: pacing.count,
        failure_limit: pacing.failure_limit,
        inconclusive_limit: pacing.inconclusive_limit,
        consecutive_error_limit: Some(pacing.consecutive_error_limit),
        success_condition: SUCCESS_CONDITION.to_string(),
        failure_condition: FAILURE_CONDITION.to_string(),
        provider: web_provider(settings, CANARY_GATE_PATH, json_body(&request)),
    };
    AnalysisTemplate {
        api_version: API_VERSION,
        kind: KIND,
        metadata: metadata(service, names::template_name(&service.service, "canary")),
        spec: AnalysisTemplateSpec {
            args: vec![
                plain_arg(ARG_STABLE_HASH),
                plain_arg(ARG_CANARY_HASH),
                Argument {
                    name: ARG_METRICS.to_string(),
                    value: Some(ALL_METRICS.to_string()),
                    value_from: None,
                },
                token_arg(settings),
            ],
            metrics: vec![metric],
        },
    }
}

/// One verdict on the service's error budget: blue-green promotion analyses run once, and
/// an inconclusive budget (no data) must stop a promotion (`inconclusiveLimit: 0`).
fn slo_gate_template(service: &ServiceLevels, settings: &RolloutSettings) -> AnalysisTemplate {
    let request = SloGateRequest {
        service: &service.service,
    };
    let metric = Metric {
        name: SLO_GATE_METRIC.to_string(),
        interval: None,
        initial_delay: None,
        count: 1,
        failure_limit: 0,
        inconclusive_limit: 0,
        // One ask; the same restart allowance as the canary gate's default.
        consecutive_error_limit: Some(crate::spec::pacing::DEFAULT_CONSECUTIVE_ERROR_LIMIT),
        success_condition: SUCCESS_CONDITION.to_string(),
        failure_condition: FAILURE_CONDITION.to_string(),
        provider: web_provider(settings, SLO_GATE_PATH, json_body(&request)),
    };
    AnalysisTemplate {
        api_version: API_VERSION,
        kind: KIND,
        metadata: metadata(service, names::template_name(&service.service, "slo-gate")),
        spec: AnalysisTemplateSpec {
            args: vec![token_arg(settings)],
            metrics: vec![metric],
        },
    }
}

fn web_provider(settings: &RolloutSettings, path: &str, body: String) -> MetricProvider {
    MetricProvider {
        web: WebMetric {
            method: "POST",
            url: format!("{}{path}", settings.slogate_url.trim_end_matches('/')),
            headers: vec![
                WebMetricHeader {
                    key: "Content-Type".to_string(),
                    value: "application/json".to_string(),
                },
                WebMetricHeader {
                    key: "Authorization".to_string(),
                    value: format!("Bearer {}", placeholder(ARG_API_TOKEN)),
                },
            ],
            body,
            timeout_seconds: TIMEOUT_SECONDS,
            json_path: "{$}",
        },
    }
}

fn metadata(service: &ServiceLevels, name: String) -> ObjectMeta {
    let labels = crate::generate::k8s_labels(service);
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "slogate/verdicts".to_string(),
        "slogate answers pass, fail or inconclusive. pass matches successCondition and fail \
         matches failureCondition; inconclusive (no data, too little data, a source down; never a \
         canary that only looks worse) matches neither, so \
         Argo marks the measurement Inconclusive and, past inconclusiveLimit, pauses the \
         rollout for a person to promote or abort."
            .to_string(),
    );
    ObjectMeta {
        name,
        labels,
        annotations,
    }
}

fn plain_arg(name: &str) -> Argument {
    Argument {
        name: name.to_string(),
        value: None,
        value_from: None,
    }
}

fn token_arg(settings: &RolloutSettings) -> Argument {
    Argument {
        name: ARG_API_TOKEN.to_string(),
        value: None,
        value_from: Some(ValueFrom {
            secret_key_ref: settings.token_secret.clone(),
        }),
    }
}

/// How a template refers to an argument.
fn placeholder(arg: &str) -> String {
    format!("{{{{args.{arg}}}}}")
}

fn json_body<T: Serialize>(request: &T) -> String {
    // Only strings and nested structs: serialisation cannot fail.
    serde_json::to_string_pretty(request).expect("a gate request serialises to JSON")
}

/// Seconds as a Go duration (`90` -> `1m30s`), the format Argo reads; Prometheus' `1d` is not
/// one.
fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_use_hours_minutes_and_seconds_only() {
        for (secs, expected) in [
            (0, "0s"),
            (45, "45s"),
            (300, "5m"),
            (450, "7m30s"),
            (5400, "1h30m"),
            (86_400, "24h"),
        ] {
            assert_eq!(go_duration(secs), expected, "{secs}s");
        }
    }

    #[test]
    fn placeholders_are_argo_arg_references() {
        assert_eq!(placeholder(ARG_STABLE_HASH), "{{args.stable-hash}}");
    }
}
