//! The gates rollouts wait on: error budget and canary (Flagger's webhook, in `flagger.rs`,
//! comes through the same two).
//!
//! Each gate checks the request, evaluates within the request deadline (past it the answer is
//! `inconclusive`, never an error Argo would count as a failed measurement), writes the verdict
//! and what it was made from to the history, queues the notifications a change of outcome
//! calls for (a store write; a failure there is logged, never changes the verdict), and only
//! then answers.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::error::ApiError;
use super::requests::{self, CanaryBody, CanaryGate, SloBody};
use super::state::AppState;
use crate::analysis::slo::GatePolicy;
use crate::evaluate::canary::{CanarySources, canary_verdict, distributions_json, judge_canary};
use crate::evaluate::{evaluate_service, slo_gate_verdict};
use crate::notify::{Judged, Rollout, SloNumbers};
use crate::spec::CanaryMeasure;
use crate::store::VerdictRecord;
use crate::telemetry::names;
use crate::verdict::{Check, Outcome, Verdict, VerdictKind, Window, new_id, rfc3339};

/// `POST /api/v1/gates/canary`.
pub async fn canary(State(state): State<AppState>, body: Bytes) -> Result<Json<Verdict>, ApiError> {
    let body: CanaryBody = requests::parse_json(&body)?;
    let request = serde_json::to_value(&body).unwrap_or(Value::Null);
    Ok(Json(run_canary(&state, &body, request).await?))
}

