//! The blue-green gates, for Argo Rollouts' `prePromotionAnalysis` and
//! `postPromotionAnalysis` (`docs/generated.md`, "Blue-green").
//!
//! - `POST /api/v1/gates/bluegreen/pre`: the preview (green) takes no production traffic,
//!   only smoke or mirrored requests, so it has no baseline to be compared with: it is held
//!   against the absolute criteria of its service's canary profile (`max`, `max_rate`) over
//!   the request's window.
//! - `POST /api/v1/gates/bluegreen/post`: after the switch, the new active version over a
//!   window after the switch is compared with the previous version over a window of the same
//!   length before it: the canary comparison and every absolute criterion, on two windows.
//!
//! Both follow the canary gate's conventions: the `gate` scope, JSON errors naming the field,
//! the request deadline, the history (with the windows in the inputs) and notifications of a
//! change of outcome. Both judge at the fixed-horizon level: the generated templates ask
//! once.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::gates::{About, Deadline, canary_inputs, past_deadline, record};
use super::requests::{
    self, CanaryGate, MAX_CLOCK_SKEW_SECS, MAX_WINDOW_SECS, MIN_WINDOW_SECS, VersionRef, WindowBody,
};
use super::state::AppState;
use crate::evaluate::canary::{
    BaselineSpan, CanaryRequest, CanarySources, canary_verdict, distributions_json,
    evaluate_canary, evaluate_preview,
};
use crate::notify::Rollout;
use crate::spec::{Catalog, PromDuration};
use crate::verdict::{Verdict, VerdictKind};

/// `POST /api/v1/gates/bluegreen/pre`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PreBody {
    /// The service, as its definitions name it.
    pub service: String,
    /// The preview's version (its pod-template hash).
    pub preview: VersionRef,
    /// How far back from now to look (default: the profile's lookback).
    #[serde(default)]
    pub lookback: Option<String>,
    /// An explicit window instead of a lookback.
    #[serde(default)]
    pub window: Option<WindowBody>,
}

/// `POST /api/v1/gates/bluegreen/post`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostBody {
    /// The service, as its definitions name it.
    pub service: String,
    /// The version active before the switch (the baseline).
    pub previous: VersionRef,
    /// The version active after it (judged).
    pub active: VersionRef,
    /// When the active Service switched: RFC 3339 or unix seconds. Absent or empty: one
    /// `lookback` before now (the generated template asks once, `lookback` after Argo starts
    /// the post-promotion analysis, which it does at the switch).
    #[serde(default)]
    pub switch_time: Option<String>,
    /// Length of each window, before and after the switch (default: the profile's lookback).
    #[serde(default)]
    pub lookback: Option<String>,
}

/// `POST /api/v1/gates/bluegreen/pre`.
pub async fn pre(State(state): State<AppState>, body: Bytes) -> Result<Json<Verdict>, ApiError> {
    let body: PreBody = requests::parse_json(&body)?;
    let request = serde_json::to_value(&body).unwrap_or(Value::Null);
    let gate = pre_gate(&state.catalog(), &body, Utc::now())?;
    let rollout = Rollout::Preview {
        preview: gate.request.canary.clone(),
    };
    let verdict = run(&state, &gate, request, rollout, Phase::Pre).await;
    Ok(Json(verdict))
}

/// `POST /api/v1/gates/bluegreen/post`.
pub async fn post(State(state): State<AppState>, body: Bytes) -> Result<Json<Verdict>, ApiError> {
    let body: PostBody = requests::parse_json(&body)?;
    let request = serde_json::to_value(&body).unwrap_or(Value::Null);
    let gate = post_gate(&state.catalog(), &body, Utc::now())?;
    let rollout = Rollout::Canary {
        baseline: gate.request.baseline.clone(),
        canary: gate.request.canary.clone(),
    };
    let verdict = run(&state, &gate, request, rollout, Phase::Post).await;
    Ok(Json(verdict))
}

/// Which blue-green gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pre,
    Post,
}

impl Phase {
    fn words(self) -> &'static str {
        match self {
            Phase::Pre => "blue-green pre-promotion",
            Phase::Post => "blue-green post-promotion",
        }
    }
}

/// The gate's one road: evaluate within the deadline, record, notify, answer.
async fn run(
    state: &AppState,
    gate: &CanaryGate,
    request: Value,
    rollout: Rollout,
    phase: Phase,
) -> Verdict {
    let started = Instant::now();
    let deadline = Deadline::starting(state);
    let confidence = state.settings.gate.confidence;
    let (start, end) = (gate.request.start, gate.request.end);
    let service = &gate.service.service;
    let sources = CanarySources {
        service: service.clone(),
        prometheus: state.gate_source.as_ref(),
        spans: Some(&state.spans),
    };
    let evaluation = async {
        match phase {
            Phase::Pre => {
                evaluate_preview(&sources, &gate.profile, &gate.request, confidence).await
            }
            Phase::Post => {
                evaluate_canary(&sources, &gate.profile, &gate.request, confidence).await
            }
        }
    };
    let (mut verdict, distributions) =
        match tokio::time::timeout_at(deadline.evaluation, evaluation).await {
            Ok(judgement) => (
                canary_verdict(service, &judgement, start, end),
                distributions_json(&judgement),
            ),
            Err(_) => (
                past_deadline(state, VerdictKind::Canary, service, start, end),
                json!({}),
            ),
        };
    verdict.summary = match verdict.summary.strip_prefix(&format!("{service}: ")) {
        Some(rest) => format!("{service} ({}): {rest}", phase.words()),
        None => verdict.summary,
    };
    let mut inputs = canary_inputs(state, gate, request, started);
    inputs["distributions"] = distributions;
    inputs["gate"] = json!(match phase {
        Phase::Pre => "bluegreen-pre",
        Phase::Post => "bluegreen-post",
    });
    match gate.request.baseline_window() {
        Some((b_start, b_end)) => {
            inputs["baseline_window"] = json!({"start": b_start, "end": b_end});
        }
        None => inputs["baseline"] = Value::Null,
    }
    let about = About {
        team: gate.service.team.clone(),
        rollout,
        slos: Vec::new(),
        present: true,
    };
    record(state, verdict, inputs, about, deadline.answer).await
}

