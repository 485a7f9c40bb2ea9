//! The blue-green templates (`docs/generated.md`, "Blue-green"), for a Rollout's
//! `prePromotionAnalysis` and `postPromotionAnalysis`:
//!
//! - `<service>-bluegreen-pre` (profiles with a `max` or `max_rate`): the preview held against
//!   its absolute limits over the smoke or mirrored traffic of the last `lookback`; args
//!   `preview-hash` (`podTemplateHashValue: Latest`) and the token.
//! - `<service>-bluegreen-post` (every canary profile): the new active version over the
//!   `lookback` after the switch against the previous version over the `lookback` before it;
//!   args `active-hash` (`Latest`), `previous-hash` (`Stable`: Argo marks the new ReplicaSet
//!   stable only once the post-promotion analysis succeeds), `switch-time` and the token.
//!
//! Argo offers no variable holding the promotion time. Its post-promotion analysis starts when
//! the active Service has switched, and each template asks once, `lookback` after its
//! analysis starts (`initialDelay`), so an empty `switch-time` (the default) means "one
//! lookback before this ask"; a pipeline that knows the time passes it (RFC 3339 or unix
//! seconds). One ask, `failureLimit: 0` and `inconclusiveLimit: 0`: a fail aborts the promotion
//! (pre) or rolls back (post), an inconclusive verdict pauses for a person.

use serde::Serialize;

use super::{
    API_VERSION, AnalysisTemplate, AnalysisTemplateSpec, Argument, FAILURE_CONDITION, KIND, Metric,
    RolloutSettings, SUCCESS_CONDITION, go_duration, json_body, metadata, names, placeholder,
    plain_arg, token_arg, web_provider,
};
use crate::spec::{CanaryProfile, ServiceLevels};

/// slogate's pre-promotion gate.
pub const PRE_GATE_PATH: &str = "/api/v1/gates/bluegreen/pre";
/// slogate's post-promotion gate.
pub const POST_GATE_PATH: &str = "/api/v1/gates/bluegreen/post";
/// Argo arg holding the preview ReplicaSet's pod-template hash.
pub const ARG_PREVIEW_HASH: &str = "preview-hash";
/// Argo arg holding the new active ReplicaSet's pod-template hash.
pub const ARG_ACTIVE_HASH: &str = "active-hash";
/// Argo arg holding the previous active ReplicaSet's pod-template hash.
pub const ARG_PREVIOUS_HASH: &str = "previous-hash";
/// Argo arg holding the switch time (RFC 3339 or unix seconds; empty: derived).
pub const ARG_SWITCH_TIME: &str = "switch-time";
/// Name of the pre-promotion metric.
pub const PRE_METRIC: &str = "slogate-bluegreen-pre";
/// Name of the post-promotion metric.
pub const POST_METRIC: &str = "slogate-bluegreen-post";

/// The pre-promotion gate's request body.
#[derive(Serialize)]
struct PreRequest<'a> {
    service: &'a str,
    preview: Version,
    lookback: String,
}

/// The post-promotion gate's request body.
#[derive(Serialize)]
struct PostRequest<'a> {
    service: &'a str,
    previous: Version,
    active: Version,
    switch_time: String,
    lookback: String,
}

#[derive(Serialize)]
struct Version {
    version: String,
}

/// The blue-green templates of a service with a canary profile: pre when the profile has a
/// limit that needs no baseline, post always.
pub fn templates(
    service: &ServiceLevels,
    profile: &CanaryProfile,
    settings: &RolloutSettings,
) -> Vec<AnalysisTemplate> {
    let mut out = Vec::new();
    if profile.metrics.iter().any(|m| m.absolute.judges_alone()) {
        out.push(pre(service, profile, settings));
    }
    out.push(post(service, profile, settings));
    out
}

fn pre(
    service: &ServiceLevels,
    profile: &CanaryProfile,
    settings: &RolloutSettings,
) -> AnalysisTemplate {
    let request = PreRequest {
        service: &service.service,
        preview: Version {
            version: placeholder(ARG_PREVIEW_HASH),
        },
        lookback: profile.lookback.to_string(),
    };
    template(
        service,
        profile,
        settings,
        "bluegreen-pre",
        PRE_METRIC,
        PRE_GATE_PATH,
        json_body(&request),
        vec![plain_arg(ARG_PREVIEW_HASH)],
    )
}

fn post(
    service: &ServiceLevels,
    profile: &CanaryProfile,
    settings: &RolloutSettings,
) -> AnalysisTemplate {
    let request = PostRequest {
        service: &service.service,
        previous: Version {
            version: placeholder(ARG_PREVIOUS_HASH),
        },
        active: Version {
            version: placeholder(ARG_ACTIVE_HASH),
        },
        switch_time: placeholder(ARG_SWITCH_TIME),
        lookback: profile.lookback.to_string(),
    };
    template(
        service,
        profile,
        settings,
        "bluegreen-post",
        POST_METRIC,
        POST_GATE_PATH,
        json_body(&request),
        vec![
            plain_arg(ARG_ACTIVE_HASH),
            plain_arg(ARG_PREVIOUS_HASH),
            Argument {
                name: ARG_SWITCH_TIME.to_string(),
                value: Some(String::new()),
                value_from: None,
            },
        ],
    )
}

/// One ask, a lookback after the analysis starts, nothing tolerated: the shape both
/// promotion analyses share.
#[allow(clippy::too_many_arguments)]
fn template(
    service: &ServiceLevels,
    profile: &CanaryProfile,
    settings: &RolloutSettings,
    suffix: &str,
    metric: &str,
    path: &str,
    body: String,
    mut args: Vec<Argument>,
) -> AnalysisTemplate {
    args.push(token_arg(settings));
    AnalysisTemplate {
        api_version: API_VERSION,
        kind: KIND,
        metadata: metadata(service, names::template_name(&service.service, suffix)),
        spec: AnalysisTemplateSpec {
            args,
            metrics: vec![Metric {
                name: metric.to_string(),
                interval: None,
                initial_delay: Some(go_duration(profile.lookback.as_secs())),
                count: 1,
                failure_limit: 0,
                inconclusive_limit: 0,
                consecutive_error_limit: Some(profile.pacing.consecutive_error_limit),
                success_condition: SUCCESS_CONDITION.to_string(),
                failure_condition: FAILURE_CONDITION.to_string(),
                provider: web_provider(settings, path, body),
            }],
        },
    }
}