/// `POST /api/v1/gates/slo`.
pub async fn slo_post(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Verdict>, ApiError> {
    let body: SloBody = requests::parse_json(&body)?;
    Ok(Json(run_slo(&state, &body).await?))
}

/// `GET /api/v1/gates/slo?service=...&slo=...&at=...`.
pub async fn slo_get(
    State(state): State<AppState>,
    Query(body): Query<SloBody>,
) -> Result<Json<Verdict>, ApiError> {
    Ok(Json(run_slo(&state, &body).await?))
}

pub(super) async fn run_canary(
    state: &AppState,
    body: &CanaryBody,
    request: Value,
) -> Result<Verdict, ApiError> {
    let catalog = state.catalog();
    let gate = requests::canary_gate(&catalog, body, Utc::now())?;
    let started = Instant::now();
    let deadline = Deadline::starting(state);
    let confidence = state.settings.gate.confidence;
    let (start, end) = (gate.request.start, gate.request.end);
    let sources = CanarySources {
        service: gate.service.service.clone(),
        prometheus: state.gate_source.as_ref(),
        spans: Some(&state.spans),
    };
    let evaluation = judge_canary(
        &state.store,
        &sources,
        &gate.profile,
        &gate.request,
        confidence,
        state.settings.calibration.measured_prior,
    );
    let (verdict, distributions) =
        match tokio::time::timeout_at(deadline.evaluation, evaluation).await {
            Ok(judgement) => (
                canary_verdict(&gate.service.service, &judgement, start, end),
                distributions_json(&judgement),
            ),
            Err(_) => (
                past_deadline(
                    state,
                    VerdictKind::Canary,
                    &gate.service.service,
                    start,
                    end,
                ),
                json!({}),
            ),
        };
    let mut inputs = canary_inputs(state, &gate, request, started);
    // What the status page draws: each side's quantiles or counts, per metric.
    inputs["distributions"] = distributions;
    let about = About {
        team: gate.service.team.clone(),
        rollout: Rollout::Canary {
            baseline: gate.request.baseline.clone(),
            canary: gate.request.canary.clone(),
        },
        slos: Vec::new(),
        present: true,
    };
    let verdict = record(state, verdict, inputs, about, deadline.answer).await;
    // The baseline may be a new stable version to backtest the profile on.
    state.calibration_wake.notify_one();
    Ok(verdict)
}

pub(super) async fn run_slo(state: &AppState, body: &SloBody) -> Result<Verdict, ApiError> {
    let catalog = state.catalog();
    let (service, at) = requests::slo_gate(&catalog, body, Utc::now())?;
    let started = Instant::now();
    let deadline = Deadline::starting(state);
    let policy = GatePolicy {
        budget_floor: state.settings.gate.budget_floor,
    };
    let slo = body.slo.as_deref();
    let evaluation = evaluate_service(
        state.gate_source.as_ref(),
        &catalog,
        service,
        slo,
        at.timestamp(),
        &policy,
    );
    let mut numbers = Vec::new();
    let verdict = match tokio::time::timeout_at(deadline.evaluation, evaluation).await {
        Ok(statuses) => {
            numbers = statuses.iter().map(SloNumbers::from).collect();
            slo_gate_verdict(&service.service, &statuses, at)
        }
        Err(_) => {
            let t = at.timestamp();
            past_deadline(state, VerdictKind::Slo, &service.service, t, t)
        }
    };
    let inputs = json!({
        "request": body,
        "at": rfc3339(at),
        "budget_floor": policy.budget_floor,
        "definitions": service.origin.file.display().to_string(),
        "slos": service.slos.iter()
            .filter(|s| slo.is_none_or(|name| name == s.name))
            .map(|s| json!({"name": s.name, "objective": s.objective, "period": s.period.to_string()}))
            .collect::<Vec<_>>(),
        "prometheus": state.source.url(),
        "elapsed_ms": started.elapsed().as_millis() as u64,
    });
    let about = About {
        team: service.team.clone(),
        rollout: Rollout::Slo {
            slo: body.slo.clone(),
        },
        slos: numbers,
        present: Utc::now() - at <= PAST,
    };
    Ok(record(state, verdict, inputs, about, deadline.answer).await)
}

/// One deadline for the whole gate request (`request_deadline`, under Argo's 10 s): the
/// evaluation ends [`WRITE_RESERVE`] before it, so the history and outbox writes fit in what
/// is left, and the answer goes out at the deadline whatever they do.
pub(super) struct Deadline {
    /// When the evaluation is cut off.
    pub(super) evaluation: tokio::time::Instant,
    /// When the answer goes out.
    pub(super) answer: tokio::time::Instant,
}

/// The time kept for the writes after the evaluation: a quarter of the deadline, at most 1 s
/// (a healthy write takes milliseconds).
const WRITE_RESERVE: std::time::Duration = std::time::Duration::from_secs(1);

impl Deadline {
    pub(super) fn starting(state: &AppState) -> Deadline {
        let now = tokio::time::Instant::now();
        let total = state.settings.request_deadline;
        Deadline {
            evaluation: now + total - WRITE_RESERVE.min(total / 4),
            answer: now + total,
        }
    }
}

/// What a canary verdict was made from: enough to explain a failed rollout later.
pub(super) fn canary_inputs(
    state: &AppState,
    gate: &CanaryGate,
    request: Value,
    started: Instant,
) -> Value {
    let metrics: Vec<Value> = gate
        .profile
        .metrics
        .iter()
        .map(|m| {
            let queries: Vec<&str> = match &m.measure {
                CanaryMeasure::PrometheusEvents {
                    counted_query,
                    total,
                    ..
                } => vec![counted_query.as_str(), total.as_str()],
                CanaryMeasure::PrometheusValues { query } => vec![query.as_str()],
                CanaryMeasure::TraceLatency { .. } | CanaryMeasure::TraceErrors { .. } => vec![],
            };
            json!({"name": m.name, "queries": queries, "critical": m.critical, "weight": m.weight})
        })
        .collect();
    json!({
        "request": request,
        "window": {"start": gate.request.start, "end": gate.request.end},
        "version_label": gate.profile.version_label,
        "baseline": gate.request.baseline,
        "canary": gate.request.canary,
        "thresholds": {"pass": gate.profile.pass_score, "marginal": gate.profile.marginal_score},
        "confidence": state.settings.gate.confidence,
        "metrics": metrics,
        "definitions": gate.service.origin.file.display().to_string(),
        "prometheus": state.source.url(),
        "elapsed_ms": started.elapsed().as_millis() as u64,
    })
}

/// The verdict when the evaluation did not finish within the request deadline.
pub(super) fn past_deadline(
    state: &AppState,
    kind: VerdictKind,
    service: &str,
    start: i64,
    end: i64,
) -> Verdict {
    metrics::counter!(names::ERRORS, "kind" => "prometheus").increment(1);
    let deadline = state.settings.request_deadline.as_secs_f64();
    let reason = format!(
        "the evaluation did not finish within the gate's deadline of {deadline}s \
         (Prometheus at {} is slow or unreachable); no evidence, so no pass",
        state.source.url()
    );
    let time = |t: i64| rfc3339(Utc.timestamp_opt(t, 0).single().unwrap_or_default());
    Verdict {
        id: new_id(),
        kind,
        verdict: Outcome::Inconclusive,
        score: 0.0,
        summary: format!("{service}: inconclusive: {reason}"),
        service: service.to_string(),
        window: Window {
            start: time(start),
            end: time(end),
        },
        checks: vec![Check {
            name: "deadline".to_string(),
            source: "prometheus".to_string(),
            verdict: Outcome::Inconclusive,
            classification: "nodata".to_string(),
            baseline: None,
            canary: None,
            effect: None,
            interval: None,
            p_value: None,
            threshold: format!("answer within {deadline}s"),
            reason,
            sequential: None,
        }],
        evaluated_at: rfc3339(Utc::now()),
    }
}

/// What a verdict is about, for its notifications.
pub(super) struct About {
    /// The service's team (routes match on it).
    pub(super) team: Option<String>,
    /// The rollout judged: the subject whose changes are notified.
    pub(super) rollout: Rollout,
    /// The SLO gate's numbers for the messages (empty for a canary).
    pub(super) slos: Vec<SloNumbers>,
    /// Whether the verdict is about the present: an SLO gate asked about a time more than
    /// [`PAST`] ago is a look back, recorded and answered but not notified (it would page
    /// about an old state, and move what the subject was last told).
    pub(super) present: bool,
}

/// How far back an SLO gate's `at` may be and still count as now (clock skew, a retried ask).
const PAST: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Writes the verdict to the history before it is answered, then queues the notifications it
/// calls for, both by `deadline`. A verdict that could not be written (or not in time) is
/// answered all the same, but never as `pass`: a pass nobody can look up later is downgraded
/// to `inconclusive`, with the reason. A write cut off by the deadline may still land later,
/// holding the verdict as judged; notifications not queued by then are queued in the
/// background.
pub(super) async fn record(
    state: &AppState,
    verdict: Verdict,
    inputs: Value,
    about: About,
    deadline: tokio::time::Instant,
) -> Verdict {
    let store = state.store.clone();
    let record = VerdictRecord {
        verdict: verdict.clone(),
        inputs,
        recorded_at: Utc::now(),
    };
    let writing = tokio::task::spawn_blocking(move || store.record(&record));
    let failure = match tokio::time::timeout_at(deadline, writing).await {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(e))) => Some(e.to_string()),
        Ok(Err(e)) => Some(format!("the history writer stopped: {e}")),
        Err(_) => Some(
            "the write did not finish within the gate's deadline (the database is locked or \
             slow)"
                .to_string(),
        ),
    };
    let verdict = match failure {
        None => {
            metrics::counter!(names::HISTORY_WRITES, "result" => "ok").increment(1);
            verdict
        }
        Some(why) => {
            metrics::counter!(names::HISTORY_WRITES, "result" => "error").increment(1);
            metrics::counter!(names::ERRORS, "kind" => "store").increment(1);
            tracing::error!(verdict_id = %verdict.id, service = %verdict.service,
                outcome = %verdict.verdict, error = %why, "verdict not written to the history");
            unrecorded(verdict, &why)
        }
    };
    let kind = match verdict.kind {
        VerdictKind::Canary => "canary",
        VerdictKind::Slo => "slo",
    };
    metrics::counter!(names::VERDICTS, "kind" => kind, "verdict" => verdict.verdict.to_string())
        .increment(1);
    tracing::info!(verdict_id = %verdict.id, service = %verdict.service, kind,
        outcome = %verdict.verdict, summary = %verdict.summary, "verdict");
    if about.present {
        let queued = notify(state.clone(), verdict.clone(), about);
        if tokio::time::timeout_at(deadline, queued).await.is_err() {
            tracing::warn!(verdict_id = %verdict.id, service = %verdict.service,
                "the verdict's notifications were not queued by the gate's deadline; answered \
                 first, they are queued in the background");
        }
    } else {
        tracing::info!(verdict_id = %verdict.id, service = %verdict.service,
            "a look at the past: recorded, not notified");
    }
    verdict
}

/// Queues what the verdict's change of outcome calls for. Any failure is logged and counted;
/// the verdict is answered as it is.
async fn notify(state: AppState, verdict: Verdict, about: About) {
    let judged = Judged {
        verdict: verdict.clone(),
        team: about.team,
        rollout: about.rollout,
        slos: about.slos,
    };
    let notifier = state.notifier.clone();
    let told = tokio::task::spawn_blocking(move || notifier.notify(&judged, Utc::now())).await;
    let failure = match told {
        Ok(Ok(_)) => return,
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("the notifier stopped: {e}"),
    };
    metrics::counter!(names::ERRORS, "kind" => "notify").increment(1);
    tracing::error!(verdict_id = %verdict.id, service = %verdict.service, error = %failure,
        "the verdict's notifications could not be queued");
}

fn unrecorded(mut verdict: Verdict, why: &str) -> Verdict {
    if verdict.verdict == Outcome::Pass {
        verdict.verdict = Outcome::Inconclusive;
    }
    verdict.summary = format!(
        "{} (not written to the history: {why}; a pass that cannot be looked up later is \
         answered as inconclusive)",
        verdict.summary
    );
    verdict
}