/// Checks a pre-promotion body: the service's profile must hold a criterion that needs no
/// baseline.
fn pre_gate(catalog: &Catalog, body: &PreBody, now: DateTime<Utc>) -> Result<CanaryGate, ApiError> {
    let service = requests::known_service(catalog, &body.service)?;
    let profile = service.canary.clone().ok_or_else(|| {
        ApiError::field(
            "service",
            format!("{} has no canary profile in its definitions", body.service),
        )
    })?;
    if !profile.metrics.iter().any(|m| m.absolute.judges_alone()) {
        return Err(ApiError::field(
            "service",
            format!(
                "the canary profile of {} sets no `max` or `max_rate`: a preview without \
                 production traffic can only be held against absolute limits",
                body.service
            ),
        ));
    }
    let preview = requests::version("preview.version", &body.preview.version)?;
    let (start, end) = match (&body.window, &body.lookback) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "window",
                "give either window or lookback, not both",
            ));
        }
        (Some(w), None) => {
            let start = requests::time("window.start", &w.start)?;
            let end = requests::time("window.end", &w.end)?;
            if end > now.timestamp() + MAX_CLOCK_SKEW_SECS {
                return Err(ApiError::field(
                    "window.end",
                    format!(
                        "{} is in the future; a gate judges data already seen",
                        w.end
                    ),
                ));
            }
            (start, end)
        }
        (None, lookback) => {
            let span = span("lookback", lookback.as_deref(), profile.lookback)?;
            (now.timestamp().saturating_sub(span), now.timestamp())
        }
    };
    check_length(
        if body.window.is_some() {
            "window"
        } else {
            "lookback"
        },
        end - start,
    )?;
    Ok(CanaryGate {
        service: service.clone(),
        profile,
        request: CanaryRequest {
            baseline: String::new(),
            canary: preview,
            start,
            end,
            last: true,
            baseline_span: BaselineSpan::Absent,
        },
    })
}

/// Checks a post-promotion body: the baseline window is `[switch - lookback, switch]`, the
/// canary's `[switch, min(switch + lookback, now)]`.
fn post_gate(
    catalog: &Catalog,
    body: &PostBody,
    now: DateTime<Utc>,
) -> Result<CanaryGate, ApiError> {
    let service = requests::known_service(catalog, &body.service)?;
    let profile = service.canary.clone().ok_or_else(|| {
        ApiError::field(
            "service",
            format!("{} has no canary profile in its definitions", body.service),
        )
    })?;
    let previous = requests::version("previous.version", &body.previous.version)?;
    let active = requests::version("active.version", &body.active.version)?;
    if previous == active {
        return Err(ApiError::field(
            "active.version",
            "previous and active name the same version: there is nothing to compare",
        ));
    }
    let lookback = span("lookback", body.lookback.as_deref(), profile.lookback)?;
    check_length("lookback", lookback)?;
    let now = now.timestamp();
    let switch = match body.switch_time.as_deref().map(str::trim) {
        None | Some("") => now - lookback,
        Some(text) => requests::time("switch_time", text)?,
    };
    if switch > now + MAX_CLOCK_SKEW_SECS {
        return Err(ApiError::field(
            "switch_time",
            "is in the future; the post-promotion gate judges the version after the switch",
        ));
    }
    let end = (switch + lookback).min(now);
    if end - switch < MIN_WINDOW_SECS {
        return Err(ApiError::field(
            "switch_time",
            format!(
                "the switch was {}s ago; the window after it must be at least {MIN_WINDOW_SECS}s",
                (now - switch).max(0)
            ),
        ));
    }
    Ok(CanaryGate {
        service: service.clone(),
        profile,
        request: CanaryRequest {
            baseline: previous,
            canary: active,
            start: switch,
            end,
            last: true,
            baseline_span: BaselineSpan::Window {
                start: switch - lookback,
                end: switch,
            },
        },
    })
}

fn span(field: &str, text: Option<&str>, default: PromDuration) -> Result<i64, ApiError> {
    let span = match text {
        Some(text) => PromDuration::parse(text)
            .map_err(|e| ApiError::field(field, format!("{text:?}: {e}")))?,
        None => default,
    };
    Ok(i64::try_from(span.as_secs()).unwrap_or(i64::MAX))
}

fn check_length(field: &str, secs: i64) -> Result<(), ApiError> {
    if (MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&secs) {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            format!("the window is {secs}s long; it must be between 1m and 24h"),
        ))
    }
}

#[cfg(test)]
#[path = "bluegreen_tests.rs"]
mod tests;
